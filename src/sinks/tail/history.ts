// The tail's history: a bounded ring of recent events for replay, GET /api/events and the export.
import type { WorkflowEvent } from '../../events/schema.js';
import type { Filterable, Predicate } from './filter.js';

/** One event as the tail keeps it; its JSON is made once, when a client or a query first needs it. */
export class TailEntry implements Filterable {
  private text?: string;
  private folded?: string;

  constructor(
    /** process-local, increasing by one per event; the `before` cursor of GET /api/events */
    readonly seq: number,
    readonly event: WorkflowEvent,
    /** the exporter source that delivered it (nats, redis, http, demo, history) */
    readonly source: string,
    readonly receivedAtMs: number,
  ) {}

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

  constructor(readonly capacity: number) {
    this.buf = new Array(capacity);
  }

  /** Stores an event, evicting the oldest when full; returns its entry (also when capacity is 0). */
  push(event: WorkflowEvent, source: string, receivedAtMs: number): TailEntry {
    const e = new TailEntry(this.next++, event, source, receivedAtMs);
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
        if (this.buf[s % this.capacity]!.event.id === afterId) {
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
