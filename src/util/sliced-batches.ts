// Batches for a bus client's callback: what arrives in one turn of the event loop (at most `max`)
// is one batch, and batches go through one at a time, in a bounded slice of each turn.

/** Batches run back to back for this long, then the event loop gets a turn. */
export const SLICE_MS = 10;

/**
 * A bus client (the NATS client) parses what its socket holds in microtasks and calls back once per
 * message. Batches chained onto that as promises all ran in the same microtask drain, for as long
 * as the server kept the socket full: draining a JetStream backlog, the event-loop lag p99 was tens
 * of milliseconds while /metrics, the live tail and health checks waited.
 * Here a batch starts from setImmediate, and batches run back to back until SLICE_MS of the turn is
 * used; the rest wait for the next turn. Running every batch on a turn of its own lagged less still
 * but let the client read ahead of the pipeline, so messages waited in memory long enough to be
 * promoted (more RSS); slices keep the reading paced by the processing. The figures are in
 * docs/benchmarks-log.md ("NATS: batches in 10 ms slices").
 */
export class SlicedBatches<T> {
  private buf: T[] = [];
  private scheduled = false;
  // batches taken from the buffer and not yet done, oldest first; the first is in `run` while `running`
  private readonly queue: T[][] = [];
  private running = false;
  private sliceStart = 0;
  private idleWaiters: (() => void)[] = [];
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly max: number,
    /** takes one batch; a rejection goes to onError and the next batch runs */
    private readonly run: (batch: T[]) => Promise<unknown>,
    private readonly onError: (err: unknown) => void,
    /**
     * with more than 0, a batch waits this long after its first item for more (or until `max`):
     * fewer, fuller batches when the rate per process is low, each item up to this much later
     */
    private readonly waitMs = 0,
  ) {}

  push(item: T): void {
    this.buf.push(item);
    if (this.buf.length >= this.max) this.flush();
    else if (!this.scheduled) {
      // gather what arrives in the same turn of the event loop (or within waitMs) into one batch
      this.scheduled = true;
      if (this.waitMs > 0) this.timer = setTimeout(this.flush, this.waitMs);
      else setImmediate(this.flush);
    }
  }

  /** Every item not yet done: those queued in batches (the running one first), then the buffer. */
  *pending(): Generator<T> {
    for (const b of this.queue) yield* b;
    yield* this.buf;
  }

  /** Takes what is buffered as a batch now; resolves once every batch so far is done. */
  drain(): Promise<void> {
    this.flush();
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.buf.length === 0) return;
    this.queue.push(this.buf);
    this.buf = [];
    if (!this.running) {
      this.running = true;
      setImmediate(this.nextTurn);
    }
  };

  private readonly nextTurn = (): void => {
    this.sliceStart = performance.now();
    this.next();
  };

  /** Takes the oldest batch through `run`, then the next one: in this turn while the slice lasts. */
  private readonly next = (): void => {
    const batch = this.queue[0];
    if (!batch) {
      this.running = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
      return;
    }
    let done: Promise<unknown>;
    try {
      done = this.run(batch);
    } catch (err) {
      done = Promise.reject(err);
    }
    void done.catch(this.onError).finally(() => {
      this.queue.shift();
      if (performance.now() - this.sliceStart < SLICE_MS) this.next();
      else setImmediate(this.nextTurn);
    });
  };
}
