// The otlp source with the official OpenTelemetry JS exporters as clients (OTLP/HTTP protobuf,
// OTLP/HTTP JSON, OTLP/gRPC), from a real NodeTracerProvider: exact metrics for a fixed multi-agent trace.
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPTraceExporter as GrpcExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, it } from 'vitest';
import type { OtlpSource } from '../src/sources/otlp/otlp.js';
import { startApp, type TestApp } from './helpers/app.js';
import { value } from './helpers/metrics.js';
import { PRICES, SERVICE, expectResearchMetrics, exportWith, recordSpans, researchTrace } from './helpers/otlp.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

async function otlpApp(extra: Record<string, unknown> = {}): Promise<TestApp> {
  t = await startApp({ sources: [{ kind: 'otlp', httpPort: 0, grpcPort: 0, prices: PRICES, ...extra }] });
  return t;
}

const exporters: [string, (src: OtlpSource, url: string) => SpanExporter][] = [
  ['OTLP/HTTP protobuf on the exporter port', (_s, url) => new ProtoExporter({ url: `${url}/v1/traces` })],
  ['OTLP/HTTP protobuf gzip on its own port', (s) => new ProtoExporter({ url: `http://127.0.0.1:${s.port('http')}/v1/traces`, compression: 'gzip' as never })],
  ['OTLP/HTTP JSON', (_s, url) => new JsonExporter({ url: `${url}/v1/traces` })],
  ['OTLP/gRPC', (s) => new GrpcExporter({ url: `http://127.0.0.1:${s.port('grpc')}` })],
  ['OTLP/gRPC gzip', (s) => new GrpcExporter({ url: `http://127.0.0.1:${s.port('grpc')}`, compression: 'gzip' as never })],
];

describe('otlp source with the official exporters', () => {
  it.each(exporters)('%s: a multi-agent trace gives exact run, task, token, cost and tool metrics', async (_name, make) => {
    const app = await otlpApp();
    const src = app.app.source<OtlpSource>('otlp')!;
    const spans = await recordSpans(researchTrace(), Date.now() - 60_000);
    expect(spans).toHaveLength(10);
    const exporter = make(src, app.url);
    const r = await exportWith(exporter, spans);
    expect(r.error).toBeUndefined();
    expect(r.code).toBe(ExportResultCode.SUCCESS);
    // success is answered after every sink took the batch: no waiting
    expectResearchMetrics(await app.scrape());
    // the same spans again (an exporter retry): deduplicated by trace and span id
    expect((await exportWith(exporter, spans)).code).toBe(ExportResultCode.SUCCESS);
    const again = await app.scrape();
    expectResearchMetrics(again);
    // the run's start and end are not even sent again (the trace is remembered as closed); the 12 span events are dropped as duplicates
    expect(value(again, 'workflow_exporter_lifecycle_anomalies_total', { kind: 'duplicate_id' })).toBe(12);
    await exporter.shutdown();
  });

  it('a root not yet ended is an open run; its end closes it', async () => {
    const app = await otlpApp();
    // the SDK exports spans as they end: the agents' spans go out while the workflow still runs
    const all = await recordSpans(researchTrace(), Date.now() - 60_000);
    const root = all.filter((s) => s.parentSpanContext === undefined);
    const children = all.filter((s) => s.parentSpanContext !== undefined);
    expect(root).toHaveLength(1);
    const exporter = new ProtoExporter({ url: `${app.url}/v1/traces` });
    expect((await exportWith(exporter, children)).code).toBe(ExportResultCode.SUCCESS);
    let text = await app.scrape();
    // the workflow name is on the root alone: the open run's type is unknown until it ends
    expect(value(text, 'workflow_runs_active', { workflow_type: 'unknown', state: 'running' })).toBe(1);
    expect(value(text, 'workflow_runs_started_total', { workflow_type: 'unknown' })).toBe(1);
    expect(value(text, 'workflow_runs_finished_total')).toBe(0);
    expect(value(text, 'workflow_tasks_total')).toBe(3);

    expect((await exportWith(exporter, root)).code).toBe(ExportResultCode.SUCCESS);
    text = await app.scrape();
    expect(value(text, 'workflow_runs_active')).toBe(0);
    expect(value(text, 'workflow_runs_started_total')).toBe(1);
    expect(value(text, 'workflow_runs_finished_total', { workflow_type: 'research', outcome: 'completed' })).toBe(1);
    expect(value(text, 'workflow_run_duration_seconds_sum', { workflow_type: 'research' })).toBe(8);
    await exporter.shutdown();
  });
});
