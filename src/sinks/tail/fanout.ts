// The tail's fan-out: a pass per batch interval hands each client its queue in one frame, written in
// slices spread over the interval when clients are many, with clients holding the same events
// sharing one frame.
import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import { SharedFrames, type TailClient } from './client.js';

type TailConfig = Config['tail'];

/**
 * Clients one slice of a flush writes to. A socket write costs tens of microseconds on loopback
 * (docs/benchmarks-log.md), so a slice holds the loop a few ms; a pass over more clients is spread
 * over the interval in slices, which keeps the loop free for ingest and scrapes and lets no client
 * wait for a thousand writes before its own.
 */
export const SLICE_CLIENTS = 100;
/** slices of one pass are at least this far apart (timers have millisecond resolution) */
export const MIN_SLICE_MS = 5;

/**
 * The wait after a flush that wrote to `writes` clients before the next one: batchIntervalMs while
 * they are few; with many, long enough that the writes stay at maxWritesPerSecond (each client gets
 * one write per flush, so the socket writes, not the events, are what many clients multiply), and
 * never more than maxBatchIntervalMs.
 */
export function batchInterval(cfg: Pick<TailConfig, 'batchIntervalMs' | 'maxBatchIntervalMs' | 'maxWritesPerSecond'>, writes: number): number {
  const spread = Math.ceil((writes * 1000) / cfg.maxWritesPerSecond);
  return Math.max(cfg.batchIntervalMs, Math.min(cfg.maxBatchIntervalMs, spread));
}

/**
 * How many slices a pass over `clients` clients is cut into when passes are `intervalMs` apart: one
 * per SLICE_CLIENTS clients, no more than fit MIN_SLICE_MS apart in the interval.
 */
export function passSlices(clients: number, intervalMs: number): number {
  return Math.max(1, Math.min(Math.ceil(clients / SLICE_CLIENTS), Math.floor(intervalMs / MIN_SLICE_MS)));
}

/** A flush pass in progress: the clients it started with, written slice by slice. */
interface Pass {
  clients: TailClient[];
  slices: number;
  sliceMs: number;
  next: number;
  writes: number;
  /** a client skipped because its socket still held too much */
  waiting: boolean;
  /** clients holding the same events share one frame (see flushSlice) */
  frames: Map<string, SharedFrames>;
}

export class FanOut {
  private flushTimer?: NodeJS.Timeout;
  private flushSoon?: NodeJS.Immediate;
  /** performance.now() when the last pass started: a batch waits only for what is left of the interval since */
  private lastFlushAt = -Infinity;
  /** the interval after the last pass (batchInterval of the clients it wrote to) */
  private interval: number;
  private pass?: Pass;
  /** events were queued while a pass was running: another pass follows it */
  private queuedDuringPass = false;
  private closed = false;

  constructor(
    private readonly config: TailConfig,
    private readonly clients: Set<TailClient>,
    private readonly logger: Logger,
    /** takes a client whose write failed out of the tail */
    private readonly drop: (c: TailClient) => void,
  ) {
    this.interval = config.batchIntervalMs;
  }

  /** The interval the next flush waits for since the last one: batchInterval of the clients that one wrote to. */
  get intervalMs(): number {
    return this.interval;
  }

  /**
   * At most one pass per batch interval, and no longer wait than that: when the last pass started
   * an interval ago or more, the events go out at once (after this turn of the loop, so batches
   * arriving together share a frame); under load the passes stay an interval apart.
   */
  schedule(): void {
    if (this.pass) {
      this.queuedDuringPass = true;
      return;
    }
    if (this.flushTimer || this.flushSoon || this.closed) return;
    const wait = this.lastFlushAt + this.interval - performance.now();
    if (wait <= 0) this.flushSoon = setImmediate(() => this.startPass());
    else this.flushTimer = setTimeout(() => this.startPass(), Math.ceil(wait));
  }

  /**
   * A pass gives every client one frame per interval: with many clients it writes them in slices
   * spread over the interval (passSlices), so each client still gets one frame per interval but the
   * loop is held a few ms at a time instead of the whole pass, and a client's wait does not include
   * the writes to everyone before it.
   */
  private startPass(): void {
    this.flushTimer = this.flushSoon = undefined;
    if (this.closed) return;
    this.lastFlushAt = performance.now();
    const clients = [...this.clients];
    const slices = passSlices(clients.length, this.interval);
    this.pass = { clients, slices, sliceMs: this.interval / slices, next: 0, writes: 0, waiting: false, frames: new Map() };
    this.queuedDuringPass = false;
    this.flushSlice();
  }

  /** Writes the pass's next slice; schedules the one after, or ends the pass. */
  private flushSlice(): void {
    this.flushTimer = undefined;
    const p = this.pass;
    if (!p) return;
    const n = p.clients.length;
    const end = Math.floor(((p.next + 1) * n) / p.slices);
    for (let i = Math.floor((p.next * n) / p.slices); i < end; i++) {
      const c = p.clients[i];
      if (!this.clients.has(c)) continue; // gone since the pass started
      if (c.queue.length === 0 && c.dropped === 0) continue;
      if (c.buffered() > this.config.maxBufferedBytes) {
        p.waiting = true;
        continue;
      }
      // clients holding the same events (same filter, same first and last entry, same count) get one
      // frame, built once: a queue is always a run of consecutive matches, so these fix its content
      const q = c.queue;
      let shared: SharedFrames | undefined;
      if (q.length > 0 && c.filterKey !== undefined) {
        const key = `${q[0].seq} ${q[q.length - 1].seq} ${q.length} ${c.filterKey}`;
        shared = p.frames.get(key);
        if (shared === undefined) p.frames.set(key, (shared = new SharedFrames()));
      }
      this.send(c, shared);
      p.writes++;
    }
    p.next++;
    if (p.next < p.slices) {
      const wait = this.lastFlushAt + p.next * p.sliceMs - performance.now(); // lastFlushAt: when this pass started
      this.flushTimer = setTimeout(() => this.flushSlice(), Math.max(0, Math.ceil(wait)));
      return;
    }
    this.pass = undefined;
    this.interval = batchInterval(this.config, p.writes);
    if (p.waiting || this.queuedDuringPass) this.schedule();
  }

  /**
   * Writes every client's queue now (the rest of a pass in progress, or a whole pass): one frame per
   * client, as a pass does, without spreading the slices.
   */
  flush(): void {
    clearTimeout(this.flushTimer);
    clearImmediate(this.flushSoon);
    this.flushTimer = this.flushSoon = undefined;
    if (!this.pass) this.startPass();
    while (this.pass) {
      clearTimeout(this.flushTimer); // the timer of the pass's next slice: it runs now
      this.flushSlice();
    }
  }

  /** Hands the client its queue (after a dropped notice when it missed some) in one write. */
  send(c: TailClient, shared?: SharedFrames): void {
    const q = c.queue;
    const d = c.dropped;
    c.queue = [];
    c.queuedBytes = 0;
    c.dropped = 0;
    c.delivered += q.length;
    try {
      c.deliver(q, d, false, shared);
    } catch (err) {
      this.logger.warn({ err, transport: c.transport }, 'tail client write failed; closing it');
      c.terminate();
      this.drop(c);
    }
  }

  /** No pass runs after this: the tail is closing. */
  stop(): void {
    this.closed = true;
    clearTimeout(this.flushTimer);
    clearImmediate(this.flushSoon);
    this.flushTimer = this.flushSoon = undefined;
    this.pass = undefined;
  }
}
