// What each tail client may hold: a queue bounded in events and bytes, the oldest shed (and
// counted) when its socket is backed up so a slow client never slows the others, and a rate of
// subscribe messages.
import type { Config } from '../../config/schema.js';
import type { Metrics } from '../../metrics/registry.js';
import type { SharedFrames, TailClient } from './client.js';
import type { TailEntry } from './history.js';

type TailConfig = Config['tail'];

/** the events of a batch one filter matched, and their JSON length */
interface Matched {
  list: TailEntry[];
  bytes: number;
}

export class ClientQueues {
  /** events shed over every client since the process started */
  droppedTotal = 0;

  constructor(
    private readonly config: TailConfig,
    private readonly metrics: Metrics,
    private readonly now: () => number,
    /** writes the client's queue now (FanOut.send) */
    private readonly send: (c: TailClient, shared?: SharedFrames) => void,
  ) {}

  /** Queues a batch's entries for every subscribed client they match; true when any client got some. */
  queueBatch(clients: Iterable<TailClient>, entries: TailEntry[]): boolean {
    let queued = false;
    // most clients share a filter: match each distinct filter once per batch, not once per client
    const matched = new Map<string, Matched>();
    for (const c of clients) {
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
    return queued;
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

  countDropped(c: TailClient, n: number): void {
    c.dropped += n;
    c.droppedTotal += n;
    this.droppedTotal += n;
    this.metrics.tailDropped.labels(c.transport).inc(n);
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
}
