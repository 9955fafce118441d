// The metrics sink: turns validated events (and lifecycle durations) into the catalog's series.
import type { Counter, Histogram } from 'prom-client';
import type { CardinalityGuard } from '../../metrics/guard.js';
import type { ProcessedBatch, Sink } from '../../pipeline/types.js';
import { outcomeOf, UNKNOWN } from '../../state/lifecycle.js';
import type { Metrics } from '../../metrics/registry.js';
import { CounterSeries, HistogramSeries } from '../../metrics/series.js';

type Inc = { inc(v?: number): void };
type Obs = { observe(v: number): void };

/**
 * Caches series handles by label values, one Map level per label: a lookup allocates nothing (a
 * joined key would build a string per call), then the handle adds to the series directly
 * (series.ts) where prom-client would hash a label object per call.
 */
export class Children<T> {
  private readonly one = new Map<string, T>();
  private readonly two = new Map<string, Map<string, T>>();
  private readonly three = new Map<string, Map<string, Map<string, T>>>();
  constructor(private readonly make: (values: string[]) => T) {}

  get(a: string, b?: string, c?: string): T {
    if (b === undefined) {
      let child = this.one.get(a);
      if (child === undefined) this.one.set(a, (child = this.make([a])));
      return child;
    }
    if (c === undefined) {
      let byB = this.two.get(a);
      if (byB === undefined) this.two.set(a, (byB = new Map()));
      let child = byB.get(b);
      if (child === undefined) byB.set(b, (child = this.make([a, b])));
      return child;
    }
    let byB = this.three.get(a);
    if (byB === undefined) this.three.set(a, (byB = new Map()));
    let byC = byB.get(b);
    if (byC === undefined) byB.set(b, (byC = new Map()));
    let child = byC.get(c);
    if (child === undefined) byC.set(c, (child = this.make([a, b, c])));
    return child;
  }
}

export function counterChildren(m: Counter<string>): Children<Inc> {
  return new Children((v) => new CounterSeries(m, v));
}
export function histogramChildren(m: Histogram<string>): Children<Obs> {
  return new Children((v) => new HistogramSeries(m, v));
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
  /** per guarded agent: the latest event time and its gauge child (labels() would build one per call) */
  private readonly lastSeen = new Map<string, { ts: number; gauge: { set(v: number): void } }>();

  constructor(
    private readonly m: Metrics,
    private readonly guard: CardinalityGuard,
  ) {
    this.events = counterChildren(m.eventsTotal);
    this.started = counterChildren(m.runsStarted);
    this.finished = counterChildren(m.runsFinished);
    this.runDur = histogramChildren(m.runDuration);
    this.stageDur = histogramChildren(m.stageDuration);
    this.tasks = counterChildren(m.tasksTotal);
    this.taskDur = histogramChildren(m.taskDuration);
    this.lag = histogramChildren(m.eventLag);
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

      if (e.agent !== undefined) {
        // last-seen is the latest event time, never moved backwards by a late event; keyed by the
        // guarded value so a flood of agent names cannot grow this map past the label cap
        const agent = g.value('agent', e.agent);
        const ts = timesMs[i] / 1000;
        let seen = this.lastSeen.get(agent);
        if (seen === undefined) this.lastSeen.set(agent, (seen = { ts: -Infinity, gauge: this.m.agentLastSeen.labels(agent) }));
        if (ts > seen.ts) {
          seen.ts = ts;
          seen.gauge.set(ts);
        }
      }

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
          if (d === d) this.runDur.get(wt, outcome).observe(d);
          break;
        }
        case 'stage': {
          const outcome = outcomeOf(e.type);
          if (!outcome || e.stage === undefined) break;
          if (d === d) {
            this.stageDur
              .get(g.value('workflow_type', e.workflow?.type ?? UNKNOWN), g.value('stage', e.stage), outcome)
              .observe(d);
          }
          break;
        }
        case 'task': {
          const outcome = outcomeOf(e.type);
          if (!outcome) break;
          const agent = g.value('agent', e.agent ?? UNKNOWN);
          this.tasks.get(agent, outcome).inc();
          if (d === d) this.taskDur.get(agent, outcome).observe(d);
          break;
        }
        case 'queue':
          if (e.queue) this.m.queueDepth.labels(g.value('queue', e.queue.name)).set(e.queue.depth);
          break;
      }
    }
  }
}
