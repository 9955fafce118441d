// The live tail over WebSocket with real `ws` clients against a listening exporter: filters, replay,
// filter change, heartbeats, slow-client isolation, limits, bad requests and shutdown.
import { afterEach, describe, expect, test } from 'vitest';
import { startApp, waitFor, type TestApp } from './helpers/app.js';
import { value } from './helpers/metrics.js';
import { publish, TailTestClient, tailEvent } from './helpers/tail.js';

const apps: TestApp[] = [];
const clients: TailTestClient[] = [];
async function app(tail: Record<string, unknown> = {}): Promise<TestApp> {
  const a = await startApp({ tail });
  apps.push(a);
  return a;
}
async function client(a: TestApp, opts: Parameters<typeof TailTestClient.connect>[1] = {}): Promise<TailTestClient> {
  const c = await TailTestClient.connect(a.url, opts);
  clients.push(c);
  return c;
}
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const a of apps.splice(0)) await a.close();
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const SET = [
  tailEvent('e1', { type: 'task.completed', agent: 'coder', workflow: { id: 'wf-1', type: 'feature-dev' } }),
  tailEvent('e2', { type: 'task.failed', agent: 'reviewer', workflow: { id: 'wf-2', type: 'bug-fix' }, priority: 'high' }),
  tailEvent('e3', { type: 'workflow.started', source: 'scheduler', workflow: { id: 'wf-3', type: 'feature-dev' } }),
  tailEvent('e4', { type: 'agent.heartbeat', agent: 'coder', priority: 'low' }),
  tailEvent('e5', { type: 'workflow.failed', workflow: { id: 'wf-1', type: 'feature-dev' }, attributes: { error: 'Disk FULL on runner-7' } }),
  tailEvent('e6', { type: 'task.started', agent: 'coder', workflow: { id: 'wf-2', type: 'bug-fix' }, priority: 'critical' }),
];

describe('GET /ws/events', () => {
  test('each client gets exactly the events its filter matches, batched, in order', async () => {
    const a = await app();
    const cases: [Record<string, unknown>, string[]][] = [
      [{}, ['e1', 'e2', 'e3', 'e4', 'e5', 'e6']],
      [{ types: ['task.*'] }, ['e1', 'e2', 'e6']],
      [{ types: ['*.failed'] }, ['e2', 'e5']],
      [{ sources: ['scheduler'] }, ['e3']],
      [{ workflow_types: ['bug-fix'] }, ['e2', 'e6']],
      [{ workflow_id: 'wf-1' }, ['e1', 'e5']],
      [{ agents: ['coder'] }, ['e1', 'e4', 'e6']],
      [{ priorities: ['high', 'critical'] }, ['e2', 'e6']],
      [{ q: 'disk full' }, ['e5']],
      [{ agents: ['coder'], types: ['task.*'], priorities: ['normal'] }, ['e1']],
      [{ agents: ['nobody'] }, []],
    ];
    const cs = await Promise.all(cases.map(() => client(a)));
    await Promise.all(cs.map((c, i) => c.subscribe(cases[i][0])));
    await publish(a.url, SET);
    await Promise.all(cs.map((c, i) => c.waitEvents(cases[i][1].length)));
    await sleep(200); // anything extra would have arrived by now
    cs.forEach((c, i) => expect(c.ids(), JSON.stringify(cases[i][0])).toEqual(cases[i][1]));
    // one POST is one pipeline batch: it reaches a client as one frame
    expect(cs[0].framesOf('events')).toHaveLength(1);
    expect(cs[0].events[1]).toMatchObject({ id: 'e2', type: 'task.failed', agent: 'reviewer', priority: 'high', workflow: { id: 'wf-2', type: 'bug-fix' } });
    expect(value(await a.scrape(), 'workflow_exporter_tail_clients', { transport: 'websocket' })).toBe(cases.length);
  });

  test('nothing is sent before a subscribe; a snapshot is', async () => {
    const a = await app();
    const c = await client(a);
    await publish(a.url, SET);
    await waitFor('snapshot', () => c.framesOf('snapshot').length > 0);
    await sleep(200);
    expect(c.events).toEqual([]);
  });

  test('replay sends the last N matching events first, then live ones; after resumes without duplicates', async () => {
    const a = await app();
    await publish(a.url, Array.from({ length: 30 }, (_, i) => tailEvent(`r${i + 1}`, { type: i % 3 === 0 ? 'task.failed' : 'task.completed' })));

    const c1 = await client(a);
    const ack = await c1.subscribe({}, 10);
    expect(ack).toMatchObject({ type: 'subscribed', replayed: 10, resumed: false });
    expect(c1.ids()).toEqual(Array.from({ length: 10 }, (_, i) => `r${i + 21}`));
    expect(c1.framesOf('events')[0].replay).toBe(true);

    const c2 = await client(a);
    expect(await c2.subscribe({ types: ['task.failed'] }, 3)).toMatchObject({ replayed: 3 });
    expect(c2.ids()).toEqual(['r22', 'r25', 'r28']);

    // a reconnecting client that saw up to r20 gets r21..r30 and nothing before
    const c3 = await client(a);
    expect(await c3.subscribe({}, 100, 'r20')).toMatchObject({ replayed: 10, resumed: true });
    expect(c3.ids()).toEqual(c1.ids());

    await publish(a.url, [tailEvent('live-1')]);
    await c1.waitEvents(11);
    await c3.waitEvents(11);
    expect(c1.ids().slice(10)).toEqual(['live-1']);
    expect(c1.framesOf('events')[1].replay).toBeUndefined();
    expect(new Set(c3.ids()).size).toBe(11);
  });

  test('a new subscribe replaces the filter', async () => {
    const a = await app();
    const c = await client(a);
    await c.subscribe({ types: ['task.*'] });
    await publish(a.url, SET);
    await c.waitEvents(3);
    expect(c.ids()).toEqual(['e1', 'e2', 'e6']);

    await c.subscribe({ agents: ['coder'] });
    await publish(
      a.url,
      SET.map((e) => ({ ...e, id: `${e.id}b` })),
    );
    await c.waitEvents(6);
    await sleep(200);
    expect(c.ids()).toEqual(['e1', 'e2', 'e6', 'e1b', 'e4b', 'e6b']);
  });

  test('heartbeat: a client that stops answering pings is dropped, one that answers stays', async () => {
    // long enough that a busy test process still answers in time, short enough for a test
    const a = await app({ heartbeatIntervalMs: 400 });
    const silent = await client(a, { autoPong: false });
    const alive = await client(a);
    await alive.subscribe({});
    const closed = await silent.waitClosed();
    expect(closed.code).toBe(1006); // terminated: no close frame for a peer that stopped answering
    await sleep(1300); // three more heartbeats
    expect(alive.closed).toBeUndefined();
    expect(value(await a.scrape(), 'workflow_exporter_tail_clients', { transport: 'websocket' })).toBe(1);
    await publish(a.url, [tailEvent('after-heartbeats')]);
    await alive.waitEvents(1);
    expect(alive.ids()).toEqual(['after-heartbeats']);
  });

  test('a client that never reads is shed and told what it missed; the others get every event', async () => {
    const maxQueueEvents = 100;
    const a = await app({ maxQueueEvents, maxBufferedBytes: 64 * 1024, batchIntervalMs: 10 });
    const fast = [await client(a), await client(a)];
    const slow = await client(a);
    for (const c of [...fast, slow]) await c.subscribe({});
    // stop reading the socket: the kernel buffers fill, then the server's send buffer, then its queue
    (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();

    const pad = 'x'.repeat(4000);
    const order: string[] = [];
    let maxQueued = 0;
    let roundsShedding = 0;
    for (let round = 0; round < 80; round++) {
      const batch = Array.from({ length: 200 }, (_, i) => tailEvent(`s${round}-${i}`, { attributes: { pad } }));
      await publish(a.url, batch);
      order.push(...batch.map((e) => e.id as string));
      for (const c of fast) await c.waitEvents(order.length, `fast client to get ${order.length} events`);
      const stats = a.app.tail.clientStats();
      maxQueued = Math.max(maxQueued, ...stats.map((st) => st.queued));
      // keep going a few rounds once shedding started: the others must not notice
      if (stats.some((st) => st.dropped > 0) && ++roundsShedding > 3) break;
    }
    const droppedOnServer = value(await a.scrape(), 'workflow_exporter_tail_dropped_events_total', { transport: 'websocket' });
    expect(droppedOnServer).toBeGreaterThan(0);
    expect(maxQueued).toBeLessThanOrEqual(maxQueueEvents);
    for (const c of fast) {
      expect(c.ids()).toEqual(order);
      expect(c.dropped).toBe(0);
    }

    // once it reads again it gets a dropped notice, and what it got plus what it missed is everything
    (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    await waitFor('slow client to account for every event', () => slow.events.length + slow.dropped === order.length, 30_000);
    expect(slow.dropped).toBe(droppedOnServer);
    expect(slow.framesOf('dropped').length).toBeGreaterThan(0);
    const pos = slow.ids().map((id) => order.indexOf(id));
    expect(pos.every((p, i) => p >= 0 && (i === 0 || p > pos[i - 1]))).toBe(true); // in order, no repeats
    expect(slow.ids().at(-1)).toBe(order.at(-1)); // the newest are kept, the oldest shed
  });

  test('a client that does not read gets no replay on top of its backlog: it is counted as dropped', async () => {
    const a = await app({ maxBufferedBytes: 16 * 1024, subscribeRate: 100, subscribeBurst: 100 });
    const pad = 'x'.repeat(2000);
    for (let k = 0; k < 5; k++) await publish(a.url, Array.from({ length: 200 }, (_, i) => tailEvent(`b${k}-${i}`, { attributes: { pad } })));
    const c = await client(a);
    const socket = (c.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    socket.pause();
    // each replay is ~2 MB; once the socket is backed up further replays are refused, not buffered
    for (let i = 0; i < 40; i++) c.send({ type: 'subscribe', filter: {}, replay: 1000 });
    // every subscribe answered (replayed or refused) — under load they arrive over several turns
    await waitFor('all 40 replays answered', () => {
      const s0 = a.app.tail.clientStats()[0];
      return s0 !== undefined && s0.delivered + s0.dropped === 40 * 1000;
    });
    const st = a.app.tail.clientStats()[0];
    expect(st.dropped).toBeGreaterThan(0);
    expect(st.buffered).toBeLessThan(40 * 1000 * 2000); // not every replay is held in memory
    expect(st.delivered + st.dropped).toBe(40 * 1000);
    socket.resume();
    await waitFor('all acknowledgements', () => c.framesOf('subscribed').length === 40, 30_000);
    const replayed = c.framesOf('subscribed').reduce((n, f) => n + (f.replayed as number), 0);
    expect(replayed).toBe(st.delivered);
    expect(c.events.length).toBe(replayed);
  });

  test('limits: clients, message size and message rate close with a code and a reason, counted', async () => {
    const a = await app({ maxClients: 2, maxMessageBytes: 1024, subscribeRate: 1, subscribeBurst: 3 });
    const c1 = await client(a);
    const c2 = await client(a);
    const c3 = await client(a);
    expect(await c3.waitClosed()).toEqual({ code: 1013, reason: 'too many clients: at most 2' });

    c1.send({ type: 'subscribe', filter: {}, pad: 'x'.repeat(1100) });
    const tooBig = await c1.waitClosed();
    expect(tooBig.code).toBe(1009);
    expect(tooBig.reason).toMatch(/^message of \d+ bytes exceeds 1024$/);

    for (let i = 0; i < 4; i++) c2.send({ type: 'subscribe', filter: {} });
    expect(await c2.waitClosed()).toEqual({ code: 1008, reason: 'message rate exceeded: at most 1/s, bursts of 3' });
    expect(c2.framesOf('subscribed')).toHaveLength(3);

    // above the transport's 64 KiB limit the socket is cut by the WebSocket layer itself, also 1009
    const c4 = await client(a);
    c4.send('x'.repeat(70_000));
    expect((await c4.waitClosed()).code).toBe(1009);

    const text = await a.scrape();
    for (const [reason, n] of [['too_many_clients', 1], ['too_large', 1], ['rate_limited', 1]] as const) {
      expect(value(text, 'workflow_exporter_tail_rejected_total', { transport: 'websocket', reason }), reason).toBe(n);
    }
    await waitFor('clients gone', async () => value(await a.scrape(), 'workflow_exporter_tail_clients', { transport: 'websocket' }) === 0);
  });

  test('bad messages get an error frame naming the problem; the connection stays usable', async () => {
    const a = await app();
    const c = await client(a);
    const bad: [unknown, string, RegExp][] = [
      ['{not json', 'invalid_json', /^message is not JSON/],
      [[1, 2], 'invalid_message', /expected an object with a type/],
      [{ type: 'unsubscribe' }, 'invalid_message', /unknown message type "unsubscribe"/],
      [{ type: 'subscribe', filter: { types: 'task.*' } }, 'invalid_filter', /^filter\.types: /],
      [{ type: 'subscribe', filter: { colour: 'red' } }, 'invalid_filter', /colour/],
      [{ type: 'subscribe', filter: { types: Array.from({ length: 60 }, () => '*a'.repeat(128)) } }, 'filter_limit', /^filter\.types: Too big: expected array to have <=16 items$/],
      [{ type: 'subscribe', filter: { types: ['*a'.repeat(65)] } }, 'filter_limit', /^filter\.types\.0: Too big: expected string to have <=128 characters$/],
      [{ type: 'subscribe', replay: -1 }, 'invalid_message', /^replay must be an integer from 0 to 10000$/],
      [{ type: 'subscribe', replay: 1.5 }, 'invalid_message', /^replay must be/],
      [{ type: 'subscribe', after: 7 }, 'invalid_message', /^after must be an event id/],
    ];
    for (const [msg, code, message] of bad) {
      const n = c.framesOf('error').length;
      c.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
      await waitFor(`error for ${JSON.stringify(msg)}`, () => c.framesOf('error').length > n);
      const f = c.framesOf('error')[n];
      expect(f.code).toBe(code);
      expect(f.message).toMatch(message);
    }
    expect(c.closed).toBeUndefined();
    c.send({ type: 'ping' });
    await waitFor('pong', () => c.framesOf('pong').length === 1);
    await c.subscribe({ types: ['task.*'] });
    await publish(a.url, SET);
    await c.waitEvents(3);
    const text = await a.scrape();
    expect(value(text, 'workflow_exporter_tail_rejected_total', { transport: 'websocket', reason: 'invalid_json' })).toBe(1);
    expect(value(text, 'workflow_exporter_tail_rejected_total', { transport: 'websocket', reason: 'invalid_message' })).toBe(5);
    expect(value(text, 'workflow_exporter_tail_rejected_total', { transport: 'websocket', reason: 'invalid_filter' })).toBe(2);
    expect(value(text, 'workflow_exporter_tail_rejected_total', { transport: 'websocket', reason: 'filter_limit' })).toBe(2);
  });

  test('snapshots arrive every interval with the window statistics', async () => {
    const a = await app({ snapshotIntervalMs: 100 });
    const c = await client(a);
    await c.subscribe({});
    const t0 = Date.now() - 60_000;
    const iso = (ms: number) => new Date(ms).toISOString();
    await publish(a.url, [
      { id: 'w1s', type: 'workflow.started', time: iso(t0), source: 'o', workflow: { id: 'w1', type: 'etl' } },
      { id: 'w1e', type: 'workflow.completed', time: iso(t0 + 4000), source: 'o', workflow: { id: 'w1', type: 'etl' } },
      { id: 'w2s', type: 'workflow.started', time: iso(t0), source: 'o', workflow: { id: 'w2', type: 'etl' } },
      { id: 'w2e', type: 'workflow.failed', time: iso(t0 + 10_000), source: 'o', workflow: { id: 'w2', type: 'etl' } },
      { id: 'w3s', type: 'workflow.started', time: iso(t0), source: 'o', workflow: { id: 'w3', type: 'etl' } },
      { id: 't1', type: 'task.completed', time: iso(t0), source: 'o', agent: 'coder', duration_ms: 1500 },
    ]);
    await c.waitEvents(6);
    await waitFor('snapshot with the events', () => c.framesOf('snapshot').some((f) => (f.data as { events_total: number }).events_total === 6));
    const data = c.framesOf('snapshot').find((f) => (f.data as { events_total: number }).events_total === 6)!.data as Record<string, any>;
    expect(data.events).toBe(6);
    expect(data.errors).toBe(1);
    expect(data.outcomes).toBe(3);
    expect(data.error_ratio).toBe(1 / 3);
    expect(data.latency_seconds.workflow_type).toEqual({ etl: { count: 2, p50: 4, p95: 10, p99: 10 } });
    expect(data.latency_seconds.agent).toEqual({ coder: { count: 1, p50: 1.5, p95: 1.5, p99: 1.5 } });
    expect(data.active_runs).toEqual({ total: 1, by_workflow_type: { etl: { running: 1 } } });
    expect(data.clients).toEqual({ websocket: 1, sse: 0 });
    const viaHttp = (await (await fetch(`${a.url}/api/snapshot`)).json()) as Record<string, any>;
    expect(viaHttp.latency_seconds).toEqual(data.latency_seconds);
    expect(viaHttp.events_total).toBe(6);
  });

  test('server shutdown closes clients with 1001', async () => {
    const a = await startApp({});
    const c = await client(a);
    await c.subscribe({});
    await a.close();
    expect(await c.waitClosed()).toEqual({ code: 1001, reason: 'server shutting down' });
  });
});
