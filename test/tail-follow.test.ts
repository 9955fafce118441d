// The tail follower: two exporters on one JetStream durable consumer (and on one Redis consumer
// group) split the events for metrics, yet the history and a WebSocket client of each show every
// event exactly once; a broker restart is followed through; tail.follow off keeps the old split.
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, test } from 'vitest';
import { uniqueName } from './helpers/brokers.js';
import { useBuses } from './helpers/buses.js';
import { startApp, waitFor, type TestApp } from './helpers/app.js';
import { value } from './helpers/metrics.js';
import { Processes } from './helpers/processes.js';
import { TailTestClient, type TailEvent } from './helpers/tail.js';

const N = 120;
const SOURCE = 'follow-test';

interface HistoryPage {
  events: TailEvent[];
  history: { size: number };
}
async function historyOf(a: TestApp): Promise<TailEvent[]> {
  const res = await fetch(`${a.url}/api/events?limit=10000`);
  expect(res.status).toBe(200);
  return ((await res.json()) as HistoryPage).events.reverse(); // oldest first
}
const sorted = (xs: string[]) => [...xs].sort();
const sum = async (apps: TestApp[], name: string, labels: Record<string, string> = {}) => {
  const each = await Promise.all(apps.map(async (a) => value(await a.scrape(), name, labels)));
  return { each, total: each.reduce((x, y) => x + y, 0) };
};

/**
 * N events: a run whose completion carries no duration_ms (derived from its start, 1.5 s), a task
 * with duration_ms 1200, and plain agent events; one of them per six is from the run's workflow.
 */
function traffic(prefix: string): { events: Record<string, unknown>[]; ids: string[] } {
  const t0 = Date.now() - 60_000;
  const at = (ms: number) => new Date(t0 + ms).toISOString();
  const events: Record<string, unknown>[] = [
    { id: `${prefix}-start`, type: 'workflow.started', time: at(0), source: SOURCE, workflow: { id: `${prefix}-wf`, type: 'followed' } },
    { id: `${prefix}-task`, type: 'task.completed', time: at(100), source: SOURCE, agent: 'coder', duration_ms: 1200, workflow: { id: `${prefix}-wf`, type: 'followed' } },
  ];
  for (let i = 0; i < N - 3; i++) events.push({ id: `${prefix}-e${i}`, type: 'agent.response', time: at(200 + i), source: SOURCE, agent: i % 2 ? 'coder' : 'tester' });
  events.push({ id: `${prefix}-end`, type: 'workflow.completed', time: at(1500), source: SOURCE, workflow: { id: `${prefix}-wf`, type: 'followed' } });
  return { events, ids: events.map((e) => e.id as string) };
}

/** Both replicas' tails hold every event once, their metrics split them, and the derived duration is on every tail. */
async function expectEveryTailComplete(apps: TestApp[], clients: TailTestClient[], prefix: string, ids: string[]): Promise<void> {
  await waitFor('every event counted once across the replicas', async () => (await sum(apps, 'workflow_events_total', { source: SOURCE })).total >= N);
  for (const [i, c] of clients.entries()) await c.waitEvents(N, `${N} events on the WebSocket of replica ${i}`);
  for (const a of apps) await waitFor('history complete', async () => (await historyOf(a)).length >= N);

  const counted = await sum(apps, 'workflow_events_total', { source: SOURCE });
  expect(counted.total).toBe(N);
  // the shared consumer did split the stream: each replica counted a share, none all of it
  for (const n of counted.each) expect(n).toBeGreaterThan(0);
  for (const n of counted.each) expect(n).toBeLessThan(N);
  // the broken message is rejected once, by the replica that got it from the shared consumer
  expect((await sum(apps, 'workflow_exporter_events_rejected_total')).total).toBe(1);

  for (const [i, a] of apps.entries()) {
    const history = await historyOf(a);
    expect(history.length, `history of replica ${i}`).toBe(N);
    expect(sorted(history.map((e) => e.id))).toEqual(sorted(ids));
    expect(sorted(clients[i].ids())).toEqual(sorted(ids));
    for (const list of [history, clients[i].events]) {
      const end = list.find((e) => e.id === `${prefix}-end`)!;
      expect(end.duration_ms).toBe(1500);
      expect(end.duration_derived).toBe(true);
      expect(end.workflow).toEqual({ id: `${prefix}-wf`, type: 'followed' });
      const task = list.find((e) => e.id === `${prefix}-task`)!;
      expect(task.duration_ms).toBe(1200);
      expect(task.duration_derived).toBeUndefined();
    }
    const snap = (await (await fetch(`${a.url}/api/snapshot`)).json()) as { events_total: number };
    expect(snap.events_total).toBe(N);
  }
}

async function openClients(apps: TestApp[]): Promise<TailTestClient[]> {
  const clients = await Promise.all(apps.map((a) => TailTestClient.connect(a.url)));
  for (const c of clients) await c.subscribe({ sources: [SOURCE] }, 0);
  return clients;
}

describe('every replica tails every event', () => {
  const bus = useBuses();

  /** Two exporters in one Redis consumer group on a fresh key, as consumers a and b. */
  async function redisReplicas(prefix: string, tail: Record<string, unknown> = {}): Promise<{ key: string; apps: TestApp[] }> {
    const key = uniqueName(prefix);
    bus.keys.push(key);
    const cfg = (consumer: string) => ({
      http: false,
      tail,
      sources: [{ kind: 'redis-streams', url: bus.rurl, keys: [key], group: 'wfx-follow', consumer, batch: 4, blockMs: 100 }],
    });
    return { key, apps: [await startApp(cfg('a')), await startApp(cfg('b'))] };
  }

  test('NATS JetStream: two replicas on one durable consumer', async () => {
    const stream = uniqueName('WFX_FOLLOW');
    const subject = uniqueName('wfx.follow').replace(/_/g, '-');
    bus.streams.push(stream);
    await bus.jsm.streams.add({ name: stream, subjects: [`${subject}.>`] });
    const cfg = {
      http: false,
      sources: [{ kind: 'nats-jetstream', servers: [bus.nurl], streams: [{ stream, subjects: [`${subject}.>`], durable: 'wfx-follow' }], create: true, batch: 4 }],
    };
    const apps = [await startApp(cfg), await startApp(cfg)];
    try {
      for (const a of apps) expect(a.app.follower).toBeDefined();
      for (const a of apps) expect(value(await a.scrape(), 'workflow_exporter_tail_follower_reading')).toBe(0); // watched: nobody yet
      const clients = await openClients(apps);
      const { events, ids } = traffic('n');
      const js = jetstream(bus.nc);
      for (const [i, e] of events.entries()) {
        await js.publish(`${subject}.events`, JSON.stringify(e));
        if (i === 10) await js.publish(`${subject}.events`, '{"broken":');
      }
      await expectEveryTailComplete(apps, clients, 'n', ids);
      for (const c of clients) c.close();
      // each follower deletes its ordered consumer on close: only the shared durable stays
      for (const a of apps) await a.close();
      const names: string[] = [];
      for await (const ci of bus.jsm.consumers.list(stream)) names.push(ci.name);
      expect(names).toEqual(['wfx-follow']);
    } finally {
      for (const a of apps) await a.close();
    }
  });

  test('Redis Streams: two replicas in one consumer group', async () => {
    const { key, apps } = await redisReplicas('wfx:follow');
    try {
      const clients = await openClients(apps);
      const { events, ids } = traffic('r');
      for (const [i, e] of events.entries()) {
        await bus.redis.xadd(key, '*', 'data', JSON.stringify(e));
        if (i === 10) await bus.redis.xadd(key, '*', 'data', '{"broken":');
      }
      await expectEveryTailComplete(apps, clients, 'r', ids);
      for (const c of clients) c.close();
    } finally {
      for (const a of apps) await a.close();
    }
  });

  test('tail.follow off: each replica tails only its share of the stream', async () => {
    const { key, apps } = await redisReplicas('wfx:follow-off', { follow: 'off' });
    try {
      for (const a of apps) expect(a.app.follower).toBeUndefined();
      const { events } = traffic('o');
      for (const e of events) await bus.redis.xadd(key, '*', 'data', JSON.stringify(e));
      await waitFor('every event counted', async () => (await sum(apps, 'workflow_events_total', { source: SOURCE })).total >= N);
      const counted = await sum(apps, 'workflow_events_total', { source: SOURCE });
      const sizes = await Promise.all(apps.map(async (a) => (await historyOf(a)).length));
      expect(sizes).toEqual(counted.each);
      expect(sizes[0] + sizes[1]).toBe(N);
    } finally {
      for (const a of apps) await a.close();
    }
  });

  test('tail.follow watched: no second read while nobody watches; a client or a history request reads the history back and follows', async () => {
    const stream = uniqueName('WFX_WATCHED');
    const subject = uniqueName('wfx.watched').replace(/_/g, '-');
    bus.streams.push(stream);
    await bus.jsm.streams.add({ name: stream, subjects: [`${subject}.>`] });
    const cfg = {
      http: false,
      tail: { follow: 'watched', followIdleSeconds: 1 },
      sources: [{ kind: 'nats-jetstream', servers: [bus.nurl], streams: [{ stream, subjects: [`${subject}.>`], durable: 'wfx-watched' }], create: true, batch: 4 }],
    };
    const apps = [await startApp(cfg), await startApp(cfg)];
    const consumers = async () => {
      const names: string[] = [];
      for await (const ci of bus.jsm.consumers.list(stream)) names.push(ci.name);
      return names;
    };
    const js = jetstream(bus.nc);
    try {
      const first = traffic('w1');
      for (const e of first.events) await js.publish(`${subject}.events`, JSON.stringify(e));
      await waitFor('every event counted once across the replicas', async () => (await sum(apps, 'workflow_events_total', { source: SOURCE })).total >= N);
      const counted = await sum(apps, 'workflow_events_total', { source: SOURCE });
      expect(counted.total).toBe(N);
      for (const n of counted.each) expect(n).toBeGreaterThan(0);
      // nobody watched: no follower read, and only the shared durable is on the stream
      for (const a of apps) expect(a.app.follower!.activations).toBe(0);
      for (const a of apps) expect(value(await a.scrape(), 'workflow_exporter_tail_follower_reading')).toBe(0);
      expect(await consumers()).toEqual(['wfx-watched']);

      // a history request on replica 0 reads the history back: every event, not its share
      const history0 = await historyOf(apps[0]);
      expect(sorted(history0.map((e) => e.id))).toEqual(sorted(first.ids));
      expect(apps[0].app.follower!.activations).toBe(1);
      expect(apps[1].app.follower!.activations).toBe(0);
      expect(value(await apps[0].scrape(), 'workflow_exporter_tail_follower_reading')).toBe(1);
      // the run's end read back has the duration derived from its start, read back before it
      expect(history0.find((e) => e.id === 'w1-end')).toMatchObject({ duration_ms: 1500, duration_derived: true });

      // a run starts while replica 1's follower is not reading yet
      const second = traffic('w2');
      await js.publish(`${subject}.events`, JSON.stringify(second.events[0]));
      await waitFor('the start counted', async () => (await sum(apps, 'workflow_events_total', { source: SOURCE })).total >= N + 1);
      // a WebSocket client on replica 1 replays every event, then sees every new one live
      const client = await TailTestClient.connect(apps[1].url);
      const sub = await client.subscribe({ sources: [SOURCE] }, 1000);
      expect(sub.replayed).toBe(N + 1);
      expect(apps[1].app.follower!.activations).toBe(1);
      for (const e of second.events.slice(1)) await js.publish(`${subject}.events`, JSON.stringify(e));
      await client.waitEvents(2 * N, `${2 * N} events on the WebSocket of replica 1`);
      expect(sorted(client.ids())).toEqual(sorted([...first.ids, ...second.ids]));
      const end = client.events.find((e) => e.id === 'w2-end')!;
      // derived by the follower: the history it read back when it started seeded its state with the start
      expect(end.duration_ms).toBe(1500);
      expect(end.duration_derived).toBe(true);
      const history1 = await historyOf(apps[1]);
      expect(sorted(history1.map((e) => e.id))).toEqual(sorted([...first.ids, ...second.ids]));
      expect(await consumers()).toHaveLength(3); // the durable and one ordered consumer per watching replica
      await waitFor('counted once', async () => (await sum(apps, 'workflow_events_total', { source: SOURCE })).total >= 2 * N);
      expect((await sum(apps, 'workflow_events_total', { source: SOURCE })).total).toBe(2 * N);

      // nobody watches any more: both followers stop and their ordered consumers go
      client.close();
      await waitFor('both followers idle', async () => apps.every((a) => a.app.follower!.idles === 1), 15_000);
      await waitFor('only the durable left', async () => (await consumers()).length === 1, 15_000);
      for (const a of apps) expect(value(await a.scrape(), 'workflow_exporter_tail_follower_reading')).toBe(0);
      // from here each replica's tail takes its share again: what its tail took is what it counted
      const tailTook = () => Promise.all(apps.map(async (a) => ((await (await fetch(`${a.url}/api/snapshot`)).json()) as { events_total: number }).events_total));
      const took0 = await tailTook();
      const counted0 = (await sum(apps, 'workflow_events_total', { source: SOURCE })).each;
      const third = traffic('w3');
      for (const e of third.events) await js.publish(`${subject}.events`, JSON.stringify(e));
      await waitFor('counted once', async () => (await sum(apps, 'workflow_events_total', { source: SOURCE })).total >= 3 * N);
      const took1 = await tailTook();
      const counted1 = (await sum(apps, 'workflow_events_total', { source: SOURCE })).each;
      expect(took1.map((t, i) => t - took0[i])).toEqual(counted1.map((c, i) => c - counted0[i]));
      // and the next history request reads every event back again
      const again = await historyOf(apps[1]);
      expect(sorted(again.map((e) => e.id))).toEqual(sorted([...first.ids, ...second.ids, ...third.ids]));
      expect(apps[1].app.follower!.activations).toBe(2);
    } finally {
      for (const a of apps) await a.close();
    }
  });

  test('auto without a bus source starts no follower', async () => {
    const a = await startApp({ http: true });
    try {
      expect(a.app.follower).toBeUndefined();
    } finally {
      await a.close();
    }
  });
});

describe('the follower follows a broker restart', () => {
  const procs = new Processes();
  afterAll(() => procs.cleanup());

  const ids = (prefix: string, from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => `${prefix}${from + i}`);
  const event = (id: string) => JSON.stringify({ id, type: 'agent.request', time: new Date().toISOString(), source: SOURCE, agent: 'coder' });

  test('NATS: a killed and restarted server (same store) is followed on, without gaps or repeats', async () => {
    const server = await procs.nats();
    const stream = 'WFX_FOLLOW_RESTART';
    const a = await startApp({ http: false, sources: [{ kind: 'nats-jetstream', servers: [server.url], streams: [{ stream, subjects: ['restart.>'] }], create: true }] });
    const client = await TailTestClient.connect(a.url);
    await client.subscribe({}, 0);
    try {
      const publish = async (list: string[]) => {
        const nc = await connect({ servers: server.url });
        const js = jetstream(nc);
        for (const id of list) await js.publish('restart.events', event(id));
        await nc.drain();
      };
      await publish(ids('k', 1, 10));
      await client.waitEvents(10);
      await server.restart();
      await publish(ids('k', 11, 20));
      await client.waitEvents(20, 'the 10 events published after the restart');
      await waitFor('the source counted all 20', async () => value(await a.scrape(), 'workflow_events_total', { source: SOURCE }) === 20, 30_000);
      expect(client.ids()).toEqual(ids('k', 1, 20));
      expect((await historyOf(a)).map((e) => e.id)).toEqual(ids('k', 1, 20));
    } finally {
      client.close();
      await a.close();
    }
  });

  test('Redis: a restarted server that lost the stream is followed on', async () => {
    const server = await procs.redis({ persistent: false });
    const key = 'wfx:follow-restart';
    const a = await startApp({ http: false, sources: [{ kind: 'redis-streams', url: server.url, keys: [key], blockMs: 100 }] });
    const client = await TailTestClient.connect(a.url);
    await client.subscribe({}, 0);
    const producer = new Redis(server.url, { maxRetriesPerRequest: null, retryStrategy: () => 200 });
    producer.on('error', () => {});
    try {
      for (const id of ids('q', 1, 10)) await producer.xadd(key, '*', 'data', event(id));
      await client.waitEvents(10);
      await server.restart();
      // the source recreates its group when it finds it missing; publish once it has
      await waitFor('the group recreated', async () => value(await a.scrape(), 'workflow_exporter_source_errors_total', { kind: 'group_recreated' }) >= 1, 30_000);
      for (const id of ids('q', 11, 20)) await producer.xadd(key, '*', 'data', event(id));
      await client.waitEvents(20, 'the 10 events published after the restart');
      await waitFor('the source counted all 20', async () => value(await a.scrape(), 'workflow_events_total', { source: SOURCE }) === 20, 30_000);
      expect(client.ids()).toEqual(ids('q', 1, 20));
      expect((await historyOf(a)).map((e) => e.id)).toEqual(ids('q', 1, 20));
    } finally {
      producer.disconnect();
      client.close();
      await a.close();
    }
  });
});
