// OpenTelemetry output: pushes the metric catalog over OTLP/HTTP and traces pipeline batches.
// Loaded with a dynamic import only when otlp.endpoint is set, so it costs nothing when off.
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { AggregationType, InstrumentType, MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor, TraceIdRatioBasedSampler, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config, SourceKind } from '../config/schema.js';
import type { BatchHandler, Sink } from '../pipeline/types.js';
import type { Metrics } from '../metrics/registry.js';
import { VERSION } from '../metrics/registry.js';
import { RegistryProducer, SCOPE } from './bridge.js';
import { tapHistograms } from './tap.js';
import { BatchTracer } from './trace.js';

export const SPAN_BATCH_DELAY_MS = 1000; // spans leave in batches; a second keeps traces near real time

export interface Otel {
  /** the handler with a span per batch (identity when traces are off) */
  traceHandler(source: string, kind: SourceKind, handler: BatchHandler): BatchHandler;
  /** the sink with a child span per write (identity when traces are off) */
  traceSink(sink: Sink): Sink;
  /** pushes metrics and spans now */
  flush(): Promise<void>;
  /** a last push, then stop */
  shutdown(): Promise<void>;
}

export interface OtelDeps {
  config: Config['otlp'];
  registry: Registry;
  metrics: Metrics;
  logger: Logger;
}

const ok = 0; // ExportResultCode.SUCCESS

type Result = { code: number; error?: Error };
type Exporter<T> = { export(items: T, done: (r: Result) => void): void };

/** Counts every export by result, so a dead collector shows in workflow_exporter_otlp_exports_total. */
function counted<T, E extends Exporter<T>>(e: E, signal: 'metrics' | 'traces', metrics: Metrics, logger: Logger): E {
  const exportFn = e.export.bind(e);
  e.export = (items: T, done: (r: Result) => void) =>
    exportFn(items, (r) => {
      metrics.otlpExports.labels(signal, r.code === ok ? 'ok' : 'error').inc();
      if (r.code !== ok) logger.warn({ err: r.error, signal }, 'OTLP export failed');
      done(r);
    });
  return e;
}

export async function startOtel({ config, registry, metrics, logger }: OtelDeps): Promise<Otel> {
  const base = config.endpoint!.replace(/\/+$/, '');
  const resource = resourceFromAttributes({ 'service.name': config.serviceName, 'service.version': VERSION });
  let meterProvider: MeterProvider | undefined;
  let tracerProvider: BasicTracerProvider | undefined;
  let tracer: BatchTracer | undefined;

  if (config.metrics) {
    const exponential = config.histograms === 'exponential';
    const exporter: PushMetricExporter = counted(new OTLPMetricExporter({ url: `${base}/v1/metrics`, timeoutMillis: config.timeoutMs }), 'metrics', metrics, logger);
    const reader = new PeriodicExportingMetricReader({
      exporter,
      exportIntervalMillis: config.intervalMs,
      exportTimeoutMillis: Math.min(config.timeoutMs, config.intervalMs),
      metricProducers: [new RegistryProducer(registry, resource, exponential)],
    });
    meterProvider = new MeterProvider({
      resource,
      readers: [reader],
      views: exponential ? [{ instrumentType: InstrumentType.HISTOGRAM, aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }] : [],
    });
    if (exponential) tapHistograms(metrics, meterProvider.getMeter(SCOPE.name, VERSION));
  }

  if (config.traces) {
    const exporter: SpanExporter = counted(new OTLPTraceExporter({ url: `${base}/v1/traces`, timeoutMillis: config.timeoutMs }), 'traces', metrics, logger);
    tracerProvider = new BasicTracerProvider({
      resource,
      sampler: new TraceIdRatioBasedSampler(config.traceSampleRatio),
      spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: SPAN_BATCH_DELAY_MS })],
    });
    tracer = new BatchTracer(tracerProvider.getTracer(SCOPE.name, VERSION), config.maxEventIdsPerSpan);
  }
  logger.info({ endpoint: base, metrics: config.metrics, traces: config.traces, histograms: config.histograms }, 'OpenTelemetry output on');

  return {
    traceHandler: (source, kind, handler) => (tracer ? tracer.handler(source, kind, handler) : handler),
    traceSink: (sink) => (tracer ? tracer.sink(sink) : sink),
    async flush() {
      await Promise.all([meterProvider?.forceFlush(), tracerProvider?.forceFlush()]);
    },
    async shutdown() {
      const results = await Promise.allSettled([meterProvider?.shutdown(), tracerProvider?.shutdown()]);
      for (const r of results) if (r.status === 'rejected') logger.warn({ err: r.reason }, 'OpenTelemetry shutdown failed');
    },
  };
}
