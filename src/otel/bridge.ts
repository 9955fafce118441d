// Reads the prom-client registry at export time and hands the catalog to the OpenTelemetry SDK as
// metric data: the hot path stays prom-client, and OTLP costs one registry read per push.
import { ValueType, type Attributes, type HrTime } from '@opentelemetry/api';
import {
  AggregationTemporality,
  DataPointType,
  type CollectionResult,
  type DataPoint,
  type Histogram,
  type MetricData,
  type MetricProducer,
} from '@opentelemetry/sdk-metrics';
import type { Resource } from '@opentelemetry/resources';
import type { MetricObjectWithValues, MetricValue, MetricValueWithName, Registry } from 'prom-client';
import { ALL_METRICS, type MetricDef } from '../metrics/catalog.js';

export const SCOPE = { name: 'workflow-exporter' };

function hr(ms: number): HrTime {
  return [Math.floor(ms / 1000), Math.round((ms % 1000) * 1e6)];
}

/** The unit OTLP receivers expect, from the name's Prometheus unit suffix. */
export function unitOf(name: string): string {
  if (name.endsWith('_seconds')) return 's';
  if (name.endsWith('_usd') || name.endsWith('_usd_total')) return 'USD';
  return '';
}

function attributes(labels: Partial<Record<string, string | number>>, skip?: string): Attributes {
  const out: Attributes = {};
  for (const k in labels) if (k !== skip && labels[k] !== undefined) out[k] = String(labels[k]);
  return out;
}

function histogramPoints(values: MetricValueWithName<string>[], start: HrTime, end: HrTime): DataPoint<Histogram>[] {
  // prom-client gives cumulative _bucket samples plus _sum and _count per label set; OTLP wants
  // per-bucket counts with the +Inf bucket last
  const series = new Map<string, { attrs: Attributes; le: [number, number][]; sum: number; count: number }>();
  for (const v of values) {
    const attrs = attributes(v.labels, 'le');
    const key = JSON.stringify(attrs);
    let s = series.get(key);
    if (!s) series.set(key, (s = { attrs, le: [], sum: 0, count: 0 }));
    if (v.metricName?.endsWith('_bucket')) s.le.push([v.labels.le === '+Inf' ? Infinity : Number(v.labels.le), v.value]);
    else if (v.metricName?.endsWith('_sum')) s.sum = v.value;
    else if (v.metricName?.endsWith('_count')) s.count = v.value;
  }
  const out: DataPoint<Histogram>[] = [];
  for (const s of series.values()) {
    s.le.sort((a, b) => a[0] - b[0]);
    const boundaries: number[] = [];
    const counts: number[] = [];
    let prev = 0;
    for (const [le, cum] of s.le) {
      if (le !== Infinity) boundaries.push(le);
      counts.push(cum - prev);
      prev = cum;
    }
    out.push({ startTime: start, endTime: end, attributes: s.attrs, value: { buckets: { boundaries, counts }, sum: s.sum, count: s.count } });
  }
  return out;
}

/**
 * A MetricProducer over the registry: counters become monotonic cumulative sums, gauges gauges,
 * histograms explicit-bucket histograms (unless `skipHistograms`, when the SDK records them as
 * exponential histograms from the same observations).
 */
export class RegistryProducer implements MetricProducer {
  private readonly defs: Map<string, MetricDef>;
  private readonly startMs: number;

  constructor(
    private readonly registry: Registry,
    private readonly resource: Resource,
    private readonly skipHistograms: boolean,
    now: () => number = Date.now,
    private readonly clock: () => number = now,
  ) {
    this.defs = new Map(ALL_METRICS.map((d) => [d.name, d]));
    this.startMs = now();
  }

  async collect(): Promise<CollectionResult> {
    const start = hr(this.startMs);
    const end = hr(this.clock());
    const metrics: MetricData[] = [];
    const errors: unknown[] = [];
    let all: MetricObjectWithValues<MetricValue<string>>[];
    try {
      all = await this.registry.getMetricsAsJSON();
    } catch (err) {
      return { resourceMetrics: { resource: this.resource, scopeMetrics: [] }, errors: [err] };
    }
    for (const m of all) {
      const def = this.defs.get(m.name);
      if (!def) continue; // the catalog only: process_* and nodejs_* have OTel's own conventions
      const descriptor = { name: def.name, description: def.help, unit: unitOf(def.name), valueType: ValueType.DOUBLE };
      const point = (v: MetricValue<string>): DataPoint<number> => ({ startTime: start, endTime: end, attributes: attributes(v.labels), value: v.value });
      if (def.type === 'counter') {
        metrics.push({ descriptor, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.SUM, isMonotonic: true, dataPoints: m.values.map(point) });
      } else if (def.type === 'gauge') {
        metrics.push({ descriptor, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.GAUGE, dataPoints: m.values.map(point) });
      } else if (!this.skipHistograms) {
        metrics.push({
          descriptor,
          aggregationTemporality: AggregationTemporality.CUMULATIVE,
          dataPointType: DataPointType.HISTOGRAM,
          dataPoints: histogramPoints(m.values as MetricValueWithName<string>[], start, end),
        });
      }
    }
    return { resourceMetrics: { resource: this.resource, scopeMetrics: [{ scope: SCOPE, metrics }] }, errors };
  }
}
