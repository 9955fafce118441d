// The tail's history: a bounded ring of recent events for replay, GET /api/events and the export.
import type { WorkflowEvent } from '../../events/schema.js';
import type { Filterable, Predicate } from './filter.js';

/**
 * What the tail shows of an event: the pipeline's event with the duration derived from its start
 * (seconds, NaN when there is none) and the configured redaction applied (tail.ts).
 */
export type Prepare = (event: WorkflowEvent, derivedSeconds: number) => WorkflowEvent;

/**
 * One event as the tail keeps it. What clients and queries see (`event`) is prepared on first use,
 * its JSON likewise: most events of a busy history are never looked at, so most never cost a copy.
 */
export class TailEntry implements Filterable {
  private text?: string;
  private folded?: string;
  private view?: WorkflowEvent;

  constructor(
    /** process-local, increasing by one per event; the `before` cursor of GET /api/events */
    readonly seq: number,
    /** the pipeline's event until `event` is first read (the other sinks hold it too: never changed) */
    private raw: WorkflowEvent | undefined,
    /** the exporter source that delivered it (nats, redis, http, demo, history) */
    readonly source: string,
    readonly receivedAtMs: number,
    /** the pipeline's duration of the event in seconds (duration_ms, else derived from its start), NaN when none */
    readonly durationSeconds = NaN,
    private readonly prepare?: Prepare,
  ) {
    if (prepare === undefined) {
      this.view = raw;
      this.raw = undefined;
    }
  }

  /** the event's id, without preparing the view (redaction never changes id: pipeline/redact.ts) */
  get id(): string {
    return (this.view ?? this.raw!).id;
  }

  get event(): WorkflowEvent {
    if (this.view === undefined) {
      this.view = this.prepare!(this.raw!, this.durationSeconds);
      this.raw = undefined; // a redacted copy is all the tail keeps from then on
    }
    return this.view;
  }

  json(): string {
    return (this.text ??= JSON.stringify(this.event));
  }

  lower(): string {
    return (this.folded ??= this.json().toLowerCase());
  }
}

export const TRUNCATED = '__truncated_bytes';

/**
 * The tail keeps events by count; one producer sending 200 kB attributes would make a 10,000-event
 * history gigabytes. Attributes whose JSON exceeds `maxBytes` are replaced, in the tail's copy only,
 * by `{ "__truncated_bytes": N }`; metrics never read attributes, so nothing else changes.
 */
export function boundAttributes(event: WorkflowEvent, maxBytes: number): WorkflowEvent {
  const a = event.attributes;
  if (a === undefined) return event;
  const bytes = Buffer.byteLength(JSON.stringify(a));
  return bytes <= maxBytes ? event : { ...event, attributes: { [TRUNCATED]: bytes } };
}

/** How much of the history one request may look at (query). */
export interface ScanBudget {
  /** entries looked at, at most */
  maxScan?: number;
  /** matching time before the event loop gets a turn */
  sliceMs?: number;
}

export interface HistoryPage {
  /** newest first */
  entries: TailEntry[];
  /** the `before` of the next query, null when nothing older is held */
  nextBefore: number | null;
  /** entries looked at */
  scanned: number;
}

export const QUERY_SLICE_MS = 10; // as the bus batches (util/sliced-batches.ts): a scrape waits at most this long
const QUERY_CHUNK = 16; // entries between two looks at the clock (~50 ns each): a costly filter is tens of µs an entry

export class History {
  private readonly buf: (TailEntry | undefined)[];
  private next = 1;
  /** entries pushed before the last clear(): seqs go on increasing across it */
  private cleared = 0;

  constructor(
    readonly capacity: number,
    private readonly prepare?: Prepare,
  ) {
    this.buf = new Array(capacity);
  }

  /**
   * Stores an event, evicting the oldest when full; returns its entry (also when capacity is 0).
   * `derivedSeconds`: the duration the lifecycle derived for it (NaN when none), for `prepare`.
   */
  push(event: WorkflowEvent, source: string, receivedAtMs: number, derivedSeconds = NaN): TailEntry {
    const e = new TailEntry(this.next++, event, source, receivedAtMs, derivedSeconds, this.prepare);
    if (this.capacity > 0) this.buf[e.seq % this.capacity] = e;
    return e;
  }

  get size(): number {
    return Math.min(this.next - 1 - this.cleared, this.capacity);
  }

  /** Forgets every entry; the next push gets the next seq, so cursors taken before never match a new entry. */
  clear(): void {
    this.buf.fill(undefined);
    this.cleared = this.next - 1;
  }

  /** seq of the newest entry, 0 when empty */
  get newestSeq(): number {
    return this.size === 0 ? 0 : this.next - 1;
  }

  get oldestSeq(): number {
    return this.size === 0 ? 0 : this.next - this.size;
  }

  at(seq: number): TailEntry | undefined {
    if (seq < this.oldestSeq || seq > this.newestSeq) return undefined;
    return this.buf[seq % this.capacity];
  }

  /** Newest first: up to `limit` matching entries older than `before` (a seq), for paging back. */
  page(match: Predicate, limit: number, before = Infinity): TailEntry[] {
    const out: TailEntry[] = [];
    this.scanDown(Math.min(this.newestSeq, before - 1), 1, match, out, limit);
    return out;
  }

  /**
   * `page` for a request: at most `maxScan` entries looked at, and the event loop gets a turn after
   * every `sliceMs` of matching, so one query over a large history neither runs unbounded nor
   * holds ingest, scrapes and health checks up while it runs. `nextBefore` continues the query
   * where it stopped (a full page or the scan budget), null when nothing older is held.
   */
  async query(match: Predicate, limit: number, before = Infinity, budget: ScanBudget = {}): Promise<HistoryPage> {
    const { maxScan = Infinity, sliceMs = QUERY_SLICE_MS } = budget;
    const entries: TailEntry[] = [];
    let next = Math.min(this.newestSeq, before - 1);
    let scanned = 0;
    let sliceStart = performance.now();
    while (next > 0 && next >= this.oldestSeq && entries.length < limit && scanned < maxScan) {
      if (performance.now() - sliceStart >= sliceMs) {
        await new Promise<void>((r) => setImmediate(r));
        sliceStart = performance.now();
        continue; // the ring may have moved on meanwhile: the loop condition reads it again
      }
      const n = Math.min(QUERY_CHUNK, maxScan - scanned);
      const to = this.scanDown(next, next - n + 1, match, entries, limit);
      scanned += next - to;
      next = to;
    }
    const last = entries[entries.length - 1];
    let nextBefore: number | null = null;
    if (entries.length === limit) nextBefore = last.seq > this.oldestSeq ? last.seq : null;
    else if (next > 0 && next >= this.oldestSeq) nextBefore = next + 1; // stopped by the budget
    return { entries, nextBefore, scanned };
  }

  /**
   * Looks at the entries from seq `from` down to `floor` (or the oldest held), adding matches to
   * `out` until it holds `limit`; returns the seq to look at next.
   */
  private scanDown(from: number, floor: number, match: Predicate, out: TailEntry[], limit: number): number {
    let s = from;
    for (const stop = Math.max(this.oldestSeq, 1, floor); s >= stop && out.length < limit; s--) {
      const e = this.buf[s % this.capacity]!;
      if (match(e)) out.push(e);
    }
    return s;
  }

  /**
   * Oldest first: the last `n` matching entries; when `afterId` names an event still held, only
   * entries after it (a reconnecting client resumes without duplicates or gaps). With `resumeOnly`
   * an unknown `afterId` replays nothing rather than the last `n`.
   */
  replay(match: Predicate, n: number, afterId?: string, resumeOnly = false, maxScan = Infinity): { entries: TailEntry[]; resumed: boolean; scanned: number } {
    const out: TailEntry[] = [];
    let resumed = false;
    let stop = this.oldestSeq;
    if (afterId !== undefined) {
      for (let s = this.newestSeq; s >= this.oldestSeq && s > 0; s--) {
        if (this.buf[s % this.capacity]!.id === afterId) {
          stop = s + 1;
          resumed = true;
          break;
        }
      }
      if (!resumed && resumeOnly) return { entries: out, resumed, scanned: 0 };
    }
    // at most maxScan entries matched: a replay through a costly filter is bounded like a query
    const next = this.scanDown(this.newestSeq, Math.max(stop, this.newestSeq - maxScan + 1), match, out, n);
    return { entries: out.reverse(), resumed, scanned: this.newestSeq - next };
  }

  /** Oldest first: every matching entry held now (the newest `limit`), a copy of references so the ring may move on. */
  select(match: Predicate, limit = Infinity): TailEntry[] {
    return this.page(match, limit).reverse();
  }
}

/** What the tail keeps of an event: redacted, with oversized attributes replaced by their size. */
export function tailCopy(redact: ((e: WorkflowEvent) => WorkflowEvent) | undefined, maxAttributesBytes: number) {
  return (e: WorkflowEvent) => boundAttributes(redact ? redact(e) : e, maxAttributesBytes);
}

/** A tail event: the canonical event, with duration_ms derived from its start when it had none. */
export type TailEvent = WorkflowEvent & { duration_derived?: true };

/**
 * The event with `duration_ms` from the lifecycle (end time minus its start), marked as derived; a
 * copy, because the other sinks hold the same event. Microsecond precision, free of float noise.
 */
export function withDerivedDuration(event: WorkflowEvent, seconds: number): TailEvent {
  return { ...event, duration_ms: Math.round(seconds * 1e6) / 1e3, duration_derived: true };
}
