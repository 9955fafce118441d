// A live-tail client as the tail sink sees it, whatever its transport: a filter and a bounded queue.
import type { Predicate } from './filter.js';
import type { TailEntry } from './history.js';
import type { TAIL_TRANSPORTS } from '../../metrics/catalog.js';

export type Transport = (typeof TAIL_TRANSPORTS)[number];

export abstract class TailClient {
  abstract readonly transport: Transport;
  /** undefined until the client subscribes: nothing is queued for it before that */
  match?: Predicate;
  /** the filter as normalized JSON: clients with the same key match the same events and share frames */
  filterKey?: string;
  /** matching events waiting for the next flush (shared with the history ring, not copied) */
  queue: TailEntry[] = [];
  queuedBytes = 0;
  /** events shed since the last notice; sent as {"type":"dropped"} before the next batch */
  dropped = 0;
  droppedTotal = 0;
  delivered = 0;
  /** subscribe messages in the current rate window */
  subscribeTokens = 0;
  subscribeRefillAt = 0;

  /** bytes handed to the socket and not yet sent: the measure of a slow reader */
  abstract buffered(): number;
  /**
   * One write: a dropped notice when `dropped` > 0, then the events (which may be empty); with
   * `shared`, the events frame is taken from (or built once into) the frames of clients holding the same events.
   */
  abstract deliver(events: TailEntry[], dropped: number, replay?: boolean, shared?: SharedFrames): void;
  abstract sendSnapshot(json: string): void;
  /** called every heartbeat interval: WebSocket pings and ends a peer that missed the last pong */
  abstract heartbeat(): void;
  abstract close(code: number, reason: string): void;
  /** drop the connection without a goodbye, for peers that do not read their close frame */
  abstract terminate(): void;
}

/** The WebSocket events frame, built from each event's JSON text (made once, shared by all clients). */
export function eventsFrame(events: TailEntry[], replay = false): string {
  let s = `{"type":"events"${replay ? ',"replay":true' : ''},"events":[`;
  for (let i = 0; i < events.length; i++) s += i === 0 ? events[i].json() : `,${events[i].json()}`;
  return `${s}]}`;
}

export function droppedFrame(count: number): string {
  return `{"type":"dropped","count":${count}}`;
}

/**
 * Frames shared within one flush by clients whose queues hold the same events (same filter, same
 * first and last entry, same length): each transport's frame is built and encoded once, not per client.
 */
export class SharedFrames {
  private readonly built = new Map<string, Buffer>();

  frame(kind: string, build: () => string): Buffer {
    let b = this.built.get(kind);
    if (b === undefined) {
      b = Buffer.from(build(), 'utf8');
      this.built.set(kind, b);
    }
    return b;
  }
}
