// Bad OTLP input and back-pressure: each is a clear answer or a counted rejection with a reason, never a crash.
import { gzipSync } from 'node:zlib';
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { afterEach, describe, expect, it } from 'vitest';
import type { OtlpSource } from '../src/sources/otlp/otlp.js';
import { decodeProtobuf } from '../src/sources/otlp/proto.js';
import type { Sink } from '../src/pipeline/types.js';
import { startApp, waitFor, type TestApp } from './helpers/app.js';
import { parsePrometheusText, value } from './helpers/metrics.js';
import { exportWith, recordSpans, researchTrace } from './helpers/otlp.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

const hex = (n: number, len: number) => n.toString(16).padStart(len, '0');
const nanos = (ms: number) => `${BigInt(Math.round(ms)) * 1_000_000n}`;

/** One OTLP/JSON span. */
function span(i: number, attrs: Record<string, string | number>, startMs: number, endMs: number, trace = 1, parent?: number) {
  return {
    traceId: hex(trace, 32),
    spanId: hex(i + 1, 16),
    ...(parent !== undefined ? { parentSpanId: hex(parent + 1, 16) } : {}),
    name: `span ${i}`,
    kind: 1,
    startTimeUnixNano: nanos(startMs),
    endTimeUnixNano: nanos(endMs),
    attributes: Object.entries(attrs).map(([key, v]) => ({ key, value: typeof v === 'number' ? { intValue: String(v) } : { stringValue: v } })),
  };
}
const request = (spans: unknown[]) => ({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { stringValue: 'svc' } }] }, scopeSpans: [{ scope: { name: 't' }, spans }] }] });

async function post(app: TestApp, body: string | Buffer, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  return app.app.server.inject({ method: 'POST', url: '/v1/traces', payload: body, headers });
}

describe('otlp source: bad input', () => {
  it('a truncated protobuf body is 400 invalid_protobuf, counted and dead-lettered', async () => {
    t = await startApp({ sources: [{ kind: 'otlp' }] });
    const spans = await recordSpans(researchTrace(), Date.now() - 60_000);
    const whole = Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)!);
    expect(decodeProtobuf(whole).resourceSpans).toHaveLength(1);
    const r = await post(t, whole.subarray(0, whole.length - 7), { 'content-type': 'application/x-protobuf' });
    expect(r.statusCode).toBe(400);
    expect(r.headers['content-type']).toBe('application/x-protobuf');
    const text = await t.scrape();
    expect(value(text, 'workflow_exporter_events_rejected_total', { source: 'otlp', reason: 'invalid_protobuf' })).toBe(1);
    expect(value(text, 'workflow_events_total')).toBe(0);
    const letters = (await t.app.server.inject({ method: 'GET', url: '/api/dead-letters' })).json() as { letters?: { reason: string }[] };
    expect(JSON.stringify(letters)).toContain('invalid_protobuf');
  });

  it('invalid JSON is 400 invalid_json; a wrong content type 415; an unknown content encoding 415', async () => {
    t = await startApp({ sources: [{ kind: 'otlp' }] });
    const bad = await post(t, '{"resourceSpans": [');
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 3 });
    const wrong = await post(t, 'hello', { 'content-type': 'text/plain' });
    expect(wrong.statusCode).toBe(415);
    expect(wrong.json().message).toMatch(/application\/x-protobuf or application\/json/);
    const br = await post(t, JSON.stringify(request([])), { 'content-type': 'application/json', 'content-encoding': 'br' });
    expect(br.statusCode).toBe(415);
    expect(value(await t.scrape(), 'workflow_exporter_events_rejected_total', { reason: 'invalid_json' })).toBe(1);
  });

  it('a 50 MiB body is 413 before anything is decoded', async () => {
    t = await startApp({ sources: [{ kind: 'otlp' }] });
    const r = await post(t, Buffer.alloc(50 << 20, 0x20), { 'content-type': 'application/x-protobuf' });
    expect(r.statusCode).toBe(413);
    expect(value(await t.scrape(), 'workflow_exporter_events_rejected_total', { reason: 'too_large' })).toBe(1);
  });

  it('a gzip bomb stops inflating at maxDecompressedBytes: 413', async () => {
    t = await startApp({ sources: [{ kind: 'otlp', maxDecompressedBytes: 1 << 20 }] });
    const bomb = gzipSync(Buffer.alloc(64 << 20)); // 64 MiB of zeros in ~64 KiB
    expect(bomb.length).toBeLessThan(128 << 10);
    const r = await post(t, bomb, { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' });
    expect(r.statusCode).toBe(413);
    expect(r.body).toContain('decompressed body exceeds 1048576 bytes');
    const corrupt = await post(t, Buffer.from('not gzip at all'), { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(corrupt.statusCode).toBe(400);
    const text = await t.scrape();
    expect(value(text, 'workflow_exporter_events_rejected_total', { reason: 'too_large' })).toBe(1);
    expect(value(text, 'workflow_exporter_events_rejected_total', { reason: 'invalid_encoding' })).toBe(1);
  });

  it('end before start and absurd token counts are rejected spans in partial_success; the rest is taken', async () => {
    t = await startApp({ sources: [{ kind: 'otlp' }] });
    const now = Date.now() - 10_000;
    const body = request([
      span(0, { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'ok' }, now, now + 500),
      span(1, { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'backwards' }, now + 500, now),
      span(2, { 'gen_ai.operation.name': 'chat', 'gen_ai.usage.input_tokens': 1e15 }, now, now + 1),
      span(3, { 'gen_ai.operation.name': 'chat', 'gen_ai.usage.output_tokens': -5 }, now, now + 1),
    ]);
    const r = await post(t, JSON.stringify(body));
    expect(r.statusCode).toBe(200);
    const res = r.json() as { partialSuccess: { rejectedSpans: number; errorMessage: string } };
    expect(res.partialSuccess.rejectedSpans).toBe(3);
    expect(res.partialSuccess.errorMessage).toMatch(/^3 of 4 spans rejected: invalid_duration: span 1: end_time_unix_nano is before start_time_unix_nano; invalid_event: span 2: input token count 1000000000000000 exceeds 10000000/);
    const text = await t.scrape();
    expect(value(text, 'workflow_exporter_events_rejected_total', { reason: 'invalid_duration' })).toBe(1);
    expect(value(text, 'workflow_exporter_events_rejected_total', { reason: 'invalid_event' })).toBe(2);
    expect(value(text, 'workflow_tool_calls_total', { tool: 'ok', outcome: 'ok' })).toBe(1);
    expect(value(text, 'workflow_tool_calls_total')).toBe(1);
  });

  it('10^5 distinct agent names: labels fold into __overflow__, the trace memory stays at its cap', async () => {
    t = await startApp({ sources: [{ kind: 'otlp', traceCacheSize: 1000 }], metrics: { maxLabelValues: 200 } });
    const now = Date.now() - 10_000;
    for (let req = 0; req < 10; req++) {
      const spans = [];
      for (let i = 0; i < 10_000; i++) {
        const n = req * 10_000 + i;
        spans.push(span(0, { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': `agent-${n}` }, now, now + 250, n + 1));
      }
      const r = await post(t, JSON.stringify(request(spans)));
      expect(r.statusCode).toBe(200);
      expect(r.body).toBe('{}');
    }
    const text = await t.scrape();
    const series = parsePrometheusText(text).filter((s) => s.name === 'workflow_tasks_total');
    expect(series).toHaveLength(201);
    expect(value(text, 'workflow_tasks_total', { agent: '__overflow__' })).toBe(100_000 - 200);
    expect(value(text, 'workflow_tasks_total')).toBe(100_000);
    // each trace is its own run (a root invoke_agent span): the runs counted, the memory bounded
    expect(value(text, 'workflow_runs_finished_total')).toBe(100_000);
    expect(t.app.source<OtlpSource>('otlp')!.mapper.tracesHeld).toBe(1000);
  }, 180_000); // 100,000 spans through the whole pipeline: ~20 s on a loaded 2-core machine
});

describe('otlp source: back-pressure, sink failure and auth', () => {
  /** a sink that holds batches until released */
  function gate(): Sink & { entered: number; open(): void } {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const g = {
      name: 'gate',
      entered: 0,
      write: async () => {
        g.entered++;
        await held;
      },
      open: () => release(),
    };
    return g;
  }

  it('past maxInFlightSpans: 503 with Retry-After over HTTP, UNAVAILABLE over gRPC; then it takes the retry', async () => {
    const g = gate();
    t = await startApp({ sources: [{ kind: 'otlp', grpcPort: 0, maxInFlightSpans: 10, retryAfterSeconds: 2 }] }, { beforeStart: (app) => app.pipeline.addSink(g) });
    const app = t;
    const spans = await recordSpans(researchTrace(), Date.now() - 60_000);
    const body = Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)!);
    const first = post(app, body, { 'content-type': 'application/x-protobuf' });
    await waitFor('the first batch in the sinks', () => g.entered === 1);
    const second = await post(app, body, { 'content-type': 'application/x-protobuf' });
    expect(second.statusCode).toBe(503);
    expect(second.headers['retry-after']).toBe('2');
    const grpc = new GrpcExporter({ url: `http://127.0.0.1:${app.app.source<OtlpSource>('otlp')!.port('grpc')}`, timeoutMillis: 2000 });
    const viaGrpc = await exportWith(grpc, spans);
    expect(viaGrpc.code).toBe(ExportResultCode.FAILED);
    expect(String(viaGrpc.error)).toMatch(/UNAVAILABLE|spans in flight|retry/i);
    g.open();
    expect((await first).statusCode).toBe(200);
    expect(value(await app.scrape(), 'workflow_exporter_source_errors_total', { source: 'otlp', kind: 'backpressure' })).toBeGreaterThanOrEqual(2);
    await grpc.shutdown();
  });

  it('a sink that fails answers 503: nothing was taken, the exporter retries', async () => {
    t = await startApp({ sources: [{ kind: 'otlp' }] }, { beforeStart: (app) => app.pipeline.addSink({ name: 'broken', write: () => Promise.reject(new Error('state store down')) }) });
    const spans = await recordSpans(researchTrace(), Date.now() - 60_000);
    const r = await post(t, Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)!), { 'content-type': 'application/x-protobuf' });
    expect(r.statusCode).toBe(503);
    expect(r.headers['retry-after']).toBe('1');
    expect(value(await t.scrape(), 'workflow_exporter_source_errors_total', { kind: 'sink_failed' })).toBe(1);
  });

  it('with tokens configured an ingest token is needed, over HTTP and gRPC', async () => {
    const token = 'otlp-ingest-token-0123456789';
    t = await startApp({ sources: [{ kind: 'otlp', grpcPort: 0 }], auth: { tokens: [{ name: 'agents', role: 'ingest', token }] } });
    const src = t.app.source<OtlpSource>('otlp')!;
    const spans = await recordSpans(researchTrace(), Date.now() - 60_000);
    const none = new ProtoExporter({ url: `${t.url}/v1/traces` });
    expect((await exportWith(none, spans)).code).toBe(ExportResultCode.FAILED);
    const noneGrpc = new GrpcExporter({ url: `http://127.0.0.1:${src.port('grpc')}` });
    const r = await exportWith(noneGrpc, spans);
    expect(r.code).toBe(ExportResultCode.FAILED);
    expect(String(r.error)).toMatch(/UNAUTHENTICATED|bearer token/i);
    expect(value(await t.scrape(), 'workflow_events_total')).toBe(0);
    const withToken = new ProtoExporter({ url: `${t.url}/v1/traces`, headers: { authorization: `Bearer ${token}` } });
    expect((await exportWith(withToken, spans)).code).toBe(ExportResultCode.SUCCESS);
    const grpcMeta = (await import('@grpc/grpc-js')).Metadata;
    const md = new grpcMeta();
    md.set('authorization', `Bearer ${token}`);
    const withTokenGrpc = new GrpcExporter({ url: `http://127.0.0.1:${src.port('grpc')}`, metadata: md });
    const spans2 = await recordSpans(researchTrace(), Date.now() - 60_000);
    expect((await exportWith(withTokenGrpc, spans2)).code).toBe(ExportResultCode.SUCCESS);
    const text = await t.scrape();
    expect(value(text, 'workflow_runs_finished_total')).toBe(2);
    expect(value(text, 'workflow_exporter_auth_rejected_total', { reason: 'missing_token' })).toBe(2);
    for (const e of [none, noneGrpc, withToken, withTokenGrpc]) await e.shutdown();
  });
});

describe('otlp source over gRPC: bad input', () => {
  it('a truncated message is INVALID_ARGUMENT; one past maxDecompressedBytes, gzip bomb or not, RESOURCE_EXHAUSTED', async () => {
    const grpc = await import('@grpc/grpc-js');
    t = await startApp({ sources: [{ kind: 'otlp', grpcPort: 0, maxDecompressedBytes: 1 << 20 }] });
    const port = t.app.source<OtlpSource>('otlp')!.port('grpc')!;
    const raw = (b: Buffer) => b;
    const Client = grpc.makeGenericClientConstructor(
      { Export: { path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export', requestStream: false, responseStream: false, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw } },
      'TraceService',
    );
    const call = (client: InstanceType<typeof Client>, body: Buffer) =>
      new Promise<{ code: number; details: string }>((resolve) =>
        (client as unknown as { Export(b: Buffer, cb: (err: { code: number; details: string } | null) => void): void }).Export(body, (err) => resolve(err ?? { code: 0, details: 'ok' })),
      );
    const plain = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    // gzip on the wire: 16 MiB of zeros travel as ~16 KiB and inflate past the limit on the server
    const gzip = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.default_compression_algorithm': 2 });
    try {
      const spans = await recordSpans(researchTrace(), Date.now() - 60_000);
      const whole = Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)!);
      const truncated = await call(plain, whole.subarray(0, whole.length - 7));
      expect(truncated.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(truncated.details).toMatch(/undecodable protobuf/);
      expect((await call(plain, Buffer.alloc(2 << 20))).code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      expect((await call(gzip, Buffer.alloc(16 << 20))).code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      // and the server still takes a good one
      expect(await call(gzip, whole)).toEqual({ code: 0, details: 'ok' });
      expect(value(await t.scrape(), 'workflow_runs_finished_total')).toBe(1);
    } finally {
      plain.close();
      gzip.close();
    }
  });
});
