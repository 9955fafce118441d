// Event-time accounting: duplicate ids within a window, late events, and lifecycle events that
// arrive out of order, each counted by kind so no gauge or duration goes negative behind our back.
import type { Config } from '../config/schema.js';
import type { WorkflowEvent } from '../events/schema.js';
import type { ActiveRuns, LifecycleOp, LifecycleStore } from '../sinks/state/lifecycle.js';
import { RecentIds } from './recent-ids.js';

export type AccountingKind = 'duplicate_id' | 'late' | 'out_of_order';
export type AccountingCounter = (kind: AccountingKind) => void;

/**
 * Keys in arrival order with a value and an arrival time, at most `cap` of them; the oldest leave
 * first, by count or by age. The order lives in a ring beside the Map: deleting from the front of a
 * Map and asking it for its next key walks V8's tombstones, which we measured at 30-100 us per event
 * once 100k ids were held, against about 1 us for the ring (fresh ids, hashing included) on the same
 * busy 2-core machine.
 */
export class RecentKeys<V> {
  // key -> its sequence number: a plain number, not an object per key, since each key lives long
  // enough at ingest rates to be promoted and then die in the old generation
  private readonly map = new Map<string, number>();
  private readonly keys: string[] = [];
  private readonly times: number[] = [];
  /** values by ring slot; a slot is overwritten only after its key was evicted */
  private readonly values: V[] = [];
  private seq = 0;
  private oldest = 0;

  constructor(private readonly cap: number) {}

  get size(): number {
    return this.map.size;
  }

  has(key: string): boolean {
    return this.map.has(key);
  }

  get(key: string): V | undefined {
    const seq = this.map.get(key);
    return seq === undefined ? undefined : this.values[seq % this.cap];
  }

  set(key: string, value: V, atMs: number): void {
    if (this.seq - this.oldest === this.cap) this.evict();
    const slot = this.seq % this.cap;
    this.keys[slot] = key;
    this.times[slot] = atMs;
    this.values[slot] = value;
    this.map.set(key, this.seq++);
  }

  /** Its ring slot stays and is skipped when it ages out (the sequence no longer matches). */
  delete(key: string): boolean {
    return this.map.delete(key);
  }

  /** Drops keys that arrived before `cutoffMs`. */
  expire(cutoffMs: number): void {
    while (this.oldest < this.seq && this.times[this.oldest % this.cap] < cutoffMs) this.evict();
  }

  private evict(): void {
    const key = this.keys[this.oldest % this.cap];
    if (this.map.get(key) === this.oldest) this.map.delete(key);
    this.oldest++;
  }
}

/**
 * Duplicate and late detection, called by the pipeline once per validated batch.
 *
 * Duplicates: at-least-once buses redeliver a batch whose ack was lost, and producers retry; an id
 * seen again within the window is counted and (by default) dropped before state, metrics and tail,
 * so a redelivery cannot count a run twice. Memory is bounded: ids are kept (as 64-bit hashes,
 * recent-ids.ts) in arrival order and the oldest go first, by window or by count. The ids a batch
 * added are forgotten again when that batch fails, because the bus will redeliver it and it must
 * then count.
 */
export class EventAccounting {
  private readonly seen: RecentIds;
  private readonly windowMs: number;
  private readonly lateMs: number;

  constructor(
    private readonly cfg: Config['accounting'],
    private readonly count: AccountingCounter,
  ) {
    this.windowMs = cfg.dedupeWindowSeconds * 1000;
    this.lateMs = cfg.lateAfterSeconds * 1000;
    this.seen = new RecentIds(cfg.dedupeMaxIds);
  }

  /**
   * Counts late events and duplicate ids; with dropDuplicates removes duplicates from `events` and
   * `timesMs` in place. Returns the ids this batch added (hand them to forget() if the batch fails).
   */
  admit(events: WorkflowEvent[], timesMs: number[], nowMs: number): string[] {
    const added: string[] = [];
    const dedupe = this.windowMs > 0;
    if (dedupe) this.seen.expire(nowMs - this.windowMs);
    const lateBefore = nowMs - this.lateMs;
    let w = 0;
    for (let i = 0; i < events.length; i++) {
      const e = events[i];
      if (dedupe) {
        if (this.seen.add(e.id, nowMs)) {
          added.push(e.id);
        } else {
          this.count('duplicate_id');
          if (this.cfg.dropDuplicates) continue;
        }
      }
      if (timesMs[i] < lateBefore) this.count('late');
      if (w !== i) {
        events[w] = e;
        timesMs[w] = timesMs[i];
      }
      w++;
    }
    events.length = w;
    timesMs.length = w;
    return added;
  }

  /** Forgets ids of a batch that failed: its redelivery is not a duplicate. */
  forget(ids: string[]): void {
    for (const id of ids) this.seen.delete(id);
  }

  /** Ids currently remembered (for tests and the cardinality report). */
  get size(): number {
    return this.seen.size;
  }
}

/**
 * A lifecycle store that remembers end events which found no start, so a start arriving after its
 * end (out of order) is counted and never opens a run that no end will ever close. Without it, a
 * late start would hold workflow_runs_active (and workflow_runs_overdue) up forever.
 * Bounded: the oldest orphan ends are forgotten first. Per replica: an end handled by one replica
 * and its late start by another are not matched (the Redis TTL still forgets that run).
 */
export class OrderedLifecycleStore implements LifecycleStore {
  private readonly orphans: RecentKeys<number>;

  constructor(
    readonly inner: LifecycleStore,
    maxOrphans: number,
    private readonly count: AccountingCounter,
  ) {
    this.orphans = new RecentKeys(maxOrphans);
  }

  apply(ops: LifecycleOp[]): Promise<number[]> | number[] {
    let kept = ops;
    let skipped: boolean[] | undefined;
    if (this.orphans.size > 0) {
      for (let i = 0; i < ops.length; i++) {
        const o = ops[i];
        if (o.op !== 'W' && o.op !== 'S') continue;
        const endMs = this.orphans.get(o.key);
        if (endMs === undefined) continue;
        this.orphans.delete(o.key);
        // a start later than the orphan end is a new attempt (a retried task), not a late start
        if (o.timeMs <= endMs) {
          this.count('out_of_order');
          (skipped ??= new Array<boolean>(ops.length).fill(false))[i] = true;
        }
      }
      if (skipped) kept = ops.filter((_, i) => !skipped![i]);
    }
    const res = this.inner.apply(kept);
    return res instanceof Promise ? res.then((r) => this.after(ops, kept, r, skipped)) : this.after(ops, kept, res, skipped);
  }

  private after(ops: LifecycleOp[], kept: LifecycleOp[], res: number[], skipped: boolean[] | undefined): number[] {
    for (let j = 0; j < kept.length; j++) {
      const o = kept[j];
      const r = res[j];
      if ((o.op === 'X' || o.op === 'E') && r !== r) {
        this.orphans.set(o.key, o.timeMs, 0);
      }
    }
    if (!skipped) return res;
    const out = new Array<number>(ops.length);
    for (let i = 0, j = 0; i < ops.length; i++) out[i] = skipped[i] ? NaN : res[j++];
    return out;
  }

  activeRuns(): Promise<ActiveRuns[]> | ActiveRuns[] {
    return this.inner.activeRuns();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
