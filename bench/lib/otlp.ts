// The OTLP bench workload: ExportTraceServiceRequest bodies of multi-agent traces in the GenAI
// conventions, encoded once with the exporter's own protobuf types; each body gets fresh trace ids
// by writing them into the encoded bytes, so the load generator spends microseconds per body.
import { join } from 'node:path';
import { ROOT } from './subjects.js';

const TRACE_SPANS = 64; // a workflow span and 7 agents, each with 4 model calls and 4 tool calls
const AGENTS = 7;

interface ProtoModule {
  otlpTypes(): { request: { fromObject(o: object): object; encode(m: object): { finish(): Uint8Array } } };
}

/** The exporter's protobuf types (dist/sources/otlp/proto.js): the same library and protos the floor decodes with. */
export async function protoModule(): Promise<ProtoModule> {
  return (await import(join(process.env.BENCH_DIST ?? join(ROOT, 'dist'), 'sources', 'otlp', 'proto.js'))) as ProtoModule;
}

const kv = (key: string, v: string | number) => ({ key, value: typeof v === 'number' ? { intValue: v } : { stringValue: v } });

/** perBody spans (a multiple of 64) as traces of TRACE_SPANS spans each. */
export async function otlpTemplate(perBody: number, startMs: number): Promise<{ render(seq: number): Buffer; spans: number }> {
  if (perBody % TRACE_SPANS !== 0) throw new Error(`otlp bodies hold multiples of ${TRACE_SPANS} spans`);
  const traces = perBody / TRACE_SPANS;
  // a marker per trace: 16 bytes found back in the encoding, where each body writes its own id
  const marker = (t: number) => Buffer.from(`f00dfeed${t.toString(16).padStart(8, '0')}0000000000000000`, 'hex');
  const spans: object[] = [];
  const ns = (ms: number) => String(BigInt(Math.round(ms)) * 1_000_000n);
  for (let t = 0; t < traces; t++) {
    const traceId = marker(t).toString('hex');
    let n = 0;
    const span = (name: string, parent: string | undefined, from: number, to: number, attrs: object[], error = false) => {
      const spanId = (++n).toString(16).padStart(16, '0');
      spans.push({
        traceId,
        spanId,
        ...(parent ? { parentSpanId: parent } : {}),
        name,
        kind: 1,
        startTimeUnixNano: ns(startMs + from),
        endTimeUnixNano: ns(startMs + to),
        attributes: attrs,
        ...(error ? { status: { code: 2, message: 'failed' } } : {}),
      });
      return spanId;
    };
    const root = span('invoke_workflow research', undefined, 0, 60_000, [kv('gen_ai.operation.name', 'invoke_workflow'), kv('gen_ai.workflow.name', 'research')]);
    for (let a = 0; a < AGENTS; a++) {
      const name = `agent-${a}`;
      const agent = span(`invoke_agent ${name}`, root, a * 8000, a * 8000 + 7000, [kv('gen_ai.operation.name', 'invoke_agent'), kv('gen_ai.agent.name', name)]);
      for (let c = 0; c < 4; c++) {
        const at = a * 8000 + c * 1500;
        span('chat gpt-4o', agent, at, at + 900, [
          kv('gen_ai.operation.name', 'chat'),
          kv('gen_ai.provider.name', 'openai'),
          kv('gen_ai.request.model', 'gpt-4o'),
          kv('gen_ai.response.model', 'gpt-4o-2024-08-06'),
          kv('gen_ai.usage.input_tokens', 1200 + c),
          kv('gen_ai.usage.output_tokens', 300 + c),
          kv('gen_ai.response.finish_reasons', 'stop'),
        ]);
        span(`execute_tool tool-${c}`, agent, at + 900, at + 1400, [kv('gen_ai.operation.name', 'execute_tool'), kv('gen_ai.tool.name', `tool-${c}`), kv('gen_ai.tool.call.id', `call-${c}`)], c === 3);
      }
    }
  }
  const req = {
    resourceSpans: [{ resource: { attributes: [kv('service.name', 'bench-agents'), kv('telemetry.sdk.language', 'nodejs')] }, scopeSpans: [{ scope: { name: 'bench', version: '1.0.0' }, spans }] }],
  };
  const { otlpTypes } = await protoModule();
  const { request } = otlpTypes();
  // ids as bytes (the JSON form's hex is decodeJson's business, not fromObject's)
  for (const s of spans as { traceId: string | Buffer; spanId: string | Buffer; parentSpanId?: string | Buffer }[]) {
    s.traceId = Buffer.from(s.traceId as string, 'hex');
    s.spanId = Buffer.from(s.spanId as string, 'hex');
    if (s.parentSpanId) s.parentSpanId = Buffer.from(s.parentSpanId as string, 'hex');
  }
  const template = Buffer.from(request.encode(request.fromObject(req)).finish());
  const offsets: number[][] = [];
  for (let t = 0; t < traces; t++) {
    const m = marker(t);
    const at: number[] = [];
    for (let i = template.indexOf(m); i >= 0; i = template.indexOf(m, i + 1)) at.push(i);
    if (at.length !== TRACE_SPANS) throw new Error(`trace ${t}: found its id ${at.length} times, not ${TRACE_SPANS}`);
    offsets.push(at);
  }
  return {
    spans: perBody,
    render(seq: number): Buffer {
      const b = Buffer.from(template);
      for (let t = 0; t < traces; t++) {
        // bytes 8..15 of the trace id: the body's sequence number and the trace within it
        for (const at of offsets[t]) {
          b.writeUInt32BE(seq >>> 0, at + 8);
          b.writeUInt32BE(t, at + 12);
        }
      }
      return b;
    },
  };
}
