// The tail's history: GET /api/events with filters and a before cursor, the bounded ring, and
// history read back from the NATS stream or Redis keys so it survives a restart.
import { jetstream } from '@nats-io/jetstream';
import net from 'node:net';
import pino from 'pino';
import { Registry } from 'prom-client';
import { describe, expect, test } from 'vitest';
import { configFrom } from '../src/config/load.js';
import { sourceSchema } from '../src/config/schema.js';
import { createMetrics } from '../src/metrics/registry.js';
import { TailSink } from '../src/sinks/tail/tail.js';
import { uniqueName } from './helpers/brokers.js';
import { useBuses } from './helpers/buses.js';
import { startApp, waitFor, type TestApp } from './helpers/app.js';
import { value } from './helpers/metrics.js';
import { publish, tailEvent } from './helpers/tail.js';

interface Page {
  events: { id: string; type: string }[];
  next_before: number | null;
  history: { size: number; capacity: number };
}
async function history(a: TestApp, query = ''): Promise<Page> {
  const res = await fetch(`${a.url}/api/events${query}`);
  expect(res.status).toBe(200);
  return (await res.json()) as Page;
}
const ids = (p: Page) => p.events.map((e) => e.id);
const range = (from: number, to: number, prefix = 'h') => Array.from({ length: to - from + 1 }, (_, i) => `${prefix}${from + i}`);

describe('GET /api/events', () => {
  test('newest first, filtered, paged with next_before until the ring runs out', async () => {
    const a = await startApp({ tail: { historySize: 25 } });
    try {
      await publish(a.url, range(1, 40).map((id, i) => tailEvent(id, { type: i % 2 === 0 ? 'task.completed' : 'task.failed', agent: i % 4 === 0 ? 'coder' : 'tester' })));
      const all = await history(a, '?limit=10');
      expect(ids(all)).toEqual(range(31, 40).reverse());
      expect(all.history).toEqual({ size: 25, capacity: 25 });
      const p2 = await history(a, `?limit=10&before=${all.next_before}`);
      expect(ids(p2)).toEqual(range(21, 30).reverse());
      const p3 = await history(a, `?limit=10&before=${p2.next_before}`);
      expect(ids(p3)).toEqual(range(16, 20).reverse()); // the ring holds the newest 25 only
      expect(p3.next_before).toBeNull();

      const failed = await history(a, '?types=*.failed&agents=tester&limit=3');
      expect(ids(failed)).toEqual(['h40', 'h38', 'h36']);
      const q = await history(a, '?q=H17');
      expect(ids(q)).toEqual(['h17']);
      expect(ids(await history(a, '?workflow_id=none'))).toEqual([]);

      for (const [query, message] of [
        ['?limit=0', 'limit must be an integer from 1 to 10000'],
        ['?limit=abc', 'limit must be an integer from 1 to 10000'],
        ['?before=-1', 'before must be a positive integer (next_before of the previous page)'],
        ['?priorities=soon', /^filter\.priorities\.0: /],
      ] as const) {
        const res = await fetch(`${a.url}/api/events${query}`);
        expect(res.status, query).toBe(400);
        const body = (await res.json()) as { error: string; message: string };
        expect(body.error).toBe('bad_request');
        expect(body.message).toMatch(message);
      }
    } finally {
      await a.close();
    }
  });
});

describe('GET /api/events: the cost of a query is bounded', () => {
  test('filters past their limits get 400 filter_limit, counted; a page stops at maxScanPerRequest with next_before', async () => {
    const a = await startApp({ tail: { historySize: 1000, maxScanPerRequest: 300 } });
    try {
      await publish(a.url, range(1, 1000).map((id, i) => tailEvent(id, { type: i % 100 === 0 ? 'task.failed' : 'task.completed' })));
      // the shape of the attack: 60 globs of 256 characters each
      const hostile = Array.from({ length: 60 }, () => '*a'.repeat(128)).join(',');
      for (const query of [`?types=${hostile}`, `?types=${Array.from({ length: 17 }, (_, i) => `t${i}.*`).join(',')}`, `?types=${'a'.repeat(129)}`]) {
        const res = await fetch(`${a.url}/api/events${query}`);
        expect(res.status).toBe(400);
        const body = (await res.json()) as { error: string; message: string };
        expect(body.error).toBe('filter_limit');
        expect(body.message).toMatch(/^filter\.types(\.0)?: Too big: expected (array to have <=16 items|string to have <=128 characters)$/);
      }
      const exp = await fetch(`${a.url}/api/events/export?types=${hostile}`);
      expect(exp.status).toBe(400);
      expect(((await exp.json()) as { error: string }).error).toBe('filter_limit');
      expect(value(await a.scrape(), 'workflow_exporter_tail_rejected_total', { transport: 'api', reason: 'filter_limit' })).toBe(4);

      // one failure in 100: 300 entries looked at find 3 of the 10, then the cursor goes on
      const p1 = (await history(a, '?types=task.failed&limit=10')) as Page & { scanned: number };
      expect(ids(p1)).toEqual(['h901', 'h801', 'h701']);
      expect(p1.scanned).toBe(300);
      expect(p1.next_before).toBe(701);
      const p2 = (await history(a, `?types=task.failed&limit=10&before=${p1.next_before}`)) as Page & { scanned: number };
      expect(ids(p2)).toEqual(['h601', 'h501', 'h401']);
      // the export is the whole history (in slices), not one page
      const all = await (await fetch(`${a.url}/api/events/export?types=task.failed`)).text();
      expect(all.trim().split('\n').map((l) => (JSON.parse(l) as { id: string }).id)).toEqual(Array.from({ length: 10 }, (_, i) => `h${i * 100 + 1}`));
    } finally {
      await a.close();
    }
  });
});

describe('history read back from the bus on start', () => {
  const bus = useBuses();

  test('NATS JetStream: a restarted exporter shows what the stream holds, without duplicates', async () => {
    const stream = uniqueName('WFX_TAIL');
    const subject = uniqueName('wfx.tail').replace(/_/g, '-');
    bus.streams.push(stream);
    const cfg = (historySize = 1000) => ({
      http: true,
      tail: { historySize },
      sources: [{ kind: 'nats-jetstream', servers: [bus.nurl], streams: [{ stream, subjects: [`${subject}.>`], durable: 'wfx-tail' }], create: true }],
    });
    const js = jetstream(bus.nc);
    const send = async (list: (string | object)[]) => {
      for (const p of list) await js.publish(`${subject}.events`, typeof p === 'string' ? p : JSON.stringify(p));
    };
    const acked = (n: number) => waitFor(`ack floor ${n}`, async () => (await bus.jsm.consumers.info(stream, 'wfx-tail')).ack_floor.stream_seq === n);

    let a = await startApp(cfg());
    await send([...range(1, 15).map((id) => tailEvent(id)), '{"broken":', ...range(16, 30).map((id) => tailEvent(id))]);
    await waitFor('30 events in history', async () => (await history(a)).history.size === 30);
    await acked(31);
    await a.close();

    await send(range(31, 35).map((id) => tailEvent(id))); // while the exporter is down
    a = await startApp(cfg());
    try {
      const first = await history(a, '?limit=100');
      // right after start the 30 read back are there (the 5 new may already have arrived live)
      expect(ids(first).slice(-30)).toEqual(range(1, 30).reverse());
      await waitFor('35 events', async () => (await history(a)).history.size === 35);
      expect(ids(await history(a, '?limit=100'))).toEqual(range(1, 35).reverse());
      await acked(36);
    } finally {
      await a.close();
    }

    a = await startApp(cfg(10));
    try {
      expect(ids(await history(a, '?limit=100'))).toEqual(range(26, 35).reverse());
    } finally {
      await a.close();
    }
  });

  test('a run read back whole gets its derived duration; one whose start was read back and whose end comes live gets it too', async () => {
    const stream = uniqueName('WFX_TAILD');
    const subject = uniqueName('wfx.taild').replace(/_/g, '-');
    bus.streams.push(stream);
    await bus.jsm.streams.add({ name: stream, subjects: [`${subject}.>`] });
    const js = jetstream(bus.nc);
    const t0 = Date.now() - 30_000;
    const at = (ms: number) => new Date(t0 + ms).toISOString();
    const run = (id: string, kind: 'started' | 'completed', ms: number) => ({ id: `${id}-${kind}`, type: `workflow.${kind}`, time: at(ms), source: 'taild', workflow: { id, type: 'etl' } });
    for (const e of [run('whole', 'started', 0), run('whole', 'completed', 2000), run('open', 'started', 500)]) await js.publish(`${subject}.events`, JSON.stringify(e));
    const a = await startApp({
      http: true,
      tail: { follow: 'on' },
      sources: [{ kind: 'nats-jetstream', servers: [bus.nurl], streams: [{ stream, subjects: [`${subject}.>`], durable: 'wfx-taild' }], create: true }],
    });
    try {
      type Timed = { id: string; duration_ms?: number; duration_derived?: boolean };
      const read = (await history(a)).events as Timed[];
      expect(read.find((e) => e.id === 'whole-completed')).toMatchObject({ duration_ms: 2000, duration_derived: true });
      await js.publish(`${subject}.events`, JSON.stringify(run('open', 'completed', 3500)));
      await waitFor('the live end in the history', async () => (await history(a)).events.some((e) => e.id === 'open-completed'));
      // the follower's state was seeded with the start read back, so the live end has its duration
      expect(((await history(a)).events as Timed[]).find((e) => e.id === 'open-completed')).toMatchObject({ duration_ms: 3000, duration_derived: true });
    } finally {
      await a.close();
    }
  });

  test('Redis Streams: a restarted exporter shows what the keys hold, without duplicates', async () => {
    const key = uniqueName('wfx:tail');
    bus.keys.push(key);
    const cfg = { http: true, sources: [{ kind: 'redis-streams', url: bus.rurl, keys: [key], group: 'wfx-tail', startId: '0', blockMs: 100 }] };
    const send = async (list: string[]) => {
      for (const id of list) await bus.redis.xadd(key, '*', 'data', JSON.stringify(tailEvent(id, { type: 'agent.response', agent: 'coder' })));
    };
    const drained = (n: number) =>
      waitFor(`group at ${n} entries, none pending`, async () => {
        const groups = (await bus.redis.xinfo('GROUPS', key)) as unknown[][];
        const g = groups[0];
        return g[g.indexOf('pending') + 1] === 0 && g[g.indexOf('entries-read') + 1] === n;
      });

    let a = await startApp(cfg);
    await send(range(1, 20, 'r'));
    await waitFor('20 events in history', async () => (await history(a)).history.size === 20);
    await drained(20);
    await a.close();

    await send(range(21, 24, 'r'));
    a = await startApp(cfg);
    try {
      expect(ids(await history(a, '?limit=100')).slice(-20)).toEqual(range(1, 20, 'r').reverse());
      await waitFor('24 events', async () => (await history(a)).history.size === 24);
      expect(ids(await history(a, '?limit=100'))).toEqual(range(1, 24, 'r').reverse());
    } finally {
      await a.close();
    }
  });

  test('a bus that does not answer in time leaves the history empty and the start goes on', async () => {
    // a TCP listener that accepts and never speaks stands in for a hung broker
    const silent = net.createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as net.AddressInfo).port;
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
    const cfg = configFrom({ tail: { historyLoadTimeoutMs: 300 } });
    const tail = new TailSink({ config: cfg.tail, metrics: createMetrics(new Registry(), { ...cfg.metrics, defaultMetrics: false }), logger });
    try {
      const nats = sourceSchema.parse({ kind: 'nats-jetstream', servers: [`nats://127.0.0.1:${port}`], streams: [{ stream: 'S', subjects: ['s'] }] });
      expect(await tail.loadHistory([{ name: 'nats', config: nats }], cfg.validation)).toBe(0);
      expect(lines.some((l) => l.includes('tail history not read in time'))).toBe(true);
      expect(tail.history.size).toBe(0);
    } finally {
      silent.close();
    }
  });
});
