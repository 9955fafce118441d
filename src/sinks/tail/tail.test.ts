// The tail sink's fan-out in process: shared frames give each client exactly its own events, and a
// batch waits only for what is left of the interval since the last flush. The clients here are a
// TailClient that records its writes (what a socket would carry), since frame sharing is sink logic.
import pino from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, test } from 'vitest';
import { configFrom } from '../../config/load.js';
import type { WorkflowEvent } from '../../events/schema.js';
import { createMetrics } from '../metrics/registry.js';
import { eventsFrame, type SharedFrames, TailClient } from './client.js';
import { parseFilter } from './filter.js';
import type { TailEntry } from './history.js';
import { TailSink } from './tail.js';

class RecordingClient extends TailClient {
  readonly transport = 'websocket' as const;
  frames: string[] = [];
  buffers: Buffer[] = [];
  droppedNotices: number[] = [];
  backlog = 0;
  buffered(): number {
    return this.backlog;
  }
  deliver(events: TailEntry[], dropped: number, replay = false, shared?: SharedFrames): void {
    if (dropped > 0) this.droppedNotices.push(dropped);
    if (events.length === 0) return;
    const b = shared ? shared.frame('ws', () => eventsFrame(events)) : Buffer.from(eventsFrame(events, replay));
    this.buffers.push(b);
    this.frames.push(b.toString('utf8'));
  }
  sendSnapshot(): void {}
  heartbeat(): void {}
  close(): void {}
  terminate(): void {}
  ids(): string[] {
    return this.frames.flatMap((f) => (JSON.parse(f) as { events: { id: string }[] }).events.map((e) => e.id));
  }
}

function sink(tail: Record<string, unknown> = {}): TailSink {
  const cfg = configFrom({ tail });
  return new TailSink({ config: cfg.tail, metrics: createMetrics(new Registry(), { ...cfg.metrics, defaultMetrics: false }), logger: pino({ level: 'silent' }) });
}

function batch(ids: string[], workflowType: (i: number) => string) {
  const events = ids.map((id, i) => ({ id, type: 'task.started', workflow: { type: workflowType(i), id: `w-${id}` }, source: 'test', time: '2026-11-20T10:00:00.000Z' }) as unknown as WorkflowEvent);
  return { source: 'test', events, timesMs: events.map(() => 0), durations: events.map(() => NaN), receivedAtMs: 0 };
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `e${from + i}`);
const byParity = (offset: number) => (i: number) => ((i + offset) % 2 === 0 ? 'even' : 'odd');

describe('tail fan-out with shared frames', () => {
  test('clients with the same filter and queue share one frame; others get exactly their own events', () => {
    const tail = sink({ batchIntervalMs: 1000 });
    const [a, b, c, all] = [new RecordingClient(), new RecordingClient(), new RecordingClient(), new RecordingClient()];
    for (const x of [a, b, c, all]) tail.add(x);
    tail.subscribe(a, parseFilter({ workflow_types: ['even'] }), 0);
    tail.subscribe(b, parseFilter({ workflow_types: ['even'] }), 0);
    tail.subscribe(c, parseFilter({ workflow_types: ['odd'] }), 0);
    tail.subscribe(all, parseFilter({}), 0);
    tail.take(batch(range(1, 6), byParity(0)));
    // d subscribes to the same filter as a and b after the first batch: its queue starts later
    const d = new RecordingClient();
    tail.add(d);
    tail.subscribe(d, parseFilter({ workflow_types: ['even'] }), 0);
    tail.take(batch(range(7, 10), byParity(0)));
    tail.flush();
    expect(a.ids()).toEqual(['e1', 'e3', 'e5', 'e7', 'e9']);
    expect(b.ids()).toEqual(a.ids());
    expect(b.buffers[0]).toBe(a.buffers[0]); // one Buffer, built once
    expect(c.ids()).toEqual(['e2', 'e4', 'e6', 'e8', 'e10']);
    expect(all.ids()).toEqual(range(1, 10));
    expect(d.ids()).toEqual(['e7', 'e9']);
    expect(d.buffers[0]).not.toBe(a.buffers[0]);
    void tail.closeClients();
  });

  test('a client whose socket is backed up is shed and counted alone; its twin still gets every event', () => {
    const tail = sink({ batchIntervalMs: 1000, maxQueueEvents: 4, maxBufferedBytes: 1000 });
    const [ok, stuck] = [new RecordingClient(), new RecordingClient()];
    tail.add(ok);
    tail.add(stuck);
    for (const x of [ok, stuck]) tail.subscribe(x, parseFilter({}), 0);
    stuck.backlog = 10_000;
    tail.take(batch(range(1, 10), byParity(0)));
    tail.flush();
    // ok's full queue went out as it filled (keeping up); stuck's was shed a quarter at a time
    expect(ok.ids()).toEqual(range(1, 10));
    expect(stuck.frames).toEqual([]);
    expect(stuck.queue.map((e) => e.event.id)).toEqual(range(7, 10));
    expect(stuck.droppedTotal).toBe(6);
    stuck.backlog = 0;
    tail.flush();
    expect(stuck.droppedNotices).toEqual([6]);
    expect(stuck.ids()).toEqual(range(7, 10));
    expect(tail.droppedTotal).toBe(6);
    void tail.closeClients();
  });

  test('the first batch after a quiet interval goes out in the same turn of the loop; the next waits for the interval', async () => {
    const tail = sink({ batchIntervalMs: 300 });
    const a = new RecordingClient();
    tail.add(a);
    tail.subscribe(a, parseFilter({}), 0);
    tail.take(batch(['x1'], byParity(0)));
    await new Promise((r) => setImmediate(r));
    expect(a.ids()).toEqual(['x1']);
    tail.take(batch(['x2'], byParity(0)));
    tail.take(batch(['x3'], byParity(0)));
    await new Promise((r) => setImmediate(r));
    expect(a.ids()).toEqual(['x1']); // within the interval: batched
    await new Promise((r) => setTimeout(r, 400));
    expect(a.ids()).toEqual(['x1', 'x2', 'x3']);
    expect(a.frames.length).toBe(2);
    void tail.closeClients();
  });
});
