// PromQL builders over the metric catalog: selectors take a MetricDef and only its label names, so
// a renamed metric or label breaks the build of every dashboard and rule that uses it.
import type { MetricDef } from '../metrics/catalog.js';

export type LabelOf<D> = D extends MetricDef<infer L> ? L : never;

/** Labels Prometheus attaches to every scraped series. */
export const TARGET_LABELS = ['job', 'instance'] as const;
export type TargetLabel = (typeof TARGET_LABELS)[number];

/**
 * Series the artifacts use that the exporter's catalog does not define: Prometheus's own `up`, and
 * prom-client's default process metrics (on unless `metrics.defaultMetrics: false`).
 */
export const FOREIGN_METRICS: readonly MetricDef[] = [
  { name: 'up', type: 'gauge', help: 'set by Prometheus per scrape target', labels: [] },
  { name: 'process_resident_memory_bytes', type: 'gauge', help: 'prom-client default metric', labels: [] },
  { name: 'process_cpu_seconds_total', type: 'counter', help: 'prom-client default metric', labels: [] },
  { name: 'nodejs_eventloop_lag_p99_seconds', type: 'gauge', help: 'prom-client default metric', labels: [] },
];
export const foreign = {
  up: FOREIGN_METRICS[0],
  memory: FOREIGN_METRICS[1],
  cpu: FOREIGN_METRICS[2],
  eventLoopLagP99: FOREIGN_METRICS[3],
} as const;

/** A label matcher value: a plain string is `=`; re()/nre()/ne() give the other operators. */
export type MatchValue = string | { op: '=' | '!=' | '=~' | '!~'; value: string };
export const re = (value: string): MatchValue => ({ op: '=~', value });
export const nre = (value: string): MatchValue => ({ op: '!~', value });
export const ne = (value: string): MatchValue => ({ op: '!=', value });

export type Matchers<D> = Partial<Record<LabelOf<D> | TargetLabel, MatchValue>>;
export type Suffix = '' | '_bucket' | '_sum' | '_count';

function quote(v: string): string {
  return JSON.stringify(v);
}

/** `name{a="x", b=~"y"}`; matcher order is the order given, so output is deterministic. */
export function sel<D extends MetricDef>(m: D, matchers: Matchers<D> = {}, suffix: Suffix = ''): string {
  if (suffix !== '' && m.type !== 'histogram') throw new Error(`${m.name} is a ${m.type}; ${suffix} applies to histograms`);
  const parts = Object.entries(matchers as Record<string, MatchValue | undefined>)
    .filter((e): e is [string, MatchValue] => e[1] !== undefined)
    .map(([k, v]) => (typeof v === 'string' ? `${k}=${quote(v)}` : `${k}${v.op}${quote(v.value)}`));
  return `${m.name}${suffix}${parts.length ? `{${parts.join(', ')}}` : ''}`;
}

/** A recording rule's output name, with optional matchers on its labels. */
export function rec(name: string, matchers: Record<string, MatchValue> = {}): string {
  const parts = Object.entries(matchers).map(([k, v]) => (typeof v === 'string' ? `${k}=${quote(v)}` : `${k}${v.op}${quote(v.value)}`));
  return `${name}${parts.length ? `{${parts.join(', ')}}` : ''}`;
}

export const rate = (selector: string, window: string) => `rate(${selector}[${window}])`;
export const increase = (selector: string, window: string) => `increase(${selector}[${window}])`;

export function by(labels: readonly string[]): string {
  return labels.length ? ` by (${labels.join(', ')})` : '';
}

/** `sum by (l) (rate(m{…}[w]))` */
export function sumRate<D extends MetricDef>(m: D, labels: readonly (LabelOf<D> | TargetLabel)[], window: string, matchers: Matchers<D> = {}, suffix: Suffix = ''): string {
  return `sum${by(labels)} (${rate(sel(m, matchers, suffix), window)})`;
}

/** `histogram_quantile(q, sum by (le, l) (rate(m_bucket{…}[w])))` */
export function quantile<D extends MetricDef>(q: number, m: D, labels: readonly LabelOf<D>[], window: string, matchers: Matchers<D> = {}): string {
  if (m.type !== 'histogram') throw new Error(`${m.name} is not a histogram`);
  return `histogram_quantile(${q}, sum${by(['le', ...labels])} (${rate(sel(m, matchers, '_bucket'), window)}))`;
}

/** A number as PromQL reads it back: no float noise such as 0.30000000000000004. */
export function num(v: number): string {
  return String(Number(v.toPrecision(12)));
}
