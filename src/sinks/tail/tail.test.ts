// The tail sink's fan-out in process: shared frames give each client exactly its own events, and a
// batch waits only for what is left of the interval since the last flush. The clients here are a
// TailClient that records its writes (what a socket would carry), since frame sharing is sink logic.
import pino from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, test } from 'vitest';
import { configFrom } from '../../config/load.js';
import type { WorkflowEvent } from '../../events/schema.js';
import { createMetrics } from '../../metrics/registry.js';
import { eventsFrame, type SharedFrames, TailClient } from './client.js';
import { parseFilter } from './filter.js';
import type { TailEntry } from './history.js';
import { batchInterval, passSlices, SNAPSHOT_REUSE_MS, TailSink } from './tail.js';

class RecordingClient extends TailClient {
  readonly transport = 'websocket' as const;
  frames: string[] = [];
  buffers: Buffer[] = [];
  /** performance.now() of each frame */
  at: number[] = [];
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
    this.at.push(performance.now());
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

/** `n` recording clients added to the tail, each subscribed to every event */
function unfiltered(tail: TailSink, n: number): RecordingClient[] {
  const clients = Array.from({ length: n }, () => new RecordingClient());
  for (const c of clients) {
    tail.add(c);
    tail.subscribe(c, parseFilter({}), 0);
  }
  return clients;
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

  test('a batch that fits the queue is appended whole; one that does not goes out in queue-sized frames; an event over maxQueueBytes is dropped', () => {
    const tail = sink({ batchIntervalMs: 1000, maxQueueEvents: 4, maxQueueBytes: 1024 });
    const a = new RecordingClient();
    tail.add(a);
    tail.subscribe(a, parseFilter({}), 0);
    tail.take(batch(range(1, 3), byParity(0)));
    expect(a.queue.map((e) => e.event.id)).toEqual(range(1, 3));
    expect(a.queuedBytes).toBe(a.queue.reduce((n, e) => n + e.json().length, 0));
    tail.take(batch(range(4, 10), byParity(0)));
    // the queue filled at e4 and e8: each full queue went out as a frame, e9 and e10 wait
    expect(a.frames.map((f) => (JSON.parse(f) as { events: { id: string }[] }).events.map((e) => e.id))).toEqual([range(1, 4), range(5, 8)]);
    expect(a.queue.map((e) => e.event.id)).toEqual(range(9, 10));
    tail.flush();
    expect(a.ids()).toEqual(range(1, 10));
    const big = batch(['b1', 'b2', 'b3'], byParity(0));
    (big.events[1] as { attributes?: unknown }).attributes = { pad: 'x'.repeat(2000) };
    tail.take(big);
    tail.flush();
    expect(a.ids()).toEqual([...range(1, 10), 'b1', 'b3']);
    expect(a.droppedNotices).toEqual([1]);
    expect(a.droppedTotal).toBe(1);
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

describe('batch interval with many clients', () => {
  test('stays at batchIntervalMs while writes are few, grows to keep them at maxWritesPerSecond, stops at maxBatchIntervalMs', () => {
    const cfg = { batchIntervalMs: 20, maxWritesPerSecond: 25_000, maxBatchIntervalMs: 50 };
    expect([0, 1, 100, 500, 501, 750, 1000, 1250, 1251, 5000].map((n) => batchInterval(cfg, n))).toEqual([20, 20, 20, 20, 21, 30, 40, 50, 50, 50]);
    // a maximum below the base interval leaves the base
    expect(batchInterval({ batchIntervalMs: 20, maxWritesPerSecond: 1000, maxBatchIntervalMs: 10 }, 1000)).toBe(20);
    // the defaults
    const d = sink().config;
    expect([d.batchIntervalMs, d.maxWritesPerSecond, d.maxBatchIntervalMs]).toEqual([20, 25_000, 50]);
    expect([100, 1000, 2000].map((n) => batchInterval(d, n))).toEqual([20, 40, 50]);
  });

  test('each flush writes one frame per client with events, and sets the next interval from how many it wrote to', () => {
    const tail = sink({ batchIntervalMs: 10, maxWritesPerSecond: 1000, maxBatchIntervalMs: 200 });
    expect(tail.currentIntervalMs).toBe(10);
    const clients = Array.from({ length: 60 }, () => new RecordingClient());
    for (const [i, c] of clients.entries()) {
      tail.add(c);
      // a third see everything, a third one workflow type, a third a type none of these events has
      tail.subscribe(c, parseFilter(i % 3 === 0 ? {} : { workflow_types: [i % 3 === 1 ? 'even' : 'none'] }), 0);
    }
    tail.take(batch(range(1, 8), byParity(0)));
    tail.take(batch(range(9, 12), byParity(0)));
    tail.flush();
    // 20 unfiltered and 20 'even' clients had events: one frame each; the 20 'none' clients got nothing
    expect(clients.map((c) => c.frames.length)).toEqual(clients.map((_, i) => (i % 3 === 2 ? 0 : 1)));
    expect(clients[0].ids()).toEqual(range(1, 12));
    expect(clients[1].ids()).toEqual(['e1', 'e3', 'e5', 'e7', 'e9', 'e11']);
    expect(tail.currentIntervalMs).toBe(40); // 40 writes at 1,000 writes/s
    // events of a type only the 20 unfiltered clients and one other see: 21 writes
    tail.subscribe(clients[1], parseFilter({ workflow_types: ['solo'] }), 0);
    tail.take(batch(['s1', 's2'], () => 'solo'));
    tail.flush();
    expect(clients[1].ids()).toEqual(['e1', 'e3', 'e5', 'e7', 'e9', 'e11', 's1', 's2']);
    expect(clients[0].ids()).toEqual([...range(1, 12), 's1', 's2']);
    expect(clients[4].frames.length).toBe(1);
    expect(tail.currentIntervalMs).toBe(21);
    // nothing queued: the flush writes nothing and the interval is the base again
    tail.flush();
    expect(tail.currentIntervalMs).toBe(10);
    void tail.closeClients();
  });
});

describe('a pass over many clients, in slices', () => {
  test('one slice per 100 clients, no more than fit 5 ms apart in the interval', () => {
    expect([[0, 20], [1, 20], [100, 20], [101, 20], [250, 30], [1000, 20], [1000, 40], [5000, 50], [5000, 4]].map(([n, i]) => passSlices(n, i))).toEqual([1, 1, 1, 2, 3, 4, 8, 10, 1]);
  });

  test('every client gets one frame per pass, slice after slice across the interval; events queued mid-pass are not lost and a client gone mid-pass is skipped', async () => {
    // 250 clients, 30 ms apart: 3 slices, 10 ms apart
    const tail = sink({ batchIntervalMs: 30, maxBatchIntervalMs: 30 });
    const clients = unfiltered(tail, 250);
    const t0 = performance.now();
    tail.take(batch(range(1, 5), byParity(0)));
    await new Promise((r) => setImmediate(r));
    // the first slice went out in the same turn of the loop, the others wait for theirs
    const written = () => clients.map((c) => c.frames.length);
    expect(written()).toEqual(clients.map((_, i) => (i < 83 ? 1 : 0)));
    // mid-pass: more events, and a client of the last slice leaves
    tail.take(batch(range(6, 8), byParity(0)));
    tail.remove(clients[249]);
    await new Promise((r) => setTimeout(r, 120));
    // the first slice got e6..e8 in the next pass; the later slices had them queued for this one
    expect(clients[0].ids()).toEqual(range(1, 8));
    expect(clients[0].frames.length).toBe(2);
    expect(clients[200].ids()).toEqual(range(1, 8));
    expect(clients[200].frames.length).toBe(1);
    expect(clients[249].frames.length).toBe(0);
    for (const c of clients.slice(0, 249)) expect(c.ids()).toEqual(range(1, 8));
    // the slices were spread over the interval: the third began at least 2 x 10 ms after the first
    const firstOf = (i: number) => clients[i].at[0] - t0;
    expect(firstOf(0)).toBeLessThan(firstOf(100));
    expect(firstOf(200) - firstOf(0)).toBeGreaterThanOrEqual(19);
    // clients of one slice with the same queue share one frame
    expect(clients[201].buffers[0]).toBe(clients[200].buffers[0]);
    void tail.closeClients();
  });

  test('flush() writes the whole pass at once, also one already under way', async () => {
    const tail = sink({ batchIntervalMs: 40, maxBatchIntervalMs: 40 });
    const clients = unfiltered(tail, 300);
    tail.take(batch(range(1, 3), byParity(0)));
    await new Promise((r) => setImmediate(r));
    expect(clients.filter((c) => c.frames.length === 1).length).toBe(100); // slice 1 of 3
    tail.flush();
    expect(clients.every((c) => c.frames.length === 1 && c.ids().join() === range(1, 3).join())).toBe(true);
    void tail.closeClients();
  });
});

describe('replays share one budget', () => {
  test('all replays together look at most replayScanPerSecond entries a second; one cut short says so and is counted', async () => {
    let t = 1_000_000;
    const cfg = configFrom({ tail: { historySize: 5000, maxScanPerRequest: 800, replayScanPerSecond: 1000 } });
    const registry = new Registry();
    const tail = new TailSink({ config: cfg.tail, metrics: createMetrics(registry, { ...cfg.metrics, defaultMetrics: false }), logger: pino({ level: 'silent' }), now: () => t });
    for (let i = 0; i < 3000; i++) {
      tail.history.push({ id: `e${i}`, type: i % 2 === 0 ? 'task.completed' : 'task.started', source: 'test', time: '2026-11-20T10:00:00.000Z' } as unknown as WorkflowEvent, 'test', 0);
    }
    const done = parseFilter({ types: ['task.completed'] });
    const replay = () => {
      const c = new RecordingClient();
      tail.add(c);
      return tail.subscribe(c, done, 1000);
    };
    // 800 looked at (this replay's own limit, not the budget's): 400 found; 200 left in the budget
    expect(replay()).toEqual({ replayed: 400, resumed: false, limited: false });
    expect(replay()).toEqual({ replayed: 100, resumed: false, limited: true });
    expect(replay()).toEqual({ replayed: 0, resumed: false, limited: true });
    t += 500; // half a second: half the budget back
    expect(replay()).toEqual({ replayed: 250, resumed: false, limited: true });
    t += 10_000; // never more than one second's worth
    expect(replay()).toEqual({ replayed: 400, resumed: false, limited: false });
    expect(replay()).toEqual({ replayed: 100, resumed: false, limited: true });
    const text = await registry.metrics();
    expect(text).toContain('workflow_exporter_tail_rejected_total{transport="websocket",reason="replay_limited"} 4');
    await tail.closeClients();
  });
});

describe('snapshots for new clients', () => {
  test('clients connecting together share one snapshot; a later one gets a new one', async () => {
    const cfg = configFrom({});
    let computed = 0;
    const tail = new TailSink({
      config: cfg.tail,
      metrics: createMetrics(new Registry(), { ...cfg.metrics, defaultMetrics: false }),
      logger: pino({ level: 'silent' }),
      activeRuns: () => {
        computed++;
        return [];
      },
    });
    const first = await Promise.all(Array.from({ length: 1000 }, () => tail.snapshotJson()));
    expect(computed).toBe(1);
    expect(new Set(first).size).toBe(1);
    tail.take(batch(['a'], () => 'wf'));
    await new Promise((r) => setTimeout(r, SNAPSHOT_REUSE_MS + 20));
    const later = JSON.parse(await tail.snapshotJson()) as { events_total: number };
    expect(computed).toBe(2);
    expect(later.events_total).toBe(1);
  });
});

describe('what the tail keeps of an event', () => {
  test('a derived duration and the redaction are applied when the entry is first read, to a copy, and the redaction covers the derived duration', () => {
    const cfg = configFrom({});
    const redacted: string[] = [];
    const tail = new TailSink({
      config: cfg.tail,
      metrics: createMetrics(new Registry(), { ...cfg.metrics, defaultMetrics: false }),
      logger: pino({ level: 'silent' }),
      redact: (e) => {
        redacted.push(e.id);
        const { duration_ms: _, ...rest } = e as WorkflowEvent & { duration_ms?: number };
        return { ...rest, attributes: { masked: true } } as WorkflowEvent;
      },
    });
    const b = batch(['a', 'b'], () => 'wf');
    b.durations = [1.2345678, NaN];
    const originals = b.events.map((e) => JSON.stringify(e));
    tail.write(b);
    expect(redacted).toEqual([]); // nothing read yet: nothing copied
    const [ea, eb] = [tail.history.at(1)!, tail.history.at(2)!];
    expect(ea.event.attributes).toEqual({ masked: true });
    expect((ea.event as { duration_ms?: number }).duration_ms).toBeUndefined(); // derived, then redacted
    expect(JSON.parse(eb.json()).attributes).toEqual({ masked: true });
    expect(redacted).toEqual(['a', 'b']);
    void ea.event; // read again: prepared once
    expect(redacted).toEqual(['a', 'b']);
    expect(b.events.map((e) => JSON.stringify(e))).toEqual(originals); // the pipeline's events untouched
  });

  test('without redaction the derived duration is marked, and events that carry one or have none are the pipeline\'s own object', () => {
    const tail = sink();
    const b = batch(['a', 'b', 'c'], () => 'wf');
    (b.events[1] as { duration_ms?: number }).duration_ms = 5;
    b.durations = [1.2345678, 0.5, NaN];
    tail.write(b);
    const [ea, eb, ec] = [1, 2, 3].map((s) => tail.history.at(s)!);
    expect(ea.event).toMatchObject({ id: 'a', duration_ms: 1234.568, duration_derived: true });
    expect(ea.event).not.toBe(b.events[0]);
    expect(eb.event).toBe(b.events[1]);
    expect(ec.event).toBe(b.events[2]);
    expect((b.events[0] as { duration_ms?: number }).duration_ms).toBeUndefined();
  });
});

describe('merging the history read back from the bus (tail.follow watched)', () => {
  const at = (sec: number) => new Date(Date.now() - 30_000 + sec * 1000).toISOString();
  const ev = (id: string, sec: number) => ({ id, type: 'agent.response', source: 'test', time: at(sec), agent: 'a' }) as unknown as WorkflowEvent;

  test('an event held and read back is kept once, one the bus no longer has stays, by event time, the newest historySize', async () => {
    const tail = sink({ historySize: 5 });
    // this replica's share: h1, s2, h3 (s2 is on the bus too)
    tail.write({ source: 'bus', events: [ev('h1', 1), ev('s2', 2), ev('h3', 3)], timesMs: [0, 0, 0], durations: [NaN, NaN, NaN], receivedAtMs: 0 });
    // read back: the bus's last events, s2 among them; h1 and h3 were trimmed from it
    tail.mergeHistory([ev('s2', 2), ev('b4', 4), ev('b5', 5), ev('b6', 6)].map((event) => ({ event, source: 'bus', receivedAtMs: 0 })));
    const page = await tail.history.query(() => true, 100);
    // newest first; h1 fell off the 5 kept
    expect(page.entries.map((e) => e.id)).toEqual(['b6', 'b5', 'b4', 'h3', 's2']);
    const snap = await tail.snapshot();
    expect(snap.events).toBe(5); // the window counts what the history holds now, at the events' times
  });

  test('durations survive the merge: a held event keeps its own, one read back takes the one derived for it, and the window has both', async () => {
    const tail = sink({ historySize: 10 });
    const wf = { id: 'r1', type: 'etl' };
    const done = (id: string, sec: number) => ({ id, type: 'workflow.completed', source: 'test', time: at(sec), workflow: wf }) as unknown as WorkflowEvent;
    tail.write({ source: 'bus', events: [done('held', 2)], timesMs: [0], durations: [1.5], receivedAtMs: 0 });
    tail.mergeHistory([done('read', 3), ev('plain', 4)].map((event) => ({ event, source: 'bus', receivedAtMs: 0 })), [2.5, NaN]);
    const page = await tail.history.query(() => true, 100);
    expect(page.entries.map((e) => [e.id, (e.event as { duration_ms?: number }).duration_ms])).toEqual([['plain', undefined], ['read', 2500], ['held', 1500]]);
    const snap = await tail.snapshot();
    expect(snap.latency_seconds.workflow_type.etl).toMatchObject({ count: 2 });
  });
});
