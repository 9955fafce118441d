// In-process statistics over a sliding window for the live page: rates, error ratio, p50/p95/p99.
import type { WorkflowEvent } from '../../events/schema.js';

export const SAMPLES_PER_KEY_SECOND = 256; // duration samples kept per key and second; reservoir beyond
export const MAX_KEYS = 200; // distinct workflow types / agents / types per second before __overflow__
export const OVERFLOW_KEY = '__overflow__';

export interface Percentiles {
  count: number;
  p50: number;
  p95: number;
  p99: number;
}

export interface WindowSnapshot {
  window_seconds: number;
  events: number;
  rate_per_second: number;
  errors: number;
  outcomes: number;
  /** errors / outcomes in the window; null before the first outcome */
  error_ratio: number | null;
  by_type: Record<string, number>;
  latency_seconds: {
    /** workflow run durations (workflow.completed/failed/cancelled) by workflow type */
    workflow_type: Record<string, Percentiles>;
    /** task durations (task.completed/failed) by agent, as workflow_task_duration_seconds */
    agent: Record<string, Percentiles>;
  };
  /** per second, oldest first, ending at the current second */
  series: { start: number; step_seconds: 1; events: number[]; errors: number[] };
}

/** 'error' for *.failed and *.error, 'success' for *.completed and agent.response; else not an outcome. */
export function outcomeClass(type: string): 'error' | 'success' | undefined {
  if (type.endsWith('.failed') || type.endsWith('.error')) return 'error';
  if (type.endsWith('.completed') || type === 'agent.response') return 'success';
  return undefined;
}

class Samples {
  seen = 0;
  readonly values: number[] = [];
  add(v: number): void {
    this.seen++;
    if (this.values.length < SAMPLES_PER_KEY_SECOND) this.values.push(v);
    else {
      // reservoir sampling keeps a uniform sample of the second without growing
      const j = Math.floor(Math.random() * this.seen);
      if (j < SAMPLES_PER_KEY_SECOND) this.values[j] = v;
    }
  }
}

class Slot {
  sec = -1;
  events = 0;
  errors = 0;
  outcomes = 0;
  readonly byType = new Map<string, number>();
  readonly runs = new Map<string, Samples>();
  readonly tasks = new Map<string, Samples>();

  reset(sec: number): void {
    this.sec = sec;
    this.events = 0;
    this.errors = 0;
    this.outcomes = 0;
    this.byType.clear();
    this.runs.clear();
    this.tasks.clear();
  }
}

function boundedKey<V>(m: Map<string, V>, key: string): string {
  return m.has(key) || m.size < MAX_KEYS ? key : OVERFLOW_KEY;
}

function sample(m: Map<string, Samples>, key: string, v: number): void {
  const k = boundedKey(m, key);
  let s = m.get(k);
  if (!s) m.set(k, (s = new Samples()));
  s.add(v);
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

type Gathered = Map<string, { seen: number; values: number[] }>;

/** count is every duration seen in the window; the percentiles come from the kept samples. */
function percentiles(groups: Gathered): Record<string, Percentiles> {
  const out: Record<string, Percentiles> = {};
  for (const [k, { seen, values }] of [...groups].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    values.sort((a, b) => a - b);
    out[k] = { count: seen, p50: percentile(values, 50), p95: percentile(values, 95), p99: percentile(values, 99) };
  }
  return out;
}

export class WindowStats {
  private readonly slots: Slot[];
  private readonly startSec: number;

  constructor(
    readonly windowSeconds: number,
    private readonly now: () => number,
  ) {
    this.slots = Array.from({ length: windowSeconds }, () => new Slot());
    this.startSec = Math.floor(now() / 1000);
  }

  private slot(sec: number): Slot {
    const s = this.slots[sec % this.windowSeconds];
    if (s.sec !== sec) s.reset(sec);
    return s;
  }

  /**
   * Counts one event at the current second (or at `atMs`, for events read back from the bus; one
   * older than the window is not counted); `durationS` is NaN when the event has none.
   */
  add(e: WorkflowEvent, durationS: number, atMs?: number): void {
    const nowSec = Math.floor(this.now() / 1000);
    const sec = atMs === undefined ? nowSec : Math.floor(atMs / 1000);
    if (sec <= nowSec - this.windowSeconds || sec > nowSec) return;
    const s = this.slot(sec);
    s.events++;
    const t = boundedKey(s.byType, e.type);
    s.byType.set(t, (s.byType.get(t) ?? 0) + 1);
    const cls = outcomeClass(e.type);
    if (cls) {
      s.outcomes++;
      if (cls === 'error') s.errors++;
    }
    if (durationS === durationS) {
      if (e.type === 'workflow.completed' || e.type === 'workflow.failed' || e.type === 'workflow.cancelled') {
        sample(s.runs, e.workflow?.type ?? 'unknown', durationS);
      } else if (e.type === 'task.completed' || e.type === 'task.failed') {
        sample(s.tasks, e.agent ?? 'unknown', durationS);
      }
    }
  }

  /** Forgets every second of the window. */
  clear(): void {
    for (const s of this.slots) s.reset(-1);
  }

  snapshot(): WindowSnapshot {
    const nowSec = Math.floor(this.now() / 1000);
    const first = nowSec - this.windowSeconds + 1;
    const events = new Array<number>(this.windowSeconds).fill(0);
    const errorsSeries = new Array<number>(this.windowSeconds).fill(0);
    let total = 0;
    let errors = 0;
    let outcomes = 0;
    const byType = new Map<string, number>();
    const runs: Gathered = new Map();
    const tasks: Gathered = new Map();
    const gather = (from: Map<string, Samples>, to: Gathered) => {
      for (const [k, s] of from) {
        const g = to.get(k);
        if (g) {
          g.seen += s.seen;
          for (const v of s.values) g.values.push(v);
        } else to.set(k, { seen: s.seen, values: [...s.values] });
      }
    };
    for (const s of this.slots) {
      if (s.sec < first || s.sec > nowSec) continue;
      events[s.sec - first] = s.events;
      errorsSeries[s.sec - first] = s.errors;
      total += s.events;
      errors += s.errors;
      outcomes += s.outcomes;
      for (const [k, n] of s.byType) byType.set(k, (byType.get(k) ?? 0) + n);
      gather(s.runs, runs);
      gather(s.tasks, tasks);
    }
    const covered = Math.max(1, Math.min(this.windowSeconds, nowSec - this.startSec + 1));
    return {
      window_seconds: this.windowSeconds,
      events: total,
      rate_per_second: total / covered,
      errors,
      outcomes,
      error_ratio: outcomes > 0 ? errors / outcomes : null,
      by_type: Object.fromEntries([...byType].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))),
      latency_seconds: { workflow_type: percentiles(runs), agent: percentiles(tasks) },
      series: { start: first, step_seconds: 1, events, errors: errorsSeries },
    };
  }
}
