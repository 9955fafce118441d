// Spans to canonical events: the GenAI semantic conventions (current and 1.36-and-earlier names),
// OpenInference and OpenLLMetry read in one place. docs/OTLP.md has the table of every attribute read.
import type { RejectReason } from '../../errors.js';
import type { CanonicalEventInput } from '../../events/schema.js';
import { valueKind, type AnyValue, type ExportTraceServiceRequest, type KeyValue, type Long, type LongValue, type Span } from './proto.js';

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
export const DEFAULT_TRACE_CACHE = 100_000; // 191 B of heap a trace measured at full load: 18 MiB for traces whose spans span several exports

type Attr = string | number | boolean | readonly (string | number | boolean)[];

/**
 * Every attribute name the mapping reads has a slot: a span's attributes are read once into an
 * array by slot, and the rest are skipped (or, with spanAttributes, copied for the tail). A Map of
 * every attribute per span and a lookup per name read cost more than decoding the span did.
 */
const READ_NAMES = [...new Set(Object.values(ATTR).flat())];
const SLOT = new Map<string, number>(READ_NAMES.map((n, i) => [n, i]));
const slots = (names: readonly string[]): number[] => names.map((n) => SLOT.get(n)!);
const S = Object.fromEntries(Object.entries(ATTR).map(([k, names]) => [k, slots(names)])) as { [K in keyof typeof ATTR]: number[] };
const ERROR_TYPE = SLOT.get('error.type')!;

/** A span's attributes the mapping reads, by slot (undefined when absent). */
export type SpanAttrs = (Attr | undefined)[];

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
  attrs: SpanAttrs;
  /** every attribute but prompts and completions, only with spanAttributes (the tail's copy) */
  tail?: Record<string, Attr>;
  error: boolean;
  statusMessage: string;
  service: string;
  scope: string;
  /** index of the span in the request (rejections name it) */
  index: number;
  /** set by map(): what the span is, and its parent in the same request */
  role: SpanRole;
  parent?: FlatSpan;
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

function toHex(b: Uint8Array | undefined): string {
  if (!b || b.length === 0) return '';
  return (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength)).toString('hex');
}

/** The last trace id turned into hex: the spans of one trace mostly come one after another. */
interface TraceIdMemo {
  bytes: Uint8Array | undefined;
  hex: string;
}

/** toHex of a trace id, without a new string when it is the same 16 bytes as the span before's. */
function traceHex(b: Uint8Array | undefined, memo: TraceIdMemo): string {
  const last = memo.bytes;
  if (b && last && b.length === last.length) {
    let same = true;
    for (let i = 0; i < b.length && same; i++) same = b[i] === last[i];
    if (same) return memo.hex;
  }
  memo.bytes = b;
  memo.hex = toHex(b);
  return memo.hex;
}

function rejection(sp: Span, traceId: string, spanId: string, reason: RejectReason, message: string): SpanRejection {
  return { reason, message, span: { trace_id: traceId, span_id: spanId, name: (sp.name ?? '').slice(0, 128) } };
}

function allZero(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

function longToNumber(v: Long | undefined): number {
  if (v === undefined || v === null) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

/** The 64-bit value as unsigned high and low halves (long.js keeps them as signed 32-bit ints). */
const hi = (v: LongValue) => v.high >>> 0;
const lo = (v: LongValue) => v.low >>> 0;

/**
 * Epoch nanoseconds to milliseconds. A double holds 1.7e18 only to 256 ns, so 10:00:00.050 would
 * read 10:00:00.0499998: the whole milliseconds are divided out exactly first. 2^32 is
 * 4294 x 10^6 + 967296, so high x 2^32 + low = 10^6 x (4294 high) + (967296 high + low), the last
 * term below 2^53 and so exact; no long.js arithmetic (each of its steps allocates).
 */
function nanosToMs(v: Long | undefined): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number') return v / 1e6;
  const h = hi(v);
  const rest = h * 967_296 + lo(v);
  return h * 4294 + Math.floor(rest / 1e6) + (rest % 1e6) / 1e6;
}

/** end - start in ms, exact to the nanosecond for any duration below 104 days (2^53 ns) */
function durationMs(start: Long, end: Long): number {
  if (typeof start === 'number' || typeof end === 'number') return (longToNumber(end) - longToNumber(start)) / 1e6;
  // fixed64 decodes unsigned: signed halves, or an end before its start would wrap to 584 years
  return ((end.high - start.high) * 4_294_967_296 + (lo(end) - lo(start))) / 1e6;
}

function scalar(v: AnyValue | undefined): Attr | undefined {
  if (!v) return undefined;
  switch (valueKind(v)) {
    case 'stringValue':
      return v.stringValue;
    case 'boolValue':
      return v.boolValue;
    case 'intValue':
      return typeof v.intValue === 'number' ? v.intValue : (v.intValue?.toNumber() ?? 0);
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

const isContent = (key: string) => CONTENT_ATTRS.some((p) => key.startsWith(p));

/** The attributes read, by slot; with `tail`, every other one but prompts and completions goes into it too. */
function readAttrs(kvs: KeyValue[] | undefined, tail?: Record<string, Attr>): SpanAttrs {
  const attrs: SpanAttrs = new Array<Attr | undefined>(READ_NAMES.length);
  if (kvs) {
    for (let i = 0; i < kvs.length; i++) {
      const kv = kvs[i];
      const slot = SLOT.get(kv.key);
      if (slot === undefined && tail === undefined) continue;
      const v = scalar(kv.value);
      if (v === undefined) continue;
      if (slot !== undefined) attrs[slot] = v;
      if (tail !== undefined && !isContent(kv.key)) tail[kv.key] = v;
    }
  }
  return attrs;
}

function first(attrs: SpanAttrs, names: readonly number[]): Attr | undefined {
  for (let i = 0; i < names.length; i++) {
    const v = attrs[names[i]];
    if (v !== undefined && v !== '') return v;
  }
  return undefined;
}

function str(attrs: SpanAttrs, names: readonly number[]): string | undefined {
  const v = first(attrs, names);
  if (v === undefined || Array.isArray(v)) return undefined;
  return typeof v === 'string' ? v : String(v);
}

/** A token count: a non-negative integer (numbers or digit strings); undefined when absent, NaN when unusable. */
function tokens(attrs: SpanAttrs, names: readonly number[]): number | undefined {
  const v = first(attrs, names);
  if (v === undefined) return undefined;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
  return Number.isInteger(n) && n >= 0 ? n : NaN;
}

/** Label-bound names are cut to the canonical schema's limit, so a long span name is never a rejection. */
const MAX_NAME = 256;
const cut = (s: string) => (s.length > MAX_NAME ? s.slice(0, MAX_NAME) : s);

export function roleOf(s: Pick<FlatSpan, 'attrs' | 'parentSpanId'>): SpanRole {
  const op = str(s.attrs, S.operation);
  const oi = str(s.attrs, S.openinferenceKind)?.toUpperCase();
  const tl = str(s.attrs, S.traceloopKind)?.toLowerCase();
  if ((op && WORKFLOW_OPS.has(op)) || tl === 'workflow') return 'workflow';
  if ((op && AGENT_OPS.has(op)) || oi === 'AGENT' || tl === 'agent') return 'agent';
  if ((op && TOOL_OPS.has(op)) || oi === 'TOOL' || tl === 'tool') return 'tool';
  if ((op && MODEL_OPS.has(op)) || oi === 'LLM' || oi === 'EMBEDDING') return 'model';
  if (tl === 'task') return 'task';
  // OpenInference marks the outermost step of a LangChain / LlamaIndex run as a CHAIN
  if (oi === 'CHAIN' && s.parentSpanId === '') return 'workflow';
  // a model call by an instrumentation that names no operation (OpenLLMetry's older releases)
  if (first(s.attrs, S.inputTokens) !== undefined || first(s.attrs, S.outputTokens) !== undefined) return 'model';
  return 'other';
}

/** The spans of one trace in one request. */
interface TraceGroup {
  spans: FlatSpan[];
  bySpan: Map<string, FlatSpan>;
  explicit: boolean;
  mapped: boolean;
  name?: string;
  firstStart: number;
}

/** Events as built, with their sort keys beside them (no wrapper object per event). */
class EventList {
  readonly events: CanonicalEventInput[] = [];
  readonly times: number[] = [];
  /** 0 for a start, 1 for an end: a start sorts first at the same instant */
  readonly ends: number[] = [];
  push(e: CanonicalEventInput, t: number, end: 0 | 1): void {
    this.events.push(e);
    this.times.push(t);
    this.ends.push(end);
  }
  /** by time, a start before an end at the same instant: the lifecycle sees starts first and the tail reads in order */
  sorted(): CanonicalEventInput[] {
    const { events, times, ends } = this;
    let ordered = true;
    for (let i = 1; i < events.length && ordered; i++) ordered = times[i - 1] < times[i] || (times[i - 1] === times[i] && ends[i - 1] <= ends[i]);
    if (ordered) return events;
    const idx = Array.from({ length: events.length }, (_, i) => i);
    idx.sort((a, b) => times[a] - times[b] || ends[a] - ends[b] || a - b);
    return idx.map((i) => events[i]);
  }
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
    const ids: TraceIdMemo = { bytes: undefined, hex: '' };
    let index = 0;
    for (const rs of req.resourceSpans ?? []) {
      const resource = readAttrs(rs.resource?.attributes);
      const service = cut(str(resource, S.serviceName) ?? 'unknown_service');
      for (const ss of rs.scopeSpans ?? []) {
        const scope = ss.scope?.name ?? '';
        const list = ss.spans ?? [];
        for (let k = 0; k < list.length; k++) {
          const i = index++;
          const f = this.flat(list[k], service, scope, i, ids);
          if ('reason' in f) rejected.push(f);
          else spans.push(f);
        }
      }
    }
    return { spans, rejected, total: index };
  }

  private flat(sp: Span, service: string, scope: string, index: number, ids: TraceIdMemo): FlatSpan | SpanRejection {
    const traceId = traceHex(sp.traceId, ids);
    const spanId = toHex(sp.spanId);
    const name = sp.name ?? '';
    if (traceId.length !== 32 || allZero(sp.traceId)) return rejection(sp, traceId, spanId, 'invalid_event', `span ${index}: trace_id must be 16 bytes, not all zero`);
    if (spanId.length !== 16 || allZero(sp.spanId)) return rejection(sp, traceId, spanId, 'invalid_event', `span ${index}: span_id must be 8 bytes, not all zero`);
    const startMs = nanosToMs(sp.startTimeUnixNano);
    const endMs = nanosToMs(sp.endTimeUnixNano);
    if (!(startMs > 0)) return rejection(sp, traceId, spanId, 'invalid_timestamp', `span ${index}: start_time_unix_nano is missing`);
    if (!(endMs > 0)) return rejection(sp, traceId, spanId, 'invalid_timestamp', `span ${index}: end_time_unix_nano is missing (spans are exported when they end)`);
    const d = durationMs(sp.startTimeUnixNano, sp.endTimeUnixNano);
    if (d < 0) return rejection(sp, traceId, spanId, 'invalid_duration', `span ${index}: end_time_unix_nano is before start_time_unix_nano`);
    const tail: Record<string, Attr> | undefined = this.opts.spanAttributes === true ? {} : undefined;
    const attrs = readAttrs(sp.attributes, tail);
    for (let w = 0; w < 2; w++) {
      const names = w === 0 ? S.inputTokens : S.outputTokens;
      const t = tokens(attrs, names);
      if (t === undefined) continue;
      const what = w === 0 ? 'input' : 'output';
      if (t !== t) return rejection(sp, traceId, spanId, 'invalid_event', `span ${index}: ${what} token count ${JSON.stringify(first(attrs, names))} is not a non-negative integer`);
      if (t > this.opts.maxTokensPerSpan) return rejection(sp, traceId, spanId, 'invalid_event', `span ${index}: ${what} token count ${t} exceeds ${this.opts.maxTokensPerSpan}`);
    }
    const parentSpanId = toHex(sp.parentSpanId);
    const f: FlatSpan = {
      traceId,
      spanId,
      parentSpanId,
      name,
      kind: sp.kind ?? 0,
      startMs,
      endMs,
      durationMs: d,
      attrs,
      tail,
      error: sp.status?.code === STATUS_ERROR || attrs[ERROR_TYPE] !== undefined,
      statusMessage: sp.status?.message ?? '',
      service,
      scope,
      index,
      role: 'other',
      parent: undefined,
    };
    f.role = roleOf(f);
    return f;
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

    // per trace of this request: what it holds, before deciding which span is the run
    const inRequest = new Map<string, TraceGroup>();
    for (const s of spans) {
      let t = inRequest.get(s.traceId);
      if (!t) inRequest.set(s.traceId, (t = { spans: [], bySpan: new Map(), explicit: false, mapped: false, firstStart: Infinity }));
      t.spans.push(s);
      t.bySpan.set(s.spanId, s);
      if (s.role === 'workflow') t.explicit = true;
      if (s.role !== 'other') t.mapped = true;
      t.name ??= str(s.attrs, S.workflowName);
      if (s.startMs < t.firstStart) t.firstStart = s.startMs;
    }

    const out = new EventList();
    for (const [traceId, tr] of inRequest) {
      for (const s of tr.spans) if (s.parentSpanId !== '') s.parent = tr.bySpan.get(s.parentSpanId);
      const state = this.trace(traceId);
      state.explicit ||= tr.explicit;
      state.mapped ||= tr.mapped;
      // the span that is the run: the outermost workflow span, else the root of an agentic trace
      let run: FlatSpan | undefined;
      for (const s of tr.spans) {
        const candidate = s.role === 'workflow' ? !hasWorkflowAncestor(s) : s.parentSpanId === '' && !state.explicit && state.mapped;
        if (candidate && (!run || s.startMs < run.startMs)) run = s;
      }
      // nested workflow spans (a workflow inside the run) are steps of it: decided for every
      // span before any is changed, as a span's ancestors are read by the test above
      for (const s of tr.spans) if (s.role === 'workflow' && s !== run) s.role = 'task';
      if (run) state.workflowType ??= cut(str(run.attrs, S.workflowName) ?? workflowNameOf(run));
      if (tr.name !== undefined) state.workflowType ??= cut(tr.name);
      const wf = { id: traceId, type: state.workflowType ?? UNKNOWN };

      if (!state.started && !state.closed && (run || tr.mapped)) {
        // a run opens at its workflow span's start; without it (a run still going) at its first span seen
        const source = (run ?? tr.spans[0]).service;
        const t = run ? run.startMs : tr.firstStart;
        out.push({ id: `${traceId}:run.started`, type: 'workflow.started', time: t, source, workflow: wf, attributes: { trace_id: traceId, span_id: run?.spanId ?? '' } }, t, 0);
        state.started = true;
      }

      for (const s of tr.spans) this.spanEvents(s, s === run, state, wf, roles, out);
    }
    return { spans: total, events: out.sorted(), rejected, roles };
  }

  /** The events of one span; every object is built with only the fields it has (no undefined to delete). */
  private spanEvents(s: FlatSpan, isRun: boolean, state: TraceState, wf: { id: string; type: string }, roles: Record<SpanRole, number>, out: EventList): void {
    roles[isRun ? 'workflow' : s.role]++;
    const id = `${s.traceId}:${s.spanId}`;
    const outcome = s.error ? 'failed' : 'completed';
    const end = (type: string, attributes: Record<string, unknown>): CanonicalEventInput => ({ id: `${id}:${type}`, type, time: s.endMs, source: s.service, workflow: wf, duration_ms: s.durationMs, attributes });
    if (isRun) {
      if (!state.closed) out.push(end(`workflow.${outcome}`, endAttrsOf(s)), s.endMs, 1);
      state.closed = true;
      // a root that is also an agent, tool or model call counts as that too
      if (s.role === 'workflow' || s.role === 'other') return;
    }
    const agent = agentOf(s);
    switch (s.role) {
      case 'agent': {
        const name = agentName(s);
        const task = { id: s.spanId, name };
        out.push({ id: `${id}:task.started`, type: 'task.started', time: s.startMs, source: s.service, workflow: wf, agent: name, task, attributes: startAttrsOf(s) }, s.startMs, 0);
        const e = end(`task.${outcome}`, endAttrsOf(s));
        e.agent = name;
        e.task = task;
        out.push(e, s.endMs, 1);
        return;
      }
      case 'task': {
        const stage = cut(str(s.attrs, S.entityName) ?? str(s.attrs, S.workflowName) ?? s.name);
        const started: CanonicalEventInput = { id: `${id}:stage.started`, type: 'stage.started', time: s.startMs, source: s.service, workflow: wf, stage, attributes: startAttrsOf(s) };
        if (agent !== undefined) started.agent = agent;
        out.push(started, s.startMs, 0);
        const e = end(`stage.${outcome}`, endAttrsOf(s));
        e.stage = stage;
        if (agent !== undefined) e.agent = agent;
        out.push(e, s.endMs, 1);
        return;
      }
      case 'tool': {
        const e = end(s.error ? 'tool.failed' : 'tool.called', endAttrsOf(s));
        e.tool = cut(str(s.attrs, S.toolName) ?? str(s.attrs, S.entityName) ?? toolNameOf(s));
        if (agent !== undefined) e.agent = agent;
        out.push(e, s.endMs, 1);
        return;
      }
      case 'model': {
        const model = str(s.attrs, S.model);
        const tin = tokens(s.attrs, S.inputTokens);
        const tout = tokens(s.attrs, S.outputTokens);
        const attributes = endAttrsOf(s);
        attributes.operation = str(s.attrs, S.operation) ?? 'chat';
        const provider = str(s.attrs, S.provider);
        if (provider) attributes.provider = provider;
        const errorType = str(s.attrs, S.errorType);
        if (errorType) attributes.error_type = errorType;
        const e = end(s.error ? 'agent.error' : 'agent.response', attributes);
        if (agent !== undefined) e.agent = agent;
        if (model !== undefined) e.model = cut(model);
        if (tin !== undefined) e.tokens_in = tin;
        if (tout !== undefined) e.tokens_out = tout;
        const cost = this.cost(model, tin, tout);
        if (cost !== undefined) e.cost_usd = cost;
        out.push(e, s.endMs, 1);
        return;
      }
      default: {
        const e = end(`span.${SPAN_KINDS[s.kind] ?? UNKNOWN}`, endAttrsOf(s));
        if (agent !== undefined) e.agent = agent;
        out.push(e, s.endMs, 1);
      }
    }
  }
}

/** An end event's attributes: the span's ids, name, kind and scope (and the tail's copy when kept). */
function endAttrsOf(s: FlatSpan): Record<string, unknown> {
  const a: Record<string, unknown> = {
    trace_id: s.traceId,
    span_id: s.spanId,
    parent_span_id: s.parentSpanId,
    span_name: s.name,
    span_kind: SPAN_KINDS[s.kind] ?? UNKNOWN,
    scope: s.scope,
  };
  if (s.statusMessage) a.status_message = s.statusMessage;
  if (s.tail) a.span = s.tail;
  return a;
}

/** A start event carries the ids alone: the end event has the rest (each attribute costs validation, the tail's copy and its JSON, per event). */
const startAttrsOf = (s: FlatSpan) => ({ trace_id: s.traceId, span_id: s.spanId });

function hasWorkflowAncestor(s: FlatSpan): boolean {
  let p = s.parent;
  for (let depth = 0; p && depth < 64; depth++) {
    if (p.role === 'workflow') return true;
    p = p.parent;
  }
  return false;
}

const agentName = (s: FlatSpan) => cut(str(s.attrs, S.agentName) ?? str(s.attrs, S.entityName) ?? agentNameOf(s));

/** The span's own agent name, else that of the nearest agent span above it in the same request. */
function agentOf(s: FlatSpan): string | undefined {
  const own = str(s.attrs, S.agentName);
  if (own !== undefined) return cut(own);
  let p = s.parent;
  for (let depth = 0; p && depth < 64; depth++) {
    if (p.role === 'agent') return agentName(p);
    const named = str(p.attrs, S.agentName);
    if (named !== undefined) return cut(named);
    p = p.parent;
  }
  return undefined;
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
