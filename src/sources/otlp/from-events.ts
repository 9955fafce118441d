// Canonical lifecycle events turned back into GenAI-convention spans: what `simulate --to otlp` sends,
// so the otlp source can be tried against demo traffic. The inverse of mapping.ts, for demos only.
import { createHash } from 'node:crypto';
import type { CanonicalEventInput } from '../../events/schema.js';
import type { Publisher } from '../demo/simulate.js';
import { otlpTypes } from './proto.js';

export const MAX_OPEN = 100_000; // starts remembered until their end; the oldest go first

interface OpenSpan {
  startMs: number;
  agent?: string;
}

interface OutSpan {
  traceId: Buffer;
  spanId: Buffer;
  parentSpanId?: Buffer;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: { key: string; value: { stringValue?: string; intValue?: number } }[];
  status?: { code: number; message: string };
}

const digest = (s: string, bytes: number) => createHash('sha256').update(s).digest().subarray(0, bytes);
const ns = (ms: number) => `${BigInt(Math.round(ms * 1000)) * 1000n}`;
const timeMs = (t: string | number | undefined) => (typeof t === 'number' ? (t < 1e11 ? t * 1000 : t) : t ? Date.parse(t) : Date.now());
const kv = (key: string, v: string | number) => ({ key, value: typeof v === 'number' ? { intValue: v } : { stringValue: v } });

export class SpansFromEvents {
  private readonly open = new Map<string, OpenSpan>();

  private remember(key: string, o: OpenSpan): void {
    this.open.set(key, o);
    if (this.open.size > MAX_OPEN) this.open.delete(this.open.keys().next().value!);
  }

  private take(key: string): OpenSpan | undefined {
    const o = this.open.get(key);
    this.open.delete(key);
    return o;
  }

  /** The spans that the events end; starts are remembered, other events give nothing. */
  spans(events: CanonicalEventInput[]): OutSpan[] {
    const out: OutSpan[] = [];
    for (const e of events) {
      const wf = e.workflow;
      if (!wf) continue;
      const t = timeMs(e.time);
      const trace = digest(`trace:${wf.id}`, 16);
      const root = digest(`w:${wf.id}`, 8);
      const stageSpan = (stage: string) => digest(`s:${wf.id}:${stage}`, 8);
      const taskSpan = (task: string) => digest(`t:${wf.id}:${task}`, 8);
      const dot = e.type.indexOf('.');
      const kind = e.type.slice(0, dot);
      const verb = e.type.slice(dot + 1);
      const failed = verb === 'failed';
      const status = failed ? { code: 2, message: `${e.type}` } : undefined;
      // every child names its workflow, as OpenLLMetry's spans do: a run opened by children sent
      // before its root (the root ends last) gets its workflow type, not `unknown`
      const named = (attributes: OutSpan['attributes']) => (attributes.some((a) => a.key === 'gen_ai.workflow.name') ? attributes : [...attributes, kv('gen_ai.workflow.name', wf.type)]);
      const span = (spanId: Buffer, parent: Buffer | undefined, name: string, startMs: number, endMs: number, attributes: OutSpan['attributes']) =>
        out.push({ traceId: trace, spanId, parentSpanId: parent, name, kind: 1, startTimeUnixNano: ns(startMs), endTimeUnixNano: ns(endMs), attributes: named(attributes), ...(status ? { status } : {}) });
      if (kind === 'workflow') {
        if (verb === 'started') this.remember(`w:${wf.id}`, { startMs: t });
        else if (verb === 'completed' || verb === 'failed' || verb === 'cancelled') {
          const o = this.take(`w:${wf.id}`);
          span(root, undefined, `invoke_workflow ${wf.type}`, o?.startMs ?? t - (e.duration_ms ?? 0), t, [kv('gen_ai.operation.name', 'invoke_workflow'), kv('gen_ai.workflow.name', wf.type)]);
        }
      } else if (kind === 'stage' && e.stage) {
        const key = `s:${wf.id}:${e.stage}`;
        if (verb === 'started') this.remember(key, { startMs: t });
        else if (verb === 'completed' || verb === 'failed') {
          const o = this.take(key);
          // a step of the workflow, in OpenLLMetry's words (GenAI has no name for it)
          span(stageSpan(e.stage), root, `${e.stage}.task`, o?.startMs ?? t - (e.duration_ms ?? 0), t, [kv('traceloop.span.kind', 'task'), kv('traceloop.entity.name', e.stage)]);
        }
      } else if (kind === 'task' && e.task) {
        const key = `t:${wf.id}:${e.task.id}`;
        if (verb === 'started') this.remember(key, { startMs: t, agent: e.agent });
        else if (verb === 'completed' || verb === 'failed') {
          const o = this.take(key);
          const agent = e.agent ?? o?.agent ?? 'agent';
          const start = o?.startMs ?? t - (e.duration_ms ?? 0);
          const id = taskSpan(e.task.id);
          span(id, e.stage ? stageSpan(e.stage) : root, `invoke_agent ${agent}`, start, t, [kv('gen_ai.operation.name', 'invoke_agent'), kv('gen_ai.agent.name', agent)]);
          if (e.tokens_in !== undefined || e.tokens_out !== undefined) {
            const model = e.model ?? 'model';
            span(digest(`c:${wf.id}:${e.task.id}`, 8), id, `chat ${model}`, start, t, [
              kv('gen_ai.operation.name', 'chat'),
              kv('gen_ai.provider.name', 'demo'),
              kv('gen_ai.request.model', model),
              ...(e.tokens_in !== undefined ? [kv('gen_ai.usage.input_tokens', e.tokens_in)] : []),
              ...(e.tokens_out !== undefined ? [kv('gen_ai.usage.output_tokens', e.tokens_out)] : []),
            ]);
          }
        }
      } else if (kind === 'tool' && e.tool) {
        const parent = e.task ? taskSpan(e.task.id) : root;
        span(digest(`x:${e.id}`, 8), parent, `execute_tool ${e.tool}`, t - (e.duration_ms ?? 0), t, [
          kv('gen_ai.operation.name', 'execute_tool'),
          kv('gen_ai.tool.name', e.tool),
          // a tool span is exported before its agent's span ends: the name on it keeps the call attributed
          ...(e.agent ? [kv('gen_ai.agent.name', e.agent)] : []),
          ...(failed ? [kv('error.type', 'ToolError')] : []),
        ]);
      }
    }
    return out;
  }

  /** The spans as an OTLP/HTTP protobuf body from `service`. */
  static encode(spans: OutSpan[], service: string): Uint8Array {
    const { request } = otlpTypes();
    const msg = request.fromObject({
      resourceSpans: [{ resource: { attributes: [kv('service.name', service)] }, scopeSpans: [{ scope: { name: 'workflow-exporter-simulate' }, spans }] }],
    });
    return request.encode(msg).finish();
  }
}

/** `simulate --to otlp`: each tick's events as spans, POSTed as OTLP/HTTP protobuf to `url` (…/v1/traces). */
export function otlpPublisher(url: string, service = 'simulator'): Publisher & { spansSent(): number } {
  const conv = new SpansFromEvents();
  let sent = 0;
  return {
    async publish(events) {
      const spans = conv.spans(events);
      if (spans.length === 0) return;
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: Buffer.from(SpansFromEvents.encode(spans, service)) });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`POST ${url}: ${res.status}`);
      sent += spans.length;
    },
    async close() {},
    spansSent: () => sent,
  };
}
