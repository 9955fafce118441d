// In-process lifecycle store: the embedded default; bounded, oldest entries evicted first.
import type { ActiveRuns, AnomalyCounter, LifecycleOp, LifecycleStore, OpenRun } from './lifecycle.js';

interface Open {
  startMs: number;
  run: string;
  workflowType: string;
  state: 'running' | 'paused';
  workflow: boolean;
}

export class MemoryLifecycleStore implements LifecycleStore {
  // Map keeps insertion order, so the first key is the oldest open entry.
  private readonly open = new Map<string, Open>();
  private readonly active = new Map<string, number>();

  constructor(
    private readonly maxEntries: number,
    private readonly countAnomaly: AnomalyCounter,
  ) {}

  private bump(type: string, state: string, delta: number): void {
    const k = `${type}\u0000${state}`;
    this.active.set(k, Math.max(0, (this.active.get(k) ?? 0) + delta));
  }

  apply(ops: LifecycleOp[]): number[] {
    const out = new Array<number>(ops.length);
    for (let i = 0; i < ops.length; i++) {
      const o = ops[i];
      out[i] = NaN;
      const cur = this.open.get(o.key);
      switch (o.op) {
        case 'W':
        case 'S':
          if (cur) {
            this.countAnomaly('duplicate_start');
            break;
          }
          this.open.set(o.key, { startMs: o.timeMs, run: o.run, workflowType: o.workflowType, state: 'running', workflow: o.op === 'W' });
          if (o.op === 'W') this.bump(o.workflowType, 'running', 1);
          if (this.open.size > this.maxEntries) this.evictOldest();
          break;
        case 'X':
        case 'E':
          if (!cur) {
            this.countAnomaly('end_without_start');
            break;
          }
          this.open.delete(o.key);
          if (cur.workflow) this.bump(cur.workflowType, cur.state, -1);
          out[i] = cur.startMs;
          o.startType = cur.workflowType;
          break;
        case 'P':
        case 'R': {
          if (!cur) {
            this.countAnomaly('pause_without_start');
            break;
          }
          const next = o.op === 'P' ? 'paused' : 'running';
          if (cur.state !== next) {
            this.bump(cur.workflowType, cur.state, -1);
            this.bump(cur.workflowType, next, 1);
            cur.state = next;
          }
          break;
        }
      }
    }
    return out;
  }

  private evictOldest(): void {
    const first = this.open.keys().next();
    if (first.done) return;
    const cur = this.open.get(first.value)!;
    this.open.delete(first.value);
    if (cur.workflow) this.bump(cur.workflowType, cur.state, -1);
    this.countAnomaly('evicted');
  }

  activeRuns(): ActiveRuns[] {
    const out: ActiveRuns[] = [];
    for (const [k, count] of this.active) {
      const [workflow_type, state] = k.split('\u0000');
      out.push({ workflow_type, state: state as 'running' | 'paused', count });
    }
    return out;
  }

  async openRunsBefore(beforeMs: number): Promise<OpenRun[]> {
    const out: OpenRun[] = [];
    for (const o of this.open.values()) {
      if (o.workflow && o.startMs < beforeMs) out.push({ run: o.run, workflowType: o.workflowType, startMs: o.startMs, state: o.state });
    }
    return out;
  }

  async overdueCounts(cutoff: (workflowType: string) => number | undefined): Promise<{ workflowType: string; count: number }[]> {
    const counts = new Map<string, number>();
    const cutoffs = new Map<string, number | undefined>();
    for (const o of this.open.values()) {
      if (!o.workflow) continue;
      let c = cutoffs.get(o.workflowType);
      if (c === undefined && !cutoffs.has(o.workflowType)) cutoffs.set(o.workflowType, (c = cutoff(o.workflowType)));
      if (c !== undefined && o.startMs < c) counts.set(o.workflowType, (counts.get(o.workflowType) ?? 0) + 1);
    }
    return [...counts].map(([workflowType, count]) => ({ workflowType, count }));
  }

  async close(): Promise<void> {}
}
