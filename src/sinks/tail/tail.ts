// The tail sink: keeps the history ring and window statistics, and fans events out to live clients
// in batches, shedding (and counting) what a slow client cannot take so it never slows the others.
import type { Logger } from 'pino';
import type { Config, SourceConfig } from '../../config/schema.js';
import type { WorkflowEvent } from '../../events/schema.js';
import type { ProcessedBatch, Sink } from '../../pipeline/types.js';
import type { Metrics } from '../../metrics/registry.js';
import { SharedFrames, type TailClient, type Transport } from './client.js';
import { compileFilter, type TailFilter } from './filter.js';
import { History, type TailEntry } from './history.js';
import { WindowStats, type WindowSnapshot } from './stats.js';
import { descriptorOf } from '../../sources/index.js';
import type { StreamPositions } from '../../sources/types.js';
import { readStreamHistory } from './stream-history.js';

export type TailConfig = Config['tail'];

export const CLOSE_GRACE_MS = 1000; // a client that does not answer our close frame is cut after this

/**
 * Clients one slice of a flush writes to. A socket write costs ~20 µs on loopback, so a slice holds
 * the loop ~2 ms; a pass over more clients is spread over the interval in slices, which keeps the
 * loop free for ingest and scrapes and lets no client wait for a thousand writes before its own.
 */
export const SLICE_CLIENTS = 100;
/** slices of one pass are at least this far apart (timers have millisecond resolution) */
export const MIN_SLICE_MS = 5;
/** a new client's first snapshot reuses one computed this recently (a reconnect storm computes it once) */
export const SNAPSHOT_REUSE_MS = 500;

/** A tail event: the canonical event, with duration_ms derived from its start when it had none. */
export type TailEvent = WorkflowEvent & { duration_derived?: true };

/**
 * The event with `duration_ms` from the lifecycle (end time minus its start), marked as derived; a
 * copy, because the other sinks hold the same event. Microsecond precision, free of float noise.
 */
export function withDerivedDuration(event: WorkflowEvent, seconds: number): TailEvent {
  return { ...event, duration_ms: Math.round(seconds * 1e6) / 1e3, duration_derived: true };
}

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

/** the events of a batch one filter matched, and their JSON length */
interface Matched {
  list: TailEntry[];
  bytes: number;
}

export interface ActiveRun {
  workflow_type: string;
  state: string;
  count: number;
}

export interface Snapshot extends WindowSnapshot {
  time: string;
  /** events the tail took since the process started */
  events_total: number;
  history: { size: number; capacity: number };
  active_runs: { total: number; by_workflow_type: Record<string, Record<string, number>> };
  clients: Record<Transport, number>;
  dropped_total: number;
}

export interface TailDeps {
  config: TailConfig;
  metrics: Metrics;
  logger: Logger;
  now?: () => number;
  activeRuns?: () => Promise<ActiveRun[]> | ActiveRun[];
  /** the redacted copy of an event (pipeline/redact.ts); every event the tail keeps goes through it */
  redact?: (event: WorkflowEvent) => WorkflowEvent;
}

export interface SubscribeResult {
  replayed: number;
  /** true when the replay started right after the client's last seen event */
  resumed: boolean;
}

export class TailSink implements Sink {
  readonly name = 'tail';
  readonly history: History;
  readonly stats: WindowStats;
  readonly config: TailConfig;
  private readonly clients = new Set<TailClient>();
  private readonly now: () => number;
  private flushTimer?: NodeJS.Timeout;
  private flushSoon?: NodeJS.Immediate;
  /** performance.now() when the last pass started: a batch waits only for what is left of the interval since */
  private lastFlushAt = -Infinity;
  /** the interval after the last pass (batchInterval of the clients it wrote to) */
  private intervalMs: number;
  private pass?: Pass;
  /** events were queued while a pass was running: another pass follows it */
  private queuedDuringPass = false;
  private lastSnapshot?: { at: number; json: Promise<string> };
  private snapshotTimer?: NodeJS.Timeout;
  private heartbeatTimer?: NodeJS.Timeout;
  private snapshotting = false;
  private closed = false;
  eventsTotal = 0;
  droppedTotal = 0;
  /** sources whose events reach the tail through the follower (follow.ts), not the pipeline */
  private readonly followed = new Set<string>();

  constructor(private readonly deps: TailDeps) {
    this.config = deps.config;
    this.intervalMs = deps.config.batchIntervalMs;
    this.now = deps.now ?? Date.now;
    const redact = deps.redact;
    // before redaction, so a redacted duration_ms stays redacted
    this.history = new History(deps.config.historySize, (event, seconds) => {
      const e = event.duration_ms === undefined && seconds === seconds ? withDerivedDuration(event, seconds) : event;
      return redact ? redact(e) : e;
    });
    this.stats = new WindowStats(deps.config.windowSeconds, this.now);
  }

  /**
   * Hands the events of `sources` to the follower: the pipeline's batches from them are skipped,
   * since this replica's shared consumer sees only its share and the follower sees them all.
   */
  follow(sources: Iterable<string>): void {
    for (const s of sources) this.followed.add(s);
  }

  /** The pipeline's batches: all but those of followed sources. */
  write(batch: ProcessedBatch): void {
    if (this.followed.size > 0 && this.followed.has(batch.source)) return;
    this.take(batch);
  }

  /** Keeps a batch in the history and the window and queues it for clients (the follower calls this directly). */
  take(batch: ProcessedBatch): void {
    const { events, durations, source, receivedAtMs } = batch;
    const fanOut = this.clients.size > 0;
    const entries: TailEntry[] | undefined = fanOut ? new Array(events.length) : undefined;
    for (let i = 0; i < events.length; i++) {
      const entry = this.history.push(events[i], source, receivedAtMs, durations[i]);
      this.stats.add(events[i], durations[i]);
      if (entries) entries[i] = entry;
    }
    this.eventsTotal += events.length;
    if (!entries) return; // no clients: the history and the window are all there is to do
    let queued = false;
    // most clients share a filter: match each distinct filter once per batch, not once per client
    const matched = new Map<string, Matched>();
    for (const c of this.clients) {
      const match = c.match;
      if (!match) continue;
      const key = c.filterKey;
      let m = key === undefined ? undefined : matched.get(key);
      if (m === undefined) {
        m = { list: [], bytes: 0 };
        for (const e of entries) {
          if (!match(e)) continue;
          m.list.push(e);
          m.bytes += e.json().length;
        }
        if (key !== undefined) matched.set(key, m);
      }
      if (m.list.length === 0) continue;
      this.enqueueAll(c, m);
      queued = true;
    }
    if (queued) this.schedule();
  }

  /**
   * A batch's matches for one client: appended at once when the whole batch fits its queue (what
   * enqueue would do event by event, without its checks per event and client), else one by one.
   */
  private enqueueAll(c: TailClient, m: Matched): void {
    const q = c.queue;
    // (a batch within the byte bound has no event over it, so none that enqueue would drop as too large)
    if (q.length + m.list.length <= this.config.maxQueueEvents && c.queuedBytes + m.bytes <= this.config.maxQueueBytes) {
      for (const e of m.list) q.push(e);
      c.queuedBytes += m.bytes;
      return;
    }
    for (const e of m.list) this.enqueue(c, e);
  }

  /** Events that arrived before this process started (read back from the stream), oldest first. */
  preload(items: { event: WorkflowEvent; source: string; receivedAtMs: number }[]): void {
    for (const it of items) this.history.push(it.event, it.source, it.receivedAtMs);
  }

  /**
   * Fills the history from the NATS streams and Redis keys of the bus sources, within
   * historyLoadTimeoutMs; call before the sources start so history comes before live events.
   * With `positions` (the follower takes over) every stream is read to its end, recorded there.
   */
  async loadHistory(sources: { name: string; config: SourceConfig }[], validation: Config['validation'], positions?: StreamPositions): Promise<number> {
    const bus = sources.filter((s) => descriptorOf(s.config.kind).readHistory);
    if (!this.config.historyFromSources || this.config.historySize === 0 || bus.length === 0) return 0;
    const ac = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => {
        ac.abort();
        resolve(undefined);
      }, this.config.historyLoadTimeoutMs);
    });
    const read = readStreamHistory(bus, {
      limit: this.config.historySize,
      validation,
      logger: this.deps.logger,
      now: this.now,
      signal: ac.signal,
      timeoutMs: this.config.historyLoadTimeoutMs,
      positions,
    });
    try {
      const items = await Promise.race([read, timeout]);
      if (!items) {
        this.deps.logger.warn({ timeoutMs: this.config.historyLoadTimeoutMs }, 'tail history not read in time; starting without it');
        read.catch(() => undefined);
        return 0;
      }
      this.preload(items);
      return items.length;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Per-client queue and socket figures: what a slow client holds on the server right now. */
  clientStats(): { transport: Transport; subscribed: boolean; queued: number; queuedBytes: number; buffered: number; delivered: number; dropped: number }[] {
    return [...this.clients].map((c) => ({
      transport: c.transport,
      subscribed: c.match !== undefined,
      queued: c.queue.length,
      queuedBytes: c.queuedBytes,
      buffered: c.buffered(),
      delivered: c.delivered,
      dropped: c.droppedTotal,
    }));
  }

  get clientCount(): number {
    return this.clients.size;
  }

  clientsOf(transport: Transport): number {
    let n = 0;
    for (const c of this.clients) if (c.transport === transport) n++;
    return n;
  }

  /** Counts a refused client request (websocket, sse, or api: a history query or export). */
  countRejected(transport: Transport | 'api', reason: string): void {
    this.deps.metrics.tailRejected.labels(transport, reason).inc();
  }

  /** Registers a client; false when the client limit is reached (the transport says so and closes). */
  add(c: TailClient): boolean {
    if (this.closed || this.clients.size >= this.config.maxClients) return false;
    this.clients.add(c);
    this.deps.metrics.tailClients.labels(c.transport).inc();
    if (this.clients.size === 1) this.startTimers();
    return true;
  }

  remove(c: TailClient): void {
    if (!this.clients.delete(c)) return;
    this.deps.metrics.tailClients.labels(c.transport).dec();
    c.queue = [];
    c.queuedBytes = 0;
    if (this.clients.size === 0) this.stopTimers();
  }

  /**
   * Takes a rate-limit token for a client message (a subscribe); false when the client sent more
   * than subscribeRate per second beyond a burst of subscribeBurst.
   */
  allowMessage(c: TailClient): boolean {
    const now = this.now();
    const { subscribeRate, subscribeBurst } = this.config;
    if (c.subscribeRefillAt === 0) {
      c.subscribeTokens = subscribeBurst;
      c.subscribeRefillAt = now;
    }
    c.subscribeTokens = Math.min(subscribeBurst, c.subscribeTokens + ((now - c.subscribeRefillAt) / 1000) * subscribeRate);
    c.subscribeRefillAt = now;
    if (c.subscribeTokens < 1) return false;
    c.subscribeTokens -= 1;
    return true;
  }

  /**
   * Replaces the client's filter (what was queued under the old one is discarded) and delivers a
   * replay of up to `replay` matching events from history, after `after` when that event is held.
   */
  subscribe(c: TailClient, filter: TailFilter, replay: number, after?: string, resumeOnly = false): SubscribeResult {
    const match = compileFilter(filter);
    c.queue = [];
    c.queuedBytes = 0;
    c.match = match;
    c.filterKey = JSON.stringify(filter);
    const n = Math.min(replay, this.config.maxReplay);
    if (n <= 0) return { replayed: 0, resumed: false };
    const r = this.history.replay(match, n, after, resumeOnly, this.config.maxScanPerRequest);
    if (r.entries.length === 0) return { replayed: 0, resumed: r.resumed };
    if (c.buffered() > this.config.maxBufferedBytes) {
      // a client that does not read cannot make us buffer replay after replay: it misses them, counted
      this.countDropped(c, r.entries.length);
      return { replayed: 0, resumed: r.resumed };
    }
    c.deliver(r.entries, 0, true);
    c.delivered += r.entries.length;
    return { replayed: r.entries.length, resumed: r.resumed };
  }

  private enqueue(c: TailClient, e: TailEntry): void {
    const { maxQueueEvents, maxQueueBytes } = this.config;
    const size = e.json().length;
    if (size > maxQueueBytes) {
      this.countDropped(c, 1); // larger than a whole queue: it can never be delivered to a slow reader
      return;
    }
    if (c.queue.length >= maxQueueEvents || c.queuedBytes + size > maxQueueBytes) {
      // a full queue for a client that keeps up is just a big batch: send it now; only a client
      // whose socket is still backed up loses events
      if (c.buffered() <= this.config.maxBufferedBytes) this.send(c);
      else this.shed(c, size);
    }
    c.queue.push(e);
    c.queuedBytes += size;
  }

  /**
   * Drops the oldest quarter of a full queue (a live tail wants what is happening now), and more if
   * the incoming event still does not fit; amortised, so a stuck client costs O(1) per event.
   */
  private shed(c: TailClient, incoming: number): void {
    const { maxQueueBytes } = this.config;
    let n = Math.max(1, c.queue.length >> 2);
    let bytes = 0;
    for (let i = 0; i < n; i++) bytes += c.queue[i].json().length;
    while (n < c.queue.length && c.queuedBytes - bytes + incoming > maxQueueBytes) bytes += c.queue[n++].json().length;
    c.queue.splice(0, n);
    c.queuedBytes -= bytes;
    this.countDropped(c, n);
  }

  private countDropped(c: TailClient, n: number): void {
    c.dropped += n;
    c.droppedTotal += n;
    this.droppedTotal += n;
    this.deps.metrics.tailDropped.labels(c.transport).inc(n);
  }

  /** The interval the next flush waits for since the last one: batchInterval of the clients that one wrote to. */
  get currentIntervalMs(): number {
    return this.intervalMs;
  }

  /**
   * At most one pass per batch interval, and no longer wait than that: when the last pass started
   * an interval ago or more, the events go out at once (after this turn of the loop, so batches
   * arriving together share a frame); under load the passes stay an interval apart.
   */
  private schedule(): void {
    if (this.pass) {
      this.queuedDuringPass = true;
      return;
    }
    if (this.flushTimer || this.flushSoon || this.closed) return;
    const wait = this.lastFlushAt + this.intervalMs - performance.now();
    if (wait <= 0) this.flushSoon = setImmediate(() => this.startPass());
    else this.flushTimer = setTimeout(() => this.startPass(), Math.ceil(wait));
  }

  /**
   * A pass gives every client one frame per interval: with many clients it writes them in slices
   * spread over the interval (passSlices), so each client still gets one frame per interval but the
   * loop is held ~2 ms at a time instead of the whole pass, and a client's wait does not include
   * the writes to everyone before it.
   */
  private startPass(): void {
    this.flushTimer = this.flushSoon = undefined;
    if (this.closed) return;
    this.lastFlushAt = performance.now();
    const clients = [...this.clients];
    const slices = passSlices(clients.length, this.intervalMs);
    this.pass = { clients, slices, sliceMs: this.intervalMs / slices, next: 0, writes: 0, waiting: false, frames: new Map() };
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
    this.intervalMs = batchInterval(this.config, p.writes);
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
  private send(c: TailClient, shared?: SharedFrames): void {
    const q = c.queue;
    const d = c.dropped;
    c.queue = [];
    c.queuedBytes = 0;
    c.dropped = 0;
    c.delivered += q.length;
    try {
      c.deliver(q, d, false, shared);
    } catch (err) {
      this.deps.logger.warn({ err, transport: c.transport }, 'tail client write failed; closing it');
      c.terminate();
      this.remove(c);
    }
  }

  async snapshot(): Promise<Snapshot> {
    const w = this.stats.snapshot();
    const byType: Record<string, Record<string, number>> = {};
    let total = 0;
    for (const r of (await this.deps.activeRuns?.()) ?? []) {
      (byType[r.workflow_type] ??= {})[r.state] = r.count;
      total += r.count;
    }
    return {
      time: new Date(this.now()).toISOString(),
      ...w,
      events_total: this.eventsTotal,
      history: { size: this.history.size, capacity: this.history.capacity },
      active_runs: { total, by_workflow_type: byType },
      clients: { websocket: this.clientsOf('websocket'), sse: this.clientsOf('sse') },
      dropped_total: this.droppedTotal,
    };
  }

  /**
   * The snapshot as JSON for a client that just connected: one computed within SNAPSHOT_REUSE_MS is
   * reused, so a thousand clients reconnecting at once (a restart, a proxy failover) cost one
   * snapshot, not a thousand window percentiles.
   */
  snapshotJson(): Promise<string> {
    const now = performance.now();
    if (this.lastSnapshot && now - this.lastSnapshot.at < SNAPSHOT_REUSE_MS) return this.lastSnapshot.json;
    return this.newSnapshotJson(now);
  }

  private newSnapshotJson(now: number): Promise<string> {
    const json = this.snapshot().then((s) => JSON.stringify(s));
    const memo = { at: now, json };
    this.lastSnapshot = memo;
    json.catch(() => {
      if (this.lastSnapshot === memo) this.lastSnapshot = undefined;
    });
    return json;
  }

  private async pushSnapshot(): Promise<void> {
    if (this.snapshotting) return; // a slow active-runs store never stacks snapshots
    this.snapshotting = true;
    try {
      const data = await this.newSnapshotJson(performance.now());
      for (const c of this.clients) {
        // a snapshot is replaced by the next one: a slow client skips it rather than queueing it
        if (c.buffered() <= this.config.maxBufferedBytes) c.sendSnapshot(data);
      }
    } catch (err) {
      this.deps.logger.warn({ err }, 'tail snapshot failed');
    } finally {
      this.snapshotting = false;
    }
  }

  private startTimers(): void {
    this.snapshotTimer = setInterval(() => void this.pushSnapshot(), this.config.snapshotIntervalMs);
    this.heartbeatTimer = setInterval(() => {
      for (const c of this.clients) c.heartbeat();
    }, this.config.heartbeatIntervalMs);
    this.snapshotTimer.unref();
    this.heartbeatTimer.unref();
  }

  private stopTimers(): void {
    clearInterval(this.snapshotTimer);
    clearInterval(this.heartbeatTimer);
    this.snapshotTimer = this.heartbeatTimer = undefined;
  }

  /** Says goodbye to every client (WebSocket 1001) and cuts those that do not close within a grace period. */
  async closeClients(code = 1001, reason = 'server shutting down'): Promise<void> {
    this.closed = true;
    clearTimeout(this.flushTimer);
    clearImmediate(this.flushSoon);
    this.flushTimer = this.flushSoon = undefined;
    this.pass = undefined;
    const open = [...this.clients];
    for (const c of open) {
      try {
        c.close(code, reason);
      } catch {
        c.terminate();
      }
    }
    const end = Date.now() + CLOSE_GRACE_MS;
    while (this.clients.size > 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    for (const c of [...this.clients]) {
      c.terminate();
      this.remove(c);
    }
    this.stopTimers();
  }

  async close(): Promise<void> {
    if (!this.closed) await this.closeClients();
  }
}
