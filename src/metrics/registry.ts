// Registers the catalog with prom-client on a given registry; one factory, no module singletons.
import type * as Prom from 'prom-client';
import type { Registry } from 'prom-client';
import { promClient as client } from '../util/cjs.js';
import type { Config } from '../config/schema.js';
import { budgetRows, SeriesBudgets } from './budget.js';
import { OVERFLOW } from './guard.js';
import { catalog, CONNECTION_CLOSE_REASONS, LIFECYCLE_ANOMALY_KINDS, TAIL_TRANSPORTS, type MetricDef } from './catalog.js';
import { CounterSeries } from './series.js';

type Labels<D> = D extends MetricDef<infer L> ? L : never;
type C = typeof catalog;

/** Values read at scrape time from parts built after the metrics (state store, sources). */
export interface ScrapeProviders {
  activeRuns?: () => Promise<{ workflow_type: string; state: string; count: number }[]> | { workflow_type: string; state: string; count: number }[];
  sources?: () => { name: string; kind: string; connected: boolean; pending?: number }[];
  overdueRuns?: () => Promise<{ workflow_type: string; count: number }[]>;
  /** open HTTP connections (server/connections.ts) */
  httpConnections?: () => number;
}

export interface Metrics {
  registry: Registry;
  providers: ScrapeProviders;
  /** series budgets per family and the cap on all series; every series an event makes takes room here */
  budgets: SeriesBudgets;
  eventsTotal: Prom.Counter<Labels<C['eventsTotal']>>;
  runsStarted: Prom.Counter<Labels<C['runsStarted']>>;
  runsFinished: Prom.Counter<Labels<C['runsFinished']>>;
  runsActive: Prom.Gauge<Labels<C['runsActive']>>;
  runDuration: Prom.Histogram<Labels<C['runDuration']>>;
  stageDuration: Prom.Histogram<Labels<C['stageDuration']>>;
  tasksTotal: Prom.Counter<Labels<C['tasksTotal']>>;
  taskDuration: Prom.Histogram<Labels<C['taskDuration']>>;
  agentLastSeen: Prom.Gauge<Labels<C['agentLastSeen']>>;
  queueDepth: Prom.Gauge<Labels<C['queueDepth']>>;
  eventLag: Prom.Histogram<Labels<C['eventLag']>>;
  sourceLastEvent: Prom.Gauge<Labels<C['sourceLastEvent']>>;
  runsOverdue: Prom.Gauge<Labels<C['runsOverdue']>>;
  taskQueueWait: Prom.Histogram<Labels<C['taskQueueWait']>>;
  agentTokens: Prom.Counter<Labels<C['agentTokens']>>;
  agentCost: Prom.Counter<Labels<C['agentCost']>>;
  agentBudget: Prom.Gauge<Labels<C['agentBudget']>>;
  toolCalls: Prom.Counter<Labels<C['toolCalls']>>;
  toolDuration: Prom.Histogram<Labels<C['toolDuration']>>;
  received: Prom.Counter<Labels<C['received']>>;
  rejected: Prom.Counter<Labels<C['rejected']>>;
  sourceUp: Prom.Gauge<Labels<C['sourceUp']>>;
  sourcePending: Prom.Gauge<Labels<C['sourcePending']>>;
  sourceErrors: Prom.Counter<Labels<C['sourceErrors']>>;
  batchDuration: Prom.Histogram<Labels<C['batchDuration']>>;
  seriesOverflow: Prom.Counter<Labels<C['seriesOverflow']>>;
  labelOverflow: Prom.Counter<Labels<C['labelOverflow']>>;
  lifecycleAnomalies: Prom.Counter<Labels<C['lifecycleAnomalies']>>;
  deadLetters: Prom.Counter<Labels<C['deadLetters']>>;
  tailClients: Prom.Gauge<Labels<C['tailClients']>>;
  tailDropped: Prom.Counter<Labels<C['tailDropped']>>;
  tailRejected: Prom.Counter<Labels<C['tailRejected']>>;
  authRejected: Prom.Counter<Labels<C['authRejected']>>;
  httpConnections: Prom.Gauge<Labels<C['httpConnections']>>;
  httpConnectionsClosed: Prom.Counter<Labels<C['httpConnectionsClosed']>>;
  controlCommands: Prom.Counter<Labels<C['controlCommands']>>;
  otlpExports: Prom.Counter<Labels<C['otlpExports']>>;
  buildInfo: Prom.Gauge<Labels<C['buildInfo']>>;
}

function counter<L extends string>(registry: Registry, d: MetricDef<L>) {
  return new client.Counter<L>({ name: d.name, help: d.help, labelNames: [...d.labels], registers: [registry] });
}
function gauge<L extends string>(registry: Registry, d: MetricDef<L>, collect?: Prom.GaugeConfiguration<L>['collect']) {
  return new client.Gauge<L>({ name: d.name, help: d.help, labelNames: [...d.labels], registers: [registry], collect });
}
function histogram<L extends string>(registry: Registry, d: MetricDef<L>, buckets?: readonly number[]) {
  return new client.Histogram<L>({
    name: d.name,
    help: d.help,
    labelNames: [...d.labels],
    buckets: [...(buckets ?? d.buckets ?? [])],
    registers: [registry],
  });
}

export const VERSION = '0.1.0';

export function createMetrics(registry: Registry, cfg: Config['metrics']): Metrics {
  if (cfg.defaultMetrics) {
    client.collectDefaultMetrics({ register: registry });
    // prom-client names these gauges ..._total, which `promtool check metrics` rejects; the
    // per-type resource gauges (nodejs_active_handles etc.) carry the same counts
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) registry.removeSingleMetric(name);
  }
  const providers: ScrapeProviders = {};
  const seriesOverflow = counter(registry, catalog.seriesOverflow);
  const refusals = new Map<string, CounterSeries>();
  const budgets = new SeriesBudgets(cfg, (metric, limit) => {
    const k = `${limit}:${metric}`; // metric names are [a-zA-Z0-9_:]: no value can split this key
    let c = refusals.get(k);
    if (c === undefined) refusals.set(k, (c = new CounterSeries(seriesOverflow, [metric, limit])));
    c.inc();
  });
  const m: Metrics = {
    registry,
    providers,
    budgets,
    eventsTotal: counter(registry, catalog.eventsTotal),
    runsStarted: counter(registry, catalog.runsStarted),
    runsFinished: counter(registry, catalog.runsFinished),
    runsActive: gauge(registry, catalog.runsActive, async function () {
      if (!providers.activeRuns) return;
      const runs = budgetRows(activeBudget, await providers.activeRuns(), (r) => [r.workflow_type, r.state], (count) => ({ workflow_type: OVERFLOW, state: OVERFLOW, count }));
      this.reset();
      for (const r of runs) this.labels(r.workflow_type, r.state).set(r.count);
    }),
    runDuration: histogram(registry, catalog.runDuration, cfg.buckets.run),
    stageDuration: histogram(registry, catalog.stageDuration, cfg.buckets.stage),
    tasksTotal: counter(registry, catalog.tasksTotal),
    taskDuration: histogram(registry, catalog.taskDuration, cfg.buckets.task),
    agentLastSeen: gauge(registry, catalog.agentLastSeen),
    queueDepth: gauge(registry, catalog.queueDepth),
    eventLag: histogram(registry, catalog.eventLag, cfg.buckets.lag),
    sourceLastEvent: gauge(registry, catalog.sourceLastEvent),
    runsOverdue: gauge(registry, catalog.runsOverdue, async function () {
      if (!providers.overdueRuns) return;
      const runs = budgetRows(overdueBudget, await providers.overdueRuns(), (r) => [r.workflow_type], (count) => ({ workflow_type: OVERFLOW, count }));
      this.reset();
      for (const r of runs) this.labels(r.workflow_type).set(r.count);
    }),
    taskQueueWait: histogram(registry, catalog.taskQueueWait, cfg.buckets.queueWait),
    agentTokens: counter(registry, catalog.agentTokens),
    agentCost: counter(registry, catalog.agentCost),
    agentBudget: gauge(registry, catalog.agentBudget),
    toolCalls: counter(registry, catalog.toolCalls),
    toolDuration: histogram(registry, catalog.toolDuration, cfg.buckets.tool),
    received: counter(registry, catalog.received),
    rejected: counter(registry, catalog.rejected),
    sourceUp: gauge(registry, catalog.sourceUp, function () {
      for (const s of providers.sources?.() ?? []) this.labels(s.name, s.kind).set(s.connected ? 1 : 0);
    }),
    sourcePending: gauge(registry, catalog.sourcePending, function () {
      for (const s of providers.sources?.() ?? []) if (s.pending !== undefined) this.labels(s.name).set(s.pending);
    }),
    sourceErrors: counter(registry, catalog.sourceErrors),
    batchDuration: histogram(registry, catalog.batchDuration),
    seriesOverflow,
    labelOverflow: counter(registry, catalog.labelOverflow),
    lifecycleAnomalies: counter(registry, catalog.lifecycleAnomalies),
    deadLetters: counter(registry, catalog.deadLetters),
    tailClients: gauge(registry, catalog.tailClients),
    tailDropped: counter(registry, catalog.tailDropped),
    tailRejected: counter(registry, catalog.tailRejected),
    authRejected: counter(registry, catalog.authRejected),
    httpConnections: gauge(registry, catalog.httpConnections, function () {
      if (providers.httpConnections) this.set(providers.httpConnections());
    }),
    httpConnectionsClosed: counter(registry, catalog.httpConnectionsClosed),
    controlCommands: counter(registry, catalog.controlCommands),
    otlpExports: counter(registry, catalog.otlpExports),
    buildInfo: gauge(registry, catalog.buildInfo),
  };
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
