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
    private readonly derivedSeconds = NaN,
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
      this.view = this.prepare!(this.raw!, this.derivedSeconds);
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

export class History {
  private readonly buf: (TailEntry | undefined)[];
  private next = 1;

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
    return Math.min(this.next - 1, this.capacity);
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
    const start = Math.min(this.newestSeq, before - 1);
    for (let s = start; s >= this.oldestSeq && s > 0 && out.length < limit; s--) {
      const e = this.buf[s % this.capacity]!;
      if (match(e)) out.push(e);
    }
    return out;
  }

  /**
   * Oldest first: the last `n` matching entries; when `afterId` names an event still held, only
   * entries after it (a reconnecting client resumes without duplicates or gaps). With `resumeOnly`
   * an unknown `afterId` replays nothing rather than the last `n`.
   */
  replay(match: Predicate, n: number, afterId?: string, resumeOnly = false): { entries: TailEntry[]; resumed: boolean } {
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
      if (!resumed && resumeOnly) return { entries: out, resumed };
    }
    for (let s = this.newestSeq; s >= stop && s > 0 && out.length < n; s--) {
      const e = this.buf[s % this.capacity]!;
      if (match(e)) out.push(e);
    }
    return { entries: out.reverse(), resumed };
  }

  /** Oldest first: every matching entry held now, for the export (a copy of references, so the ring may move on). */
  select(match: Predicate, limit = Infinity): TailEntry[] {
    const out: TailEntry[] = [];
    for (let s = this.newestSeq; s >= this.oldestSeq && s > 0 && out.length < limit; s--) {
      const e = this.buf[s % this.capacity]!;
      if (match(e)) out.push(e);
    }
    return out.reverse();
  }
}
