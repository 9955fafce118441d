// Spans to canonical events: the GenAI semantic conventions (current and 1.36-and-earlier names),
// OpenInference and OpenLLMetry read in one place. docs/OTLP.md has the table of every attribute read.
import type { RejectReason } from '../../errors.js';
import type { CanonicalEventInput } from '../../events/schema.js';
import { valueKind, type AnyValue, type ExportTraceServiceRequest, type KeyValue, type Long, type Span } from './proto.js';

/** Every attribute the mapping reads, by what it gives; first name present wins. */
export const ATTR = {
  operation: ['gen_ai.operation.name'],
  openinferenceKind: ['openinference.span.kind'],
  traceloopKind: ['traceloop.span.kind'],
  workflowName: ['gen_ai.workflow.name', 'traceloop.workflow.name'],
  agentName: ['gen_ai.agent.name', 'agent.name'],
  entityName: ['traceloop.entity.name'],
  toolName: ['gen_ai.tool.name', 'tool.name'],
  // the model that answered before the one asked for
  model: ['gen_ai.response.model', 'gen_ai.request.model', 'llm.model_name'],
  provider: ['gen_ai.provider.name', 'gen_ai.system', 'llm.provider', 'llm.system'],
  inputTokens: ['gen_ai.usage.input_tokens', 'gen_ai.usage.prompt_tokens', 'llm.token_count.prompt'],
  outputTokens: ['gen_ai.usage.output_tokens', 'gen_ai.usage.completion_tokens', 'llm.token_count.completion'],
  errorType: ['error.type'],
  serviceName: ['service.name'],
} as const;

const WORKFLOW_OPS = new Set(['invoke_workflow']);
const AGENT_OPS = new Set(['invoke_agent']);
const TOOL_OPS = new Set(['execute_tool']);
const MODEL_OPS = new Set(['chat', 'text_completion', 'generate_content', 'embeddings']);

/**
 * Attributes that carry prompts, completions, tool arguments and results: never copied to the
 * tail (they are large and often personal data). Prefixes.
 */
const CONTENT_ATTRS = [
  'gen_ai.input.messages',
  'gen_ai.output.messages',
  'gen_ai.system_instructions',
  'gen_ai.prompt',
  'gen_ai.completion',
  'gen_ai.tool.call.arguments',
  'gen_ai.tool.call.result',
  'gen_ai.tool.definitions',
  'gen_ai.retrieval.',
  'input.value',
  'output.value',
  'llm.input_messages',
  'llm.output_messages',
  'llm.prompts',
  'llm.invocation_parameters',
  'llm.tools',
  'retrieval.documents',
  'traceloop.entity.input',
  'traceloop.entity.output',
];

export const SPAN_KINDS = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'] as const;
const STATUS_ERROR = 2;
export const UNKNOWN = 'unknown';

/** What a span is to the workflow model. */
export type SpanRole = 'workflow' | 'agent' | 'tool' | 'model' | 'task' | 'other';

export interface Price {
  /** US dollars per million input (prompt) tokens */
  inputPerMillion: number;
  /** US dollars per million output (completion) tokens */
  outputPerMillion: number;
}

export interface MappingOptions {
  /** model name (or prefix, longest wins) to price */
  prices: Record<string, Price>;
  /** token counts above this on one span are refused as absurd */
  maxTokensPerSpan: number;
  /** traces remembered for run starts and workflow types across requests */
  traceCacheSize: number;
  /** copy each span's attributes (without prompts and completions) into attributes.span for the tail */
  spanAttributes?: boolean;
}

export const DEFAULT_MAX_TOKENS_PER_SPAN = 10_000_000; // ten times the largest context windows offered today
export const DEFAULT_TRACE_CACHE = 100_000; // ~100 B a trace: 10 MB for traces whose spans span several exports

type Attr = string | number | boolean | readonly (string | number | boolean)[];
type Attrs = Map<string, Attr>;

/** One decoded span with what the mapping needs, ids as hex. */
export interface FlatSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  startMs: number;
  endMs: number;
  durationMs: number;
  attrs: Attrs;
  error: boolean;
  statusMessage: string;
  service: string;
  scope: string;
  /** index of the span in the request (rejections name it) */
  index: number;
}

export interface SpanRejection {
  reason: RejectReason;
  message: string;
  span: { trace_id: string; span_id: string; name: string };
}

export interface MappedRequest {
  spans: number;
  /** canonical event candidates, ordered by time (a start before its end) */
  events: CanonicalEventInput[];
  rejected: SpanRejection[];
  /** events per role, for the tests and the debug log */
  roles: Record<SpanRole, number>;
}

interface TraceState {
  /** the run start was emitted */
  started: boolean;
  /** the run ended: late spans of the trace never reopen it */
  closed: boolean;
  /** an invoke_workflow / workflow span was seen: the root is then not the workflow */
  explicit: boolean;
  /** a span other than `other` was seen: a plain root span then ends a run */
  mapped: boolean;
  workflowType?: string;
}

const toHex = (b: Uint8Array | undefined): string => (b && b.length > 0 ? Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex') : '');
const isZero = (s: string) => /^0*$/.test(s);

function longToNumber(v: Long | undefined): number {
  if (v === undefined || v === null) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

/**
 * Epoch nanoseconds to milliseconds. A double holds 1.7e18 only to 256 ns, so 10:00:00.050 would
 * read 10:00:00.0499998: the whole milliseconds are divided out exactly first.
 */
function nanosToMs(v: Long | undefined): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number') return v / 1e6;
  return v.divide(1_000_000).toNumber() + v.modulo(1_000_000).toNumber() / 1e6;
}

/** end - start in ms, exact to the nanosecond before the division (both are ~1.7e18 ns) */
function durationMs(start: Long, end: Long): number {
  if (typeof start === 'number' || typeof end === 'number') return (longToNumber(end) - longToNumber(start)) / 1e6;
  // fixed64 decodes unsigned: signed first, or an end before its start would wrap to 584 years
  return end.toSigned().subtract(start.toSigned()).toNumber() / 1e6;
}

function scalar(v: AnyValue | undefined): Attr | undefined {
  if (!v) return undefined;
  switch (valueKind(v)) {
    case 'stringValue':
      return v.stringValue;
    case 'boolValue':
      return v.boolValue;
    case 'intValue':
      return longToNumber(v.intValue);
    case 'doubleValue':
      return v.doubleValue;
    case 'arrayValue': {
      const out: (string | number | boolean)[] = [];
      for (const x of v.arrayValue?.values ?? []) {
        const s = scalar(x);
        if (s !== undefined && !Array.isArray(s)) out.push(s as string | number | boolean);
      }
      return out;
    }
    default:
      return undefined; // kvlist and bytes values: nothing the mapping reads
  }
}

function attrMap(kvs: KeyValue[] | undefined): Attrs {
  const m: Attrs = new Map();
  if (kvs) for (const kv of kvs) {
    const v = scalar(kv.value);
    if (v !== undefined) m.set(kv.key, v);
  }
  return m;
}

function first(attrs: Attrs, names: readonly string[]): Attr | undefined {
  for (const n of names) {
    const v = attrs.get(n);
    if (v !== undefined && v !== '') return v;
  }
  return undefined;
}

function str(attrs: Attrs, names: readonly string[]): string | undefined {
  const v = first(attrs, names);
  if (v === undefined || Array.isArray(v)) return undefined;
  return String(v);
}

/** A token count: a non-negative integer (numbers or digit strings); undefined when absent, NaN when unusable. */
function tokens(attrs: Attrs, names: readonly string[]): number | undefined {
  const v = first(attrs, names);
  if (v === undefined) return undefined;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
  return Number.isInteger(n) && n >= 0 ? n : NaN;
}

/** Label-bound names are cut to the canonical schema's limit, so a long span name is never a rejection. */
const MAX_NAME = 256;
const cut = (s: string) => (s.length > MAX_NAME ? s.slice(0, MAX_NAME) : s);

export function roleOf(s: FlatSpan): SpanRole {
  const op = str(s.attrs, ATTR.operation);
  const oi = str(s.attrs, ATTR.openinferenceKind)?.toUpperCase();
  const tl = str(s.attrs, ATTR.traceloopKind)?.toLowerCase();
  if ((op && WORKFLOW_OPS.has(op)) || tl === 'workflow') return 'workflow';
  if ((op && AGENT_OPS.has(op)) || oi === 'AGENT' || tl === 'agent') return 'agent';
  if ((op && TOOL_OPS.has(op)) || oi === 'TOOL' || tl === 'tool') return 'tool';
  if ((op && MODEL_OPS.has(op)) || oi === 'LLM' || oi === 'EMBEDDING') return 'model';
  if (tl === 'task') return 'task';
  // OpenInference marks the outermost step of a LangChain / LlamaIndex run as a CHAIN
  if (oi === 'CHAIN' && s.parentSpanId === '') return 'workflow';
  // a model call by an instrumentation that names no operation (OpenLLMetry's older releases)
  if (first(s.attrs, ATTR.inputTokens) !== undefined || first(s.attrs, ATTR.outputTokens) !== undefined) return 'model';
  return 'other';
}

/** The tail's copy of a span's attributes: scalars and arrays, without prompts and completions. */
function tailAttributes(attrs: Attrs): Record<string, Attr> {
  const out: Record<string, Attr> = {};
  for (const [k, v] of attrs) {
    if (CONTENT_ATTRS.some((p) => k.startsWith(p))) continue;
    out[k] = v;
  }
  return out;
}

export class SpanMapper {
  private readonly traces = new Map<string, TraceState>();
  private readonly priceKeys: string[];

  constructor(private readonly opts: MappingOptions) {
    // longest first: gpt-4o-mini before gpt-4o for gpt-4o-mini-2024-07-18
    this.priceKeys = Object.keys(opts.prices).sort((a, b) => b.length - a.length);
  }

  /** Traces remembered (bounded by traceCacheSize). */
  get tracesHeld(): number {
    return this.traces.size;
  }

  /** The decoded request as flat spans, and the spans refused on their own merits. */
  flatten(req: ExportTraceServiceRequest): { spans: FlatSpan[]; rejected: SpanRejection[]; total: number } {
    const spans: FlatSpan[] = [];
    const rejected: SpanRejection[] = [];
    let index = 0;
    for (const rs of req.resourceSpans ?? []) {
      const resource = attrMap(rs.resource?.attributes);
      const service = cut(str(resource, ATTR.serviceName) ?? 'unknown_service');
      for (const ss of rs.scopeSpans ?? []) {
        const scope = ss.scope?.name ?? '';
        for (const sp of ss.spans ?? []) {
          const i = index++;
          const f = this.flat(sp, service, scope, i);
          if ('reason' in f) rejected.push(f);
          else spans.push(f);
        }
      }
    }
    return { spans, rejected, total: index };
  }

  private flat(sp: Span, service: string, scope: string, index: number): FlatSpan | SpanRejection {
    const traceId = toHex(sp.traceId);
    const spanId = toHex(sp.spanId);
    const name = sp.name ?? '';
    const reject = (reason: RejectReason, message: string): SpanRejection => ({ reason, message, span: { trace_id: traceId, span_id: spanId, name: name.slice(0, 128) } });
    if (traceId.length !== 32 || isZero(traceId)) return reject('invalid_event', `span ${index}: trace_id must be 16 bytes, not all zero`);
    if (spanId.length !== 16 || isZero(spanId)) return reject('invalid_event', `span ${index}: span_id must be 8 bytes, not all zero`);
    const startMs = nanosToMs(sp.startTimeUnixNano);
    const endMs = nanosToMs(sp.endTimeUnixNano);
    if (!(startMs > 0)) return reject('invalid_timestamp', `span ${index}: start_time_unix_nano is missing`);
    if (!(endMs > 0)) return reject('invalid_timestamp', `span ${index}: end_time_unix_nano is missing (spans are exported when they end)`);
    const d = durationMs(sp.startTimeUnixNano, sp.endTimeUnixNano);
    if (d < 0) return reject('invalid_duration', `span ${index}: end_time_unix_nano is before start_time_unix_nano`);
    const attrs = attrMap(sp.attributes);
    for (const [what, names] of [
      ['input', ATTR.inputTokens],
      ['output', ATTR.outputTokens],
    ] as const) {
      const t = tokens(attrs, names);
      if (t === undefined) continue;
      if (t !== t) return reject('invalid_event', `span ${index}: ${what} token count ${JSON.stringify(first(attrs, names))} is not a non-negative integer`);
      if (t > this.opts.maxTokensPerSpan) return reject('invalid_event', `span ${index}: ${what} token count ${t} exceeds ${this.opts.maxTokensPerSpan}`);
    }
    return {
      traceId,
      spanId,
      parentSpanId: toHex(sp.parentSpanId),
      name,
      kind: sp.kind ?? 0,
      startMs,
      endMs,
      durationMs: d,
      attrs,
      error: sp.status?.code === STATUS_ERROR || attrs.has('error.type'),
      statusMessage: sp.status?.message ?? '',
      service,
      scope,
      index,
    };
  }

  private trace(id: string): TraceState {
    let t = this.traces.get(id);
    if (t) {
      // most recently used last, so the oldest trace is the first key
      this.traces.delete(id);
      this.traces.set(id, t);
      return t;
    }
    t = { started: false, closed: false, explicit: false, mapped: false };
    this.traces.set(id, t);
    if (this.traces.size > this.opts.traceCacheSize) this.traces.delete(this.traces.keys().next().value!);
    return t;
  }

  cost(model: string | undefined, tin: number | undefined, tout: number | undefined): number | undefined {
    if (model === undefined || (tin === undefined && tout === undefined)) return undefined;
    let p = this.opts.prices[model];
    if (!p) {
      const k = this.priceKeys.find((key) => model.startsWith(key));
      if (k === undefined) return undefined;
      p = this.opts.prices[k];
    }
    return ((tin ?? 0) * p.inputPerMillion + (tout ?? 0) * p.outputPerMillion) / 1e6;
  }

  map(req: ExportTraceServiceRequest): MappedRequest {
    const { spans, rejected, total } = this.flatten(req);
    const roles: Record<SpanRole, number> = { workflow: 0, agent: 0, tool: 0, model: 0, task: 0, other: 0 };
    const byKey = new Map<string, FlatSpan>();
    for (const s of spans) byKey.set(`${s.traceId}${s.spanId}`, s);
    const role = new Map<FlatSpan, SpanRole>();
    for (const s of spans) role.set(s, roleOf(s));

    // per trace of this request: what it holds, before deciding which span is the run
    const inRequest = new Map<string, { spans: FlatSpan[]; explicit: boolean; mapped: boolean; name?: string; firstStart: number }>();
    for (const s of spans) {
      let t = inRequest.get(s.traceId);
      if (!t) inRequest.set(s.traceId, (t = { spans: [], explicit: false, mapped: false, firstStart: Infinity }));
      t.spans.push(s);
      const r = role.get(s)!;
      if (r === 'workflow') t.explicit = true;
      if (r !== 'other') t.mapped = true;
      t.name ??= str(s.attrs, ATTR.workflowName);
      if (s.startMs < t.firstStart) t.firstStart = s.startMs;
    }

    const events: { e: CanonicalEventInput; t: number; end: number }[] = [];
    const push = (e: CanonicalEventInput, t: number, end: number) => {
      // absent, not undefined: the canonical schema has optional fields, not nullable ones
      const o = e as Record<string, unknown>;
      for (const k in o) if (o[k] === undefined) delete o[k];
      events.push({ e, t, end });
    };

    for (const [traceId, tr] of inRequest) {
      const state = this.trace(traceId);
      state.explicit ||= tr.explicit;
      state.mapped ||= tr.mapped;
      // the span that is the run: the outermost workflow span, else the root of an agentic trace
      let run: FlatSpan | undefined;
      for (const s of tr.spans) {
        const r = role.get(s)!;
        const candidate = r === 'workflow' ? !this.hasWorkflowAncestor(s, byKey, role) : s.parentSpanId === '' && !state.explicit && state.mapped;
        if (candidate && (!run || s.startMs < run.startMs)) run = s;
      }
      // nested workflow spans (a workflow inside the run) are steps of it
      for (const s of tr.spans) if (role.get(s) === 'workflow' && s !== run) role.set(s, 'task');
      if (run) state.workflowType ??= cut(str(run.attrs, ATTR.workflowName) ?? workflowNameOf(run));
      if (tr.name !== undefined) state.workflowType ??= cut(tr.name);
      const wf = { id: traceId, type: state.workflowType ?? UNKNOWN };

      if (!state.started && !state.closed && (run || tr.mapped)) {
        // a run opens at its workflow span's start; without it (a run still going) at its first span seen
        const source = (run ?? tr.spans[0]).service;
        const t = run ? run.startMs : tr.firstStart;
        push({ id: `${traceId}:run.started`, type: 'workflow.started', time: t, source, workflow: wf, attributes: { trace_id: traceId, span_id: run?.spanId ?? '' } }, t, 0);
        state.started = true;
      }

      for (const s of tr.spans) {
        const r = s === run ? 'workflow' : role.get(s)!;
        roles[r]++;
        const base = {
          source: s.service,
          workflow: wf,
          duration_ms: s.durationMs,
          attributes: {
            trace_id: s.traceId,
            span_id: s.spanId,
            parent_span_id: s.parentSpanId,
            span_name: s.name,
            span_kind: SPAN_KINDS[s.kind] ?? UNKNOWN,
            scope: s.scope,
            ...(s.statusMessage ? { status_message: s.statusMessage } : {}),
            ...(this.opts.spanAttributes ? { span: tailAttributes(s.attrs) } : {}),
          },
        };
        // a start event carries the ids alone: the end event has the rest (and each attribute costs
        // validation, the tail's copy and its JSON, per event)
        const startAttrs = { trace_id: s.traceId, span_id: s.spanId };
        const id = `${s.traceId}:${s.spanId}`;
        const outcome = s.error ? 'failed' : 'completed';
        if (s === run) {
          if (!state.closed) push({ ...base, id: `${id}:workflow.${outcome}`, type: `workflow.${outcome}`, time: s.endMs }, s.endMs, 1);
          state.closed = true;
          // a root that is also an agent, tool or model call counts as that too
          const own = role.get(s)!;
          if (own === 'workflow' || own === 'other') continue;
        }
        const agent = this.agentOf(s, byKey, role);
        switch (role.get(s)!) {
          case 'agent': {
            const name = cut(str(s.attrs, ATTR.agentName) ?? str(s.attrs, ATTR.entityName) ?? agentNameOf(s));
            const task = { id: s.spanId, name };
            push({ ...base, duration_ms: undefined, attributes: startAttrs, id: `${id}:task.started`, type: 'task.started', time: s.startMs, agent: name, task }, s.startMs, 0);
            push({ ...base, id: `${id}:task.${outcome}`, type: `task.${outcome}`, time: s.endMs, agent: name, task }, s.endMs, 1);
            break;
          }
          case 'task': {
            const stage = cut(str(s.attrs, ATTR.entityName) ?? str(s.attrs, ATTR.workflowName) ?? s.name);
            push({ ...base, duration_ms: undefined, attributes: startAttrs, id: `${id}:stage.started`, type: 'stage.started', time: s.startMs, stage, agent }, s.startMs, 0);
            push({ ...base, id: `${id}:stage.${outcome}`, type: `stage.${outcome}`, time: s.endMs, stage, agent }, s.endMs, 1);
            break;
          }
          case 'tool': {
            const tool = cut(str(s.attrs, ATTR.toolName) ?? str(s.attrs, ATTR.entityName) ?? toolNameOf(s));
            const type = s.error ? 'tool.failed' : 'tool.called';
            push({ ...base, id: `${id}:${type}`, type, time: s.endMs, tool, agent }, s.endMs, 1);
            break;
          }
          case 'model': {
            const model = str(s.attrs, ATTR.model);
            const tin = tokens(s.attrs, ATTR.inputTokens);
            const tout = tokens(s.attrs, ATTR.outputTokens);
            const type = s.error ? 'agent.error' : 'agent.response';
            const provider = str(s.attrs, ATTR.provider);
            const errorType = str(s.attrs, ATTR.errorType);
            push(
              {
                ...base,
                attributes: { ...base.attributes, operation: str(s.attrs, ATTR.operation) ?? 'chat', ...(provider ? { provider } : {}), ...(errorType ? { error_type: errorType } : {}) },
                id: `${id}:${type}`,
                type,
                time: s.endMs,
                agent,
                model: model === undefined ? undefined : cut(model),
                tokens_in: tin,
                tokens_out: tout,
                cost_usd: this.cost(model, tin, tout),
              },
              s.endMs,
              1,
            );
            break;
          }
          default: {
            const type = `span.${SPAN_KINDS[s.kind] ?? UNKNOWN}`;
            push({ ...base, id: `${id}:${type}`, type, time: s.endMs, agent }, s.endMs, 1);
          }
        }
      }
    }
    // by time, a start before an end at the same instant: the lifecycle sees starts first and the tail reads in order
    events.sort((a, b) => a.t - b.t || a.end - b.end);
    return { spans: total, events: events.map((x) => x.e), rejected, roles };
  }

  private hasWorkflowAncestor(s: FlatSpan, byKey: Map<string, FlatSpan>, role: Map<FlatSpan, SpanRole>): boolean {
    let p = byKey.get(`${s.traceId}${s.parentSpanId}`);
    for (let depth = 0; p && depth < 64; depth++) {
      if (role.get(p) === 'workflow') return true;
      p = byKey.get(`${p.traceId}${p.parentSpanId}`);
    }
    return false;
  }

  /** The span's own agent name, else that of the nearest agent span above it in the same request. */
  private agentOf(s: FlatSpan, byKey: Map<string, FlatSpan>, role: Map<FlatSpan, SpanRole>): string | undefined {
    const own = str(s.attrs, ATTR.agentName);
    if (own !== undefined) return cut(own);
    let p = byKey.get(`${s.traceId}${s.parentSpanId}`);
    for (let depth = 0; p && depth < 64; depth++) {
      if (role.get(p) === 'agent') return cut(str(p.attrs, ATTR.agentName) ?? str(p.attrs, ATTR.entityName) ?? agentNameOf(p));
      const named = str(p.attrs, ATTR.agentName);
      if (named !== undefined) return cut(named);
      p = byKey.get(`${p.traceId}${p.parentSpanId}`);
    }
    return undefined;
  }
}

/** GenAI span names are "<operation> <name>"; OpenLLMetry's are "<name>.<kind>". */
function nameAfter(s: FlatSpan, op: string, suffix: string): string {
  if (s.name.startsWith(`${op} `)) return s.name.slice(op.length + 1);
  if (s.name.endsWith(suffix)) return s.name.slice(0, -suffix.length);
  return s.name || UNKNOWN;
}
const workflowNameOf = (s: FlatSpan) => nameAfter(s, 'invoke_workflow', '.workflow');
const agentNameOf = (s: FlatSpan) => nameAfter(s, 'invoke_agent', '.agent');
const toolNameOf = (s: FlatSpan) => nameAfter(s, 'execute_tool', '.tool');
