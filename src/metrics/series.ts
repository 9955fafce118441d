// Handles on one prom-client series: the label set is resolved once, then inc/observe add to the
// series' own record instead of re-validating and re-hashing the labels on every call (several times cheaper;
// figures: docs/benchmarks-log.md, "Figures behind code comments").
import { createRequire } from 'node:module';
import type { Counter, Histogram } from 'prom-client';

type Labels = Record<string, string>;

/** prom-client's own series key function, so our key is the one its hashMap uses. */
const { hashObject } = createRequire(import.meta.url)('prom-client/lib/util') as {
  hashObject(labels: Labels, labelNames?: string[]): string;
};

/** Metrics whose every call must take the public API (OpenTelemetry's exponential tap wraps it). */
const PUBLIC_ONLY = new WeakSet<object>();

/** Handles created from now on for `metric` call its public inc/observe, so a wrapper sees each call. */
export function publicApiOnly(metric: object): void {
  PUBLIC_ONLY.add(metric);
}

/** What prom-client 15 keeps per metric; read defensively, every mismatch takes the public API. */
interface Internals<E> {
  labelNames?: string[];
  sortedLabelNames?: string[];
  hashMap?: Record<string, E | undefined>;
  upperBounds?: number[];
  enableExemplars?: boolean;
}

/**
 * One series' record inside a prom-client metric, located after a public call created it. It is
 * used only while the metric still holds it (reset() and remove() drop it; the next call goes
 * through the public API and locates the new one). Should prom-client's internals change shape,
 * nothing is ever located and every call takes the public path: slower, never wrong.
 */
class SeriesRecord<E> {
  private map?: Record<string, E | undefined>;
  private record?: E;
  readonly key?: string;
  /** the label object for the public API */
  readonly labels: Labels;

  constructor(
    private readonly metric: Internals<E>,
    values: string[],
  ) {
    const names = metric.labelNames ?? [];
    this.labels = {};
    for (let i = 0; i < names.length; i++) this.labels[names[i]] = values[i];
    if (Array.isArray(metric.sortedLabelNames) && !PUBLIC_ONLY.has(metric)) this.key = hashObject(this.labels, metric.sortedLabelNames);
  }

  /** The live record, or undefined when this call must take the public API. */
  live(): E | undefined {
    const r = this.record;
    if (r === undefined) return undefined;
    const map = this.metric.hashMap;
    return map === this.map && map![this.key!] === r ? r : undefined;
  }

  locate(valid: (e: E) => boolean): void {
    const map = this.metric.hashMap;
    const r = this.key !== undefined && map ? map[this.key] : undefined;
    const ok = map !== undefined && r !== undefined && valid(r);
    this.map = ok ? map : undefined;
    this.record = ok ? r : undefined;
  }
}

export class CounterSeries {
  private readonly rec: SeriesRecord<{ value: number }>;

  constructor(
    private readonly metric: Counter<string>,
    values: string[],
  ) {
    this.rec = new SeriesRecord(metric as unknown as Internals<{ value: number }>, values);
  }

  inc(v = 1): void {
    const r = this.rec.live();
    // only plain positive finite increments are fast; anything else gets prom-client's own answer
    if (r !== undefined && v > 0 && v < Infinity) {
      r.value += v;
      return;
    }
    this.metric.inc(this.rec.labels, v);
    this.rec.locate((e) => typeof e.value === 'number');
  }
}

interface HistogramRecord {
  sum: number;
  count: number;
  bucketValues: Record<string, number>;
  /** with exemplars: prom-client's Exemplar per bucket upper bound (-1 for +Inf), made on first use */
  bucketExemplars?: Record<string, { labelSet: ExemplarLabels; value: number; timestamp?: number } | null | undefined>;
}

/** OpenMetrics' limit on an exemplar's label names and values together, as prom-client checks it */
const MAX_EXEMPLAR_CHARS = 128;
/** the characters of an exemplar's label names and values; prom-client refuses more than 128 */
function exemplarChars(labels: ExemplarLabels): number {
  let n = 0;
  for (const k in labels) n += k.length + String(labels[k]).length;
  return n;
}

/** An exemplar's labels: trace_id and span_id (OpenMetrics allows 128 characters in all). */
export type ExemplarLabels = Record<string, string>;

export class HistogramSeries {
  private readonly rec: SeriesRecord<HistogramRecord>;
  private readonly bounds: number[];
  private readonly keys: string[];
  /** the histogram keeps exemplars: prom-client's observe then takes one object */
  private readonly exemplars: boolean;

  constructor(
    private readonly metric: Histogram<string>,
    values: string[],
  ) {
    const internals = metric as unknown as Internals<HistogramRecord>;
    this.rec = new SeriesRecord(internals, values);
    this.bounds = Array.isArray(internals.upperBounds) ? [...internals.upperBounds] : [];
    this.keys = this.bounds.map(String);
    this.exemplars = internals.enableExemplars === true;
  }

  observe(v: number, exemplar?: ExemplarLabels): void {
    const r = this.rec.live();
    if (r !== undefined && v - v === 0 /* finite */ && (!this.exemplars || (typeof r.bucketExemplars === 'object' && r.bucketExemplars !== null))) {
      // as prom-client: the first bucket whose upper bound is >= v; +Inf is the count
      const b = this.bounds;
      let i = 0;
      for (; i < b.length; i++) {
        if (v <= b[i]) {
          r.bucketValues[this.keys[i]] += 1;
          break;
        }
      }
      r.sum += v;
      r.count += 1;
      if (!this.exemplars || exemplar === undefined) return;
      // as prom-client's updateExemplar: the bucket's exemplar is the latest observation in it;
      // a bucket's first exemplar, or labels past the size limit, take its own path
      const chars = exemplarChars(exemplar);
      if (chars === 0) return; // no labels: prom-client keeps the bucket's exemplar as it was
      const ex = r.bucketExemplars![i < b.length ? this.keys[i] : '-1'];
      if (ex && chars <= MAX_EXEMPLAR_CHARS) {
        ex.labelSet = exemplar;
        ex.value = v;
        ex.timestamp = Date.now() / 1000;
        return;
      }
      (this.metric as unknown as { updateExemplar(l: object, v: number, e: object): void }).updateExemplar(this.rec.labels, v, exemplar);
      return;
    }
    if (this.exemplars) (this.metric.observe as unknown as (o: object) => void)({ labels: this.rec.labels, value: v, exemplarLabels: exemplar ?? {} });
    else this.metric.observe(this.rec.labels, v);
    const keys = this.keys;
    this.rec.locate((e) => typeof e.sum === 'number' && typeof e.count === 'number' && typeof e.bucketValues === 'object' && keys.every((k) => typeof e.bucketValues[k] === 'number'));
  }
}
