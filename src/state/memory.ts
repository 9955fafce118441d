// In-process lifecycle store: the embedded default; bounded, oldest entries evicted first.
import type { ActiveRuns, AnomalyCounter, LifecycleOp, LifecycleStore, OpenRun } from './lifecycle.js';

interface Open {
  seq: number;
  startMs: number;
  run: string;
  workflowType: string;
  state: 'running' | 'paused';
  workflow: boolean;
}

export class MemoryLifecycleStore implements LifecycleStore {
  private readonly open = new Map<string, Open>();
  // Start order for eviction. Taking the first key of a Map whose front was deleted walks every
  // deleted slot (V8 keeps them until a rehash), a cost that grows with the entries (docs/benchmarks-log.md). A queue
  // with a head index is O(1); entries that ended are skipped by their sequence and compacted away.
  private order: { key: string; seq: number }[] = [];
  private head = 0;
  private seq = 0;
  /**
   * Open runs per workflow type, then state. Nested rather than keyed by a joined string: a type is
   * raw event text and may contain any separator. An entry goes when its count reaches 0, so the
   * map (and the gauge read from it) holds only types with open runs, never every type ever seen.
   */
  private readonly active = new Map<string, Map<string, number>>();

  constructor(
    private readonly maxEntries: number,
    private readonly countAnomaly: AnomalyCounter,
  ) {}

  private bump(type: string, state: string, delta: number): void {
    let byState = this.active.get(type);
    const n = Math.max(0, (byState?.get(state) ?? 0) + delta);
    if (n > 0) {
      if (byState === undefined) this.active.set(type, (byState = new Map()));
      byState.set(state, n);
    } else if (byState !== undefined) {
      byState.delete(state);
      if (byState.size === 0) this.active.delete(type);
    }
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
          this.open.set(o.key, { seq: ++this.seq, startMs: o.timeMs, run: o.run, workflowType: o.workflowType, state: 'running', workflow: o.op === 'W' });
          this.order.push({ key: o.key, seq: this.seq });
          // most entries end long before they would be evicted: compacting once the queue holds twice
          // what is still open (plus slack) keeps it near the open count, at O(1) amortized per start
          if (this.order.length - this.head > 2 * this.open.size + 1024) this.compact();
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
    while (this.head < this.order.length) {
      const { key, seq } = this.order[this.head++];
      const cur = this.open.get(key);
      if (!cur || cur.seq !== seq) continue; // ended (or ended and restarted) since it was queued
      this.open.delete(key);
      if (cur.workflow) this.bump(cur.workflowType, cur.state, -1);
      this.countAnomaly('evicted');
      break;
    }
    if (this.head > 4096 && this.head * 2 > this.order.length) this.compact();
  }

  /** Drops queue entries of runs that ended, keeping start order. */
  private compact(): void {
    const live: { key: string; seq: number }[] = [];
    for (let i = this.head; i < this.order.length; i++) {
      const q = this.order[i];
      if (this.open.get(q.key)?.seq === q.seq) live.push(q);
    }
    this.order = live;
    this.head = 0;
  }

  activeRuns(): ActiveRuns[] {
    const out: ActiveRuns[] = [];
    for (const [workflow_type, byState] of this.active) {
      for (const [state, count] of byState) out.push({ workflow_type, state: state as 'running' | 'paused', count });
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
