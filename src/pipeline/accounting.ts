// Event-time accounting: duplicate ids within a window, late events, and lifecycle events that
// arrive out of order, each counted by kind so no gauge or duration goes negative behind our back.
import type { Config } from '../config/schema.js';
import type { WorkflowEvent } from '../events/schema.js';
import type { ActiveRuns, LifecycleOp, LifecycleStore } from '../state/lifecycle.js';
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
 * The duplicate filter replicas share (the Redis state backend implements it), one round trip per
 * batch. A claim is provisional (short-lived) until its batch went through every sink, then held
 * for the dedupe window: a replica that dies between the claim and counting leaves claims that
 * expire before the bus redelivers the batch to another replica, which then counts it, while an
 * event counted and redelivered later (a lost ack, a replica killed before its ack) is dropped.
 */
export interface SharedIds {
  /** Claims the ids for `pendingMs`; per id true when it was new, false when a replica holds a claim on it. */
  claimIds(ids: string[], pendingMs: number): Promise<boolean[]>;
  /** Holds the claims of a batch the sinks took for `windowMs`. */
  confirmIds(ids: string[], windowMs: number): Promise<void>;
  /** Releases claims of a batch that failed, so its redelivery counts (best effort). */
  releaseIds(ids: string[]): Promise<void>;
}

/** What a batch added to the filters; handed back to forget() when the batch fails. */
export interface Admitted {
  /** ids added to this process's memory */
  local: string[];
  /** ids this process claimed in the shared filter (never another replica's claim) */
  claimed?: string[];
}

const NOTHING: Admitted = { local: [] };

/**
 * Duplicate and late detection, called by the pipeline once per validated batch.
 *
 * Duplicates: at-least-once buses redeliver a batch whose ack was lost, and producers retry; an id
 * seen again within the window is counted and (by default) dropped before state, metrics and tail,
 * so a redelivery cannot count a run twice. Memory is bounded: ids are kept (as 64-bit hashes,
 * recent-ids.ts) in arrival order and the oldest go first, by window or by count. The ids a batch
 * added are forgotten again when that batch fails, because the bus will redeliver it and it must
 * then count. With a shared filter, ids new to this process are then claimed there too, so a
 * redelivery that lands on another replica is caught as well.
 */
export class EventAccounting {
  private readonly seen: RecentIds;
  private readonly windowMs: number;
  private readonly lateMs: number;
  private readonly pendingMs: number;

  constructor(
    private readonly cfg: Config['accounting'],
    private readonly count: AccountingCounter,
    private readonly shared?: SharedIds,
  ) {
    this.pendingMs = Math.min(cfg.sharedDedupePendingMs, cfg.dedupeWindowSeconds * 1000);
    this.windowMs = cfg.dedupeWindowSeconds * 1000;
    this.lateMs = cfg.lateAfterSeconds * 1000;
    this.seen = new RecentIds(cfg.dedupeMaxIds);
  }

  /**
   * Counts late events and duplicate ids; with dropDuplicates removes duplicates from `events` and
   * `timesMs` in place. Returns what this batch added (hand it to forget() if the batch fails); a
   * promise only when a shared filter is configured and the batch had ids new to this process.
   */
  admit(events: WorkflowEvent[], timesMs: number[], nowMs: number): Admitted | Promise<Admitted> {
    if (this.windowMs <= 0) {
      this.settle(events, timesMs, nowMs, undefined);
      return NOTHING;
    }
    this.seen.expire(nowMs - this.windowMs);
    const local: string[] = [];
    let dup: Uint8Array | undefined; // per event, 1 = a duplicate
    for (let i = 0; i < events.length; i++) {
      if (this.seen.add(events[i].id, nowMs)) local.push(events[i].id);
      else (dup ??= new Uint8Array(events.length))[i] = 1;
    }
    if (!this.shared || local.length === 0) {
      this.settle(events, timesMs, nowMs, dup);
      return { local };
    }
    return this.claim(events, timesMs, nowMs, dup, local);
  }

  private async claim(events: WorkflowEvent[], timesMs: number[], nowMs: number, dup: Uint8Array | undefined, local: string[]): Promise<Admitted> {
    let fresh: boolean[];
    try {
      fresh = await this.shared!.claimIds(local, this.pendingMs);
    } catch (err) {
      for (const id of local) this.seen.delete(id);
      throw err;
    }
    const claimed: string[] = [];
    // `local` holds the ids of the events not marked in `dup`, in event order
    for (let i = 0, j = 0; i < events.length; i++) {
      if (dup?.[i]) continue;
      if (fresh[j++]) {
        claimed.push(events[i].id);
      } else {
        (dup ??= new Uint8Array(events.length))[i] = 1;
        // counted elsewhere, or about to be: not remembered here, so that when the replica holding
        // a provisional claim dies, the redelivery that reaches this process still counts
        this.seen.delete(events[i].id);
      }
    }
    this.settle(events, timesMs, nowMs, dup);
    return { local, claimed };
  }

  /** Counts duplicates (dropping them with dropDuplicates) and late events; compacts in place. */
  private settle(events: WorkflowEvent[], timesMs: number[], nowMs: number, dup: Uint8Array | undefined): void {
    const lateBefore = nowMs - this.lateMs;
    let w = 0;
    for (let i = 0; i < events.length; i++) {
      if (dup?.[i]) {
        this.count('duplicate_id');
        if (this.cfg.dropDuplicates) continue;
      }
      if (timesMs[i] < lateBefore) this.count('late');
      if (w !== i) {
        events[w] = events[i];
        timesMs[w] = timesMs[i];
      }
      w++;
    }
    events.length = w;
    timesMs.length = w;
  }

  /**
   * After every sink took the batch: its claims are held for the whole window. Not awaited by the
   * pipeline (the ack need not wait a round trip); when it fails the claims lapse after
   * sharedDedupePendingMs, and a later redelivery would be counted again (a duplicate, never a loss).
   */
  confirm(admitted: Admitted): Promise<void> | undefined {
    if (!admitted.claimed || admitted.claimed.length === 0) return undefined;
    return this.shared!.confirmIds(admitted.claimed, this.windowMs).catch(() => undefined);
  }

  /** Forgets what a failed batch added: its redelivery is not a duplicate. */
  async forget(admitted: Admitted): Promise<void> {
    for (const id of admitted.local) this.seen.delete(id);
    if (admitted.claimed && admitted.claimed.length > 0) await this.shared!.releaseIds(admitted.claimed);
  }

  /** Ids currently remembered by this process (for tests and the cardinality report). */
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
