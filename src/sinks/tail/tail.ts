// The tail sink: keeps the history ring and window statistics, and hands batches to live clients:
// their queues and budgets (queues.ts), the passes that write them (fanout.ts) and the snapshots
// (snapshots.ts) are each their own part.
import type { Logger } from 'pino';
import type { Config, SourceConfig } from '../../config/schema.js';
import type { WorkflowEvent } from '../../events/schema.js';
import type { ProcessedBatch, Sink } from '../../pipeline/types.js';
import { parseTime } from '../../pipeline/validate.js';
import { deriveDurations } from '../../pipeline/pipeline.js';
import { MemoryLifecycleStore } from '../../state/memory.js';
import type { Metrics } from '../../metrics/registry.js';
import { descriptorOf } from '../../sources/index.js';
import type { StreamPositions } from '../../sources/types.js';
import type { TailClient, Transport } from './client.js';
import { FanOut } from './fanout.js';
import { compileFilter, type TailFilter } from './filter.js';
import { History, withDerivedDuration, type TailEntry } from './history.js';
import { ClientQueues } from './queues.js';
import { Snapshots, type ActiveRun, type Snapshot } from './snapshots.js';
import { WindowStats } from './stats.js';
import { loadStreamHistory, type HistoryItem } from './stream-history.js';

export { batchInterval, passSlices } from './fanout.js';
export { SNAPSHOT_REUSE_MS, type ActiveRun, type Snapshot } from './snapshots.js';

export type TailConfig = Config['tail'];

export const CLOSE_GRACE_MS = 1000; // a client that does not answer our close frame is cut after this

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
  /** true when the budget all replays share (tail.replayScanPerSecond) cut this one short */
  limited: boolean;
}

export class TailSink implements Sink {
  readonly name = 'tail';
  readonly history: History;
  readonly stats: WindowStats;
  readonly config: TailConfig;
  private readonly clients = new Set<TailClient>();
  private readonly now: () => number;
  private readonly fanOut: FanOut;
  private readonly queues: ClientQueues;
  private readonly snapshots: Snapshots;
  private snapshotTimer?: NodeJS.Timeout;
  private heartbeatTimer?: NodeJS.Timeout;
  private closed = false;
  /** history entries replays may still look at: one second's worth, refilled as time passes */
  private scanTokens: number;
  private scanRefillAt?: number;
  eventsTotal = 0;
  /** sources whose events reach the tail through the follower (follow.ts), not the pipeline */
  private readonly followed = new Set<string>();

  constructor(private readonly deps: TailDeps) {
    this.config = deps.config;
    this.now = deps.now ?? Date.now;
    this.scanTokens = deps.config.replayScanPerSecond;
    const redact = deps.redact;
    // before redaction, so a redacted duration_ms stays redacted
    this.history = new History(deps.config.historySize, (event, seconds) => {
      const e = event.duration_ms === undefined && seconds === seconds ? withDerivedDuration(event, seconds) : event;
      return redact ? redact(e) : e;
    });
    this.stats = new WindowStats(deps.config.windowSeconds, this.now);
    this.fanOut = new FanOut(deps.config, this.clients, deps.logger, (c) => this.remove(c));
    this.queues = new ClientQueues(deps.config, deps.metrics, this.now, (c, shared) => this.fanOut.send(c, shared));
    this.snapshots = new Snapshots(this, deps.config, deps.logger, this.now, deps.activeRuns);
  }

  /** events shed over every client since the process started */
  get droppedTotal(): number {
    return this.queues.droppedTotal;
  }
  /**
   * Hands the events of `sources` to the follower: the pipeline's batches from them are skipped,
   * since this replica's shared consumer sees only its share and the follower sees them all.
   */
  follow(sources: Iterable<string>): void {
    for (const s of sources) this.followed.add(s);
  }

  /** Takes the events of `sources` from the pipeline again (a follower with follow: watched went idle). */
  unfollow(sources: Iterable<string>): void {
    for (const s of sources) this.followed.delete(s);
  }

  private watcher?: () => Promise<void> | undefined;

  /**
   * With follow: watched the follower registers here: a client connecting, a subscribe, a history
   * query or an export calls it, and waits for the history read back and the follower reading. The
   * watcher returns undefined when the follower already reads.
   */
  onWatch(watcher: () => Promise<void> | undefined): void {
    this.watcher = watcher;
  }

  /**
   * What to wait for before the history and a replay hold every event of the bus (with follow:
   * watched, the read back and the follower starting); undefined: nothing, go on now.
   */
  watchPending(): Promise<void> | undefined {
    return this.watcher?.();
  }

  /**
   * Merges `items` (read back from the bus, oldest first) into the history: what this replica held
   * was mostly its share of the same streams; an event held and read back is kept once, and one held
   * that the bus no longer has (a trimmed or deleted stream) stays. Ordered by event time, the newest
   * historySize kept; the window's counts and durations are taken again from the result.
   * `durations`: per item, its duration in seconds (NaN when none), as derive() gives them.
   */
  mergeHistory(items: HistoryItem[], durations: number[] = []): void {
    const read = new Set<string>();
    for (const it of items) read.add(it.event.id);
    const merged: { event: WorkflowEvent; source: string; receivedAtMs: number; seconds: number; t: number }[] = [];
    for (const e of this.history.select(() => true)) {
      if (!read.has(e.id)) merged.push({ event: e.event, source: e.source, receivedAtMs: e.receivedAtMs, seconds: e.durationSeconds, t: parseTime(e.event.time) || e.receivedAtMs });
    }
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      merged.push({ ...it, seconds: durations[i] ?? NaN, t: parseTime(it.event.time) || it.receivedAtMs });
    }
    merged.sort((a, b) => a.t - b.t); // stable: one stream's events keep their bus order on ties
    const kept = merged.slice(Math.max(0, merged.length - this.history.capacity));
    this.history.clear();
    this.stats.clear();
    for (const it of kept) {
      this.history.push(it.event, it.source, it.receivedAtMs, it.seconds);
      this.stats.add(it.event, it.seconds, it.t);
    }
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
    if (this.queues.queueBatch(this.clients, entries)) this.fanOut.schedule();
  }

  /** Events that arrived before this process started (read back from the stream), oldest first. */
  preload(items: HistoryItem[], durations: number[] = []): void {
    for (let i = 0; i < items.length; i++) {
      const it = items[i];
      this.history.push(it.event, it.source, it.receivedAtMs, durations[i] ?? NaN);
      this.stats.add(it.event, durations[i] ?? NaN, it.receivedAtMs); // an item read back: its event's validated time
    }
  }

  /**
   * Fills the history from the NATS streams and Redis keys of the bus sources, within
   * historyLoadTimeoutMs; call before the sources start so history comes before live events.
   * With `positions` (the follower takes over) every stream is read to its end, recorded there.
   * `derive` gives the events read their durations (the follower's pipeline, whose state they then
   * seed); without it a lifecycle state of their own does, and is dropped.
   */
  async loadHistory(
    sources: { name: string; config: SourceConfig }[],
    validation: Config['validation'],
    positions?: StreamPositions,
    derive: (events: WorkflowEvent[], timesMs: number[]) => Promise<number[]> = deriveApart,
  ): Promise<number> {
    const bus = sources.filter((s) => descriptorOf(s.config.kind).readHistory);
    if (!this.config.historyFromSources || this.config.historySize === 0 || bus.length === 0) return 0;
    const items = await loadStreamHistory(this.config, bus, { validation, logger: this.deps.logger, now: this.now, positions });
    if (!items) return 0;
    this.preload(items, await derive(...historyTimes(items)));
    return items.length;
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

  /** What replays may look at now: the shared budget refilled for the time since it was last taken. */
  private takeScanTokens(): number {
    const now = this.now();
    const perSecond = this.config.replayScanPerSecond;
    if (this.scanRefillAt !== undefined) this.scanTokens = Math.min(perSecond, this.scanTokens + ((now - this.scanRefillAt) / 1000) * perSecond);
    this.scanRefillAt = now;
    return Math.max(0, Math.floor(this.scanTokens));
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
    // a watched follower starts (or stays on) while clients are connected; a failed start is logged there
    this.watcher?.()?.catch(() => undefined);
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
    return this.queues.allowMessage(c);
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
    if (n <= 0) return { replayed: 0, resumed: false, limited: false };
    // one replay looks at most maxScanPerRequest entries, all of them together at most
    // replayScanPerSecond a second: many clients subscribing at once cannot hold the loop
    const budget = Math.min(this.config.maxScanPerRequest, this.takeScanTokens());
    const r = this.history.replay(match, n, after, resumeOnly, budget);
    this.scanTokens -= r.scanned;
    const limited = budget < this.config.maxScanPerRequest && r.scanned >= budget && r.entries.length < n;
    if (limited) this.countRejected(c.transport, 'replay_limited');
    if (r.entries.length === 0) return { replayed: 0, resumed: r.resumed, limited };
    if (c.buffered() > this.config.maxBufferedBytes) {
      // a client that does not read cannot make us buffer replay after replay: it misses them, counted
      this.queues.countDropped(c, r.entries.length);
      return { replayed: 0, resumed: r.resumed, limited };
    }
    c.deliver(r.entries, 0, true);
    c.delivered += r.entries.length;
    return { replayed: r.entries.length, resumed: r.resumed, limited };
  }

  /** The interval the next flush waits for since the last one: batchInterval of the clients that one wrote to. */
  get currentIntervalMs(): number {
    return this.fanOut.intervalMs;
  }

  /** Writes every client's queue now (see FanOut.flush). */
  flush(): void {
    this.fanOut.flush();
  }

  snapshot(): Promise<Snapshot> {
    return this.snapshots.snapshot();
  }

  /** The snapshot as JSON for a client that just connected (one computed within SNAPSHOT_REUSE_MS is reused). */
  snapshotJson(): Promise<string> {
    return this.snapshots.json();
  }

  private startTimers(): void {
    this.snapshotTimer = setInterval(() => void this.snapshots.push(this.clients), this.config.snapshotIntervalMs);
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
    this.fanOut.stop();
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

/** The events of history items and their times, for a derive(): an item read back has its event's validated time as receivedAtMs. */
export function historyTimes(items: HistoryItem[]): [WorkflowEvent[], number[]] {
  return [items.map((it) => it.event), items.map((it) => it.receivedAtMs)];
}

/** Durations of events read back, from a lifecycle state of their own (nothing else sees it). */
function deriveApart(events: WorkflowEvent[], timesMs: number[]): Promise<number[]> {
  const ignore = () => {};
  return deriveDurations(new MemoryLifecycleStore(Math.max(1000, events.length), ignore), events, timesMs);
}
