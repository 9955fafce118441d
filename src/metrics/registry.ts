// Registers the catalog with prom-client on a given registry; one factory, no module singletons.
import type * as Prom from 'prom-client';
import type { Registry } from 'prom-client';
import { promClient as client } from '../util/cjs.js';
import type { Config } from '../config/schema.js';
import { budgetRows, SeriesBudgets, type BudgetLimit } from './budget.js';
import { OVERFLOW } from './guard.js';
import { catalog, CONNECTION_CLOSE_REASONS, LIFECYCLE_ANOMALY_KINDS, TAIL_TRANSPORTS, type MetricDef } from './catalog.js';
import { CounterSeries } from './series.js';

type C = typeof catalog;
type Key = keyof C;
type LabelsOf<D> = D extends MetricDef<infer L> ? L : never;

/** The prom-client instrument of a catalog entry: its type picks the class, its labels the label names. */
type Instrument<D> = D extends { readonly type: 'counter' }
  ? Prom.Counter<LabelsOf<D>>
  : D extends { readonly type: 'gauge' }
    ? Prom.Gauge<LabelsOf<D>>
    : Prom.Histogram<LabelsOf<D>>;

/** Values read at scrape time from parts built after the metrics (state store, sources). */
export interface ScrapeProviders {
  activeRuns?: () => Promise<{ workflow_type: string; state: string; count: number }[]> | { workflow_type: string; state: string; count: number }[];
  sources?: () => { name: string; kind: string; connected: boolean; pending?: number }[];
  overdueRuns?: () => Promise<{ workflow_type: string; count: number }[]>;
  /** open HTTP connections (server/connections.ts) */
  httpConnections?: () => number;
}

/** One instrument per catalog entry, under the catalog's key, and what the metric code shares. */
export type Metrics = { [K in Key]: Instrument<C[K]> } & {
  registry: Registry;
  providers: ScrapeProviders;
  /** series budgets per family and the cap on all series; every series an event makes takes room here */
  budgets: SeriesBudgets;
};

/** Histograms whose buckets config sets (metrics.buckets.<key>); the others keep the catalog's. */
const CONFIG_BUCKETS: Partial<Record<Key, keyof Config['metrics']['buckets']>> = {
  runDuration: 'run',
  stageDuration: 'stage',
  taskDuration: 'task',
  eventLag: 'lag',
  taskQueueWait: 'queueWait',
  toolDuration: 'tool',
};

type Collect = (this: Prom.Gauge<string>) => void | Promise<void>;

function counter<L extends string>(registry: Registry, d: MetricDef<L>) {
  return new client.Counter<L>({ name: d.name, help: d.help, labelNames: [...d.labels], registers: [registry] });
}
function gauge<L extends string>(registry: Registry, d: MetricDef<L>, collect?: Prom.GaugeConfiguration<L>['collect']) {
  return new client.Gauge<L>({ name: d.name, help: d.help, labelNames: [...d.labels], registers: [registry], collect });
}
function histogram<L extends string>(registry: Registry, d: MetricDef<L>, buckets?: readonly number[], enableExemplars = false) {
  const h = new client.Histogram<L>({
    name: d.name,
    help: d.help,
    labelNames: [...d.labels],
    buckets: [...(buckets ?? d.buckets ?? [])],
    // prom-client refuses exemplars on a registry whose format is Prometheus text at construction;
    // ours switches to OpenMetrics per scrape (server/metrics.ts), so it is registered after
    registers: enableExemplars ? [] : [registry],
    ...(enableExemplars ? { enableExemplars } : {}),
  });
  if (enableExemplars) registry.registerMetric(h);
  return h;
}

/** The histograms whose observations can come from spans (docs/OTLP.md, Exemplars). */
const EXEMPLAR_HISTOGRAMS = new Set<Key>(['runDuration', 'stageDuration', 'taskDuration', 'toolDuration']);

export const VERSION = '0.1.0';

/**
 * `exemplars`: the duration histograms of runs, stages, tasks and tool calls keep a trace id per
 * bucket (resolved from metrics.exemplars by the app). Off, they are prom-client's plain histograms.
 */
export function createMetrics(registry: Registry, cfg: Config['metrics'], opts: { exemplars?: boolean } = {}): Metrics {
  const ex = opts.exemplars === true;
  if (cfg.defaultMetrics) {
    client.collectDefaultMetrics({ register: registry });
    // prom-client names these gauges ..._total, which `promtool check metrics` rejects; the
    // per-type resource gauges (nodejs_active_handles etc.) carry the same counts
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name);
  }
  const providers: ScrapeProviders = {};
  const seriesOverflow = counter(registry, catalog.seriesOverflow);
  const refusals = new Map<string, CounterSeries>();
  const refusal = (metric: string, limit: BudgetLimit): CounterSeries => {
    const k = `${limit}:${metric}`; // metric names are [a-zA-Z0-9_:]: no value can split this key
    let c = refusals.get(k);
    if (c === undefined) refusals.set(k, (c = new CounterSeries(seriesOverflow, [metric, limit])));
    return c;
  };
  const budgets = new SeriesBudgets(cfg, (metric, limit) => refusal(metric, limit).inc());
  // The families events feed start at zero for both limits, so the first fold is an increase() the
  // budget alert sees, and the health dashboard's panel has a series before anything folds.
  for (const d of Object.values(catalog) as MetricDef[]) {
    if (d.labels.length > 0 && !d.name.startsWith('workflow_exporter_')) for (const limit of ['metric', 'total'] as const) refusal(d.name, limit).inc(0);
  }
  // Gauges read at scrape time from the providers; the budgets fold what is past them into one series.
  const collectors: Partial<Record<Key, Collect>> = {
    runsActive: async function () {
      if (!providers.activeRuns) return;
      const runs = budgetRows(activeBudget, await providers.activeRuns(), (r) => [r.workflow_type, r.state], (count) => ({ workflow_type: OVERFLOW, state: OVERFLOW, count }));
      this.reset();
      for (const r of runs) this.labels(r.workflow_type, r.state).set(r.count);
    },
    runsOverdue: async function () {
      if (!providers.overdueRuns) return;
      const runs = budgetRows(overdueBudget, await providers.overdueRuns(), (r) => [r.workflow_type], (count) => ({ workflow_type: OVERFLOW, count }));
      this.reset();
      for (const r of runs) this.labels(r.workflow_type).set(r.count);
    },
    sourceUp: function () {
      for (const s of providers.sources?.() ?? []) this.labels(s.name, s.kind).set(s.connected ? 1 : 0);
    },
    sourcePending: function () {
      for (const s of providers.sources?.() ?? []) if (s.pending !== undefined) this.labels(s.name).set(s.pending);
    },
    httpConnections: function () {
      if (providers.httpConnections) this.set(providers.httpConnections());
    },
  };
  // registered in catalog order, which is the order of /metrics (series overflow, made above, first)
  const instruments: Record<string, unknown> = {};
  for (const key of Object.keys(catalog) as Key[]) {
    const d: MetricDef = catalog[key];
    const bucketKey = CONFIG_BUCKETS[key];
    instruments[key] =
      key === 'seriesOverflow'
        ? seriesOverflow
        : d.type === 'counter'
          ? counter(registry, d)
          : d.type === 'gauge'
            ? gauge(registry, d, collectors[key])
            : histogram(registry, d, bucketKey && cfg.buckets[bucketKey], ex && EXEMPLAR_HISTOGRAMS.has(key));
  }
  const m = { registry, providers, budgets, ...instruments } as Metrics;
  const activeBudget = budgets.family(m.runsActive as unknown as { name: string });
  const overdueBudget = budgets.family(m.runsOverdue as unknown as { name: string });
  // Closed label sets start at zero, so dashboards and rate()s see a series before the first event.
  for (const action of ['pause', 'resume', 'cancel']) {
    for (const outcome of ['published', 'failed', 'refused', 'invalid']) m.controlCommands.labels(action, outcome).inc(0);
  }
  for (const kind of LIFECYCLE_ANOMALY_KINDS) m.lifecycleAnomalies.labels(kind).inc(0);
  for (const transport of TAIL_TRANSPORTS) {
    m.tailClients.labels(transport).set(0);
    m.tailDropped.labels(transport).inc(0);
  }
  for (const reason of CONNECTION_CLOSE_REASONS) m.httpConnectionsClosed.labels(reason).inc(0);
  for (const signal of ['metrics', 'traces']) for (const result of ['ok', 'error']) m.otlpExports.labels(signal, result).inc(0);
  m.buildInfo.set({ version: VERSION, node_version: process.version }, 1);
  return m;
}
