// The metrics sink: turns validated events (and lifecycle durations) into the catalog's series.
import type { Counter, Gauge, Histogram } from 'prom-client';
import type { FamilyBudget, SeriesBudgets } from '../../metrics/budget.js';
import { OVERFLOW, type CardinalityGuard } from '../../metrics/guard.js';
import type { ProcessedBatch, Sink } from '../../pipeline/types.js';
import { outcomeOf, UNKNOWN } from '../../state/lifecycle.js';
import type { Metrics } from '../../metrics/registry.js';
import { CounterSeries, HistogramSeries, type ExemplarLabels } from '../../metrics/series.js';
import type { WorkflowEvent } from '../../events/schema.js';

type Inc = { inc(v?: number): void };
export type Obs = { observe(v: number, exemplar?: ExemplarLabels): void };

const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;

/**
 * The exemplar of an event's duration: its W3C trace and span ids (events of the otlp source carry
 * them, and any producer may in attributes.trace_id / span_id). Only well-formed ids: an exemplar is
 * a link into a trace store, and prom-client refuses label sets longer than OpenMetrics allows.
 */
export function exemplarOf(e: WorkflowEvent): ExemplarLabels | undefined {
  const a = e.attributes;
  if (a === undefined) return undefined;
  const t = a.trace_id;
  if (typeof t !== 'string' || !TRACE_ID.test(t)) return undefined;
  const s = a.span_id;
  return typeof s === 'string' && SPAN_ID.test(s) ? { trace_id: t, span_id: s } : { trace_id: t };
}

/**
 * Caches series handles by label values, one Map level per label: a lookup allocates nothing (a
 * joined key would build a string per call, and a separator inside a value could split it), then the
 * handle adds to the series directly (series.ts) where prom-client would hash a label object per call.
 *
 * A combination seen for the first time takes room in its family's series budget; when the budget
 * (or the cap on all series) is full it is counted and gets this cache's one overflow series, whose
 * labels are all __overflow__. Refused combinations are not cached, so the cache never holds more
 * than the budget admits.
 */
export class Children<T> {
  private readonly one = new Map<string, T>();
  private readonly two = new Map<string, Map<string, T>>();
  private readonly three = new Map<string, Map<string, Map<string, T>>>();
  private readonly four = new Map<string, Map<string, Map<string, Map<string, T>>>>();
  private overflow?: T;

  constructor(
    private readonly make: (values: string[]) => T,
    /** undefined for the exporter's own closed-set metrics */
    private readonly family?: FamilyBudget,
  ) {}

  get(a: string, b?: string, c?: string, d?: string): T {
    if (b === undefined) return this.one.get(a) ?? this.miss(a);
    if (c === undefined) return this.two.get(a)?.get(b) ?? this.miss(a, b);
    if (d === undefined) return this.three.get(a)?.get(b)?.get(c) ?? this.miss(a, b, c);
    return this.four.get(a)?.get(b)?.get(c)?.get(d) ?? this.miss(a, b, c, d);
  }

  private miss(a: string, b?: string, c?: string, d?: string): T {
    const limit = this.family?.take();
    if (limit !== undefined) {
      this.family!.refuse(limit, a, b, c, d);
      return this.overflowChild(b === undefined ? 1 : c === undefined ? 2 : d === undefined ? 3 : 4);
    }
    if (b === undefined) {
      const child = this.make([a]);
      this.one.set(a, child);
      return child;
    }
    if (c === undefined) {
      const child = this.make([a, b]);
      level(this.two, a).set(b, child);
      return child;
    }
    if (d === undefined) {
      const child = this.make([a, b, c]);
      level(level(this.three, a), b).set(c, child);
      return child;
    }
    const child = this.make([a, b, c, d]);
    level(level(level(this.four, a), b), c).set(d, child);
    return child;
  }

  private overflowChild(n: number): T {
    if (this.overflow === undefined) {
      this.family!.takeOverflow();
      this.overflow = this.make(new Array<string>(n).fill(OVERFLOW));
    }
    return this.overflow;
  }
}

/** The map under `key`, made on first use. */
function level<V>(m: Map<string, Map<string, V>>, key: string): Map<string, V> {
  let next = m.get(key);
  if (next === undefined) m.set(key, (next = new Map()));
  return next;
}

/** The budget of a metric's family, or undefined for the exporter's own (workflow_exporter_*) metrics. */
function familyOf(m: { name: string }, budgets?: SeriesBudgets): FamilyBudget | undefined {
  return budgets?.family(m as unknown as { name: string; labelNames?: string[]; upperBounds?: number[] });
}

export function counterChildren(m: Counter<string>, budgets: SeriesBudgets | undefined): Children<Inc> {
  return new Children((v) => new CounterSeries(m, v), familyOf(m as unknown as { name: string }, budgets));
}
export function histogramChildren(m: Histogram<string>, budgets: SeriesBudgets): Children<Obs> {
  return new Children((v) => new HistogramSeries(m, v), familyOf(m as unknown as { name: string }, budgets));
}
export function gaugeChildren(m: Gauge<string>, budgets: SeriesBudgets): Children<{ set(v: number): void }> {
  return new Children((v) => m.labels(...v), familyOf(m as unknown as { name: string }, budgets));
}

/** A gauge of the latest time seen per label set, never moved back by a late event. */
export class Latest {
  private readonly children: Children<{ ts: number; gauge: { set(v: number): void } }>;
  constructor(m: Gauge<string>, budgets: SeriesBudgets) {
    this.children = new Children((v) => ({ ts: -Infinity, gauge: m.labels(...v) }), familyOf(m as unknown as { name: string }, budgets));
  }

  update(ts: number, a: string): void {
    const seen = this.children.get(a);
    if (ts > seen.ts) {
      seen.ts = ts;
      seen.gauge.set(ts);
    }
  }
}

export class MetricsSink implements Sink {
  readonly name = 'metrics';
  private readonly events: Children<Inc>;
  private readonly started: Children<Inc>;
  private readonly finished: Children<Inc>;
  private readonly runDur: Children<Obs>;
  private readonly stageDur: Children<Obs>;
  private readonly tasks: Children<Inc>;
  private readonly taskDur: Children<Obs>;
  private readonly lag: Children<Obs>;
  /** per guarded agent, the latest event time */
  private readonly lastSeen: Latest;
  private readonly queueDepth: Children<{ set(v: number): void }>;
  /** guarded workflow types seen on a run's start or end: the overdue gauge exports each from then on */
  readonly workflowTypes = new Set<string>();

  constructor(
    m: Metrics,
    private readonly guard: CardinalityGuard,
  ) {
    const b = m.budgets;
    this.events = counterChildren(m.eventsTotal, b);
    // a type is recorded when its first series is made, so the hot path pays nothing for it
    const seen = (make: (v: string[]) => Inc) => (v: string[]) => {
      this.workflowTypes.add(v[0]);
      return make(v);
    };
    this.started = new Children(seen((v) => new CounterSeries(m.runsStarted, v)), familyOf(m.runsStarted as unknown as { name: string }, b));
    this.finished = new Children(seen((v) => new CounterSeries(m.runsFinished, v)), familyOf(m.runsFinished as unknown as { name: string }, b));
    this.runDur = histogramChildren(m.runDuration, b);
    this.stageDur = histogramChildren(m.stageDuration, b);
    this.tasks = counterChildren(m.tasksTotal, b);
    this.taskDur = histogramChildren(m.taskDuration, b);
    this.lag = histogramChildren(m.eventLag, b);
    this.lastSeen = new Latest(m.agentLastSeen, b);
    this.queueDepth = gaugeChildren(m.queueDepth, b);
  }

  write(batch: ProcessedBatch): void {
    const g = this.guard;
    const { events, timesMs, durations, receivedAtMs } = batch;
    for (let i = 0; i < events.length; i++) {
      const e = events[i];
      const source = g.value('source', e.source);
      const type = g.value('type', e.type);
      this.events.get(source, type).inc();
      const lag = (receivedAtMs - timesMs[i]) / 1000;
      this.lag.get(source).observe(lag > 0 ? lag : 0);

      // last-seen is the latest event time, never moved backwards by a late event
      if (e.agent !== undefined) this.lastSeen.update(timesMs[i] / 1000, g.value('agent', e.agent));

      const dot = e.type.indexOf('.');
      const kind = dot > 0 ? e.type.slice(0, dot) : e.type;
      const d = durations[i];
      switch (kind) {
        case 'workflow': {
          const wt = g.value('workflow_type', e.workflow?.type ?? UNKNOWN);
          if (e.type === 'workflow.started') {
            this.started.get(wt).inc();
            break;
          }
          const outcome = outcomeOf(e.type);
          if (!outcome) break;
          this.finished.get(wt, outcome).inc();
          if (d === d) this.runDur.get(wt, outcome).observe(d, exemplarOf(e));
          break;
        }
        case 'stage': {
          const outcome = outcomeOf(e.type);
          if (!outcome || e.stage === undefined) break;
          if (d === d) {
            this.stageDur
              .get(g.value('workflow_type', e.workflow?.type ?? UNKNOWN), g.value('stage', e.stage), outcome)
              .observe(d, exemplarOf(e));
          }
          break;
        }
        case 'task': {
          const outcome = outcomeOf(e.type);
          if (!outcome) break;
          const agent = g.value('agent', e.agent ?? UNKNOWN);
          this.tasks.get(agent, outcome).inc();
          if (d === d) this.taskDur.get(agent, outcome).observe(d, exemplarOf(e));
          break;
        }
        case 'queue':
          if (e.queue) this.queueDepth.get(g.value('queue', e.queue.name)).set(e.queue.depth);
          break;
      }
    }
  }
}
