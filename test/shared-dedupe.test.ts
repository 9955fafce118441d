// The duplicate filter shared through the Redis state: two in-process exporters (two replicas) on one
// Redis, an event redelivered to the other replica counted once; a failed batch's claims released.
import { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/errors.js';
import type { CanonicalEventInput } from '../src/events/schema.js';
import { configFrom } from '../src/config/load.js';
import type { WorkflowEvent } from '../src/events/schema.js';
import { EventAccounting } from '../src/pipeline/accounting.js';
import { RedisLifecycleStore } from '../src/state/redis.js';
import { startApp, waitFor, type TestApp } from './helpers/app.js';
import { redisUrl, uniqueName } from './helpers/brokers.js';
import { value } from './helpers/metrics.js';

const REDIS = await redisUrl();
const apps: TestApp[] = [];
const prefixes: string[] = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
});
afterAll(async () => {
  const r = new Redis(REDIS);
  for (const p of prefixes) {
    const keys = await r.keys(`${p}:*`);
    if (keys.length > 0) await r.del(...keys);
  }
  r.disconnect();
});

const iso = (ms: number) => new Date(ms).toISOString();

function events(tag: string, from: number, to: number): CanonicalEventInput[] {
  const now = Date.now();
  const out: CanonicalEventInput[] = [];
  for (let i = from; i < to; i++) out.push({ id: `${tag}-${i}`, type: 'task.completed', time: iso(now), source: 'dedupe-test', agent: 'coder', task: { id: `t${i}` } });
  return out;
}

async function replica(prefix: string, sharedDedupe: boolean, opts: { failing?: boolean } = {}): Promise<TestApp> {
  const a = await startApp(
    { state: { backend: 'redis', redisUrl: REDIS, prefix }, accounting: { sharedDedupe } },
    {
      listen: false,
      // a sink that refuses every batch: the batch fails after its ids were claimed
      beforeStart: opts.failing ? (app) => app.pipeline.addSink({ name: 'refusing', write: () => Promise.reject(new Error('refused')) }) : undefined,
    },
  );
  apps.push(a);
  return a;
}

async function post(a: TestApp, batch: CanonicalEventInput[]): Promise<number> {
  const res = await a.app.server.inject({ method: 'POST', url: '/api/events', payload: batch });
  return res.statusCode;
}

const counted = async (a: TestApp) => value(await a.scrape(), 'workflow_events_total', { source: 'dedupe-test' });
const duplicates = async (a: TestApp) => value(await a.scrape(), 'workflow_exporter_lifecycle_anomalies_total', { kind: 'duplicate_id' });

describe('shared duplicate filter (accounting.sharedDedupe, Redis state)', () => {
  it('counts an event redelivered to another replica once', async () => {
    const prefix = uniqueName('wfx_dedupe');
    prefixes.push(prefix);
    const [a, b] = [await replica(prefix, true), await replica(prefix, true)];
    expect(await post(a, events('e', 0, 100))).toBe(202);
    // 60 of a's events come again at b (a lost ack, a dead replica), beside 40 new ones
    expect(await post(b, events('e', 40, 140))).toBe(202);
    // and 10 again at a itself: caught by its own memory, no claim asked
    expect(await post(a, events('e', 90, 100))).toBe(202);
    expect([await counted(a), await counted(b)]).toEqual([100, 40]);
    expect([await duplicates(a), await duplicates(b)]).toEqual([10, 60]);
    // once the batch went through the sinks its claims are held for the window (600 s by default);
    // the confirmation is not awaited by the pipeline, so wait for it to land
    const r = new Redis(REDIS);
    await waitFor('claims confirmed', async () => (await r.pttl(`${prefix}:id:e-139`)) > 590_000);
    const ttl = await r.pttl(`${prefix}:id:e-0`);
    r.disconnect();
    expect(ttl).toBeGreaterThan(590_000);
    expect(ttl).toBeLessThanOrEqual(600_000);
  });

  it('a claim whose batch never went through the sinks lapses after sharedDedupePendingMs', async () => {
    // a replica that dies between the claim and counting: its claims must not hide the redelivery
    const prefix = uniqueName('wfx_dedupe');
    prefixes.push(prefix);
    const cfg = configFrom({ accounting: { sharedDedupe: true, sharedDedupePendingMs: 300 } }).accounting;
    const stores = [0, 1].map(() => new RedisLifecycleStore(REDIS, prefix, 3600, () => {}));
    const kinds: string[] = [];
    const [dying, next] = stores.map((s) => new EventAccounting(cfg, (k) => kinds.push(k), s));
    const now = Date.now();
    const batch = () => events('h', 0, 3) as WorkflowEvent[];
    const first = batch();
    await dying.admit(first, [now, now, now], now); // claimed, never confirmed
    const early = batch();
    await next.admit(early, [now, now, now], now);
    expect([first.length, early.length, kinds]).toEqual([3, 0, ['duplicate_id', 'duplicate_id', 'duplicate_id']]);
    const r = new Redis(REDIS);
    const pending = await r.pttl(`${prefix}:id:h-0`);
    await waitFor('the provisional claims to lapse', async () => (await r.exists(`${prefix}:id:h-0`, `${prefix}:id:h-1`, `${prefix}:id:h-2`)) === 0, 5000, 20);
    r.disconnect();
    expect(pending).toBeGreaterThan(0);
    expect(pending).toBeLessThanOrEqual(300);
    const later = batch();
    const admitted = await next.admit(later, [now, now, now], Date.now());
    expect(later.map((e) => e.id)).toEqual(['h-0', 'h-1', 'h-2']);
    expect(admitted.claimed).toEqual(['h-0', 'h-1', 'h-2']);
    for (const s of stores) await s.close();
  });

  it('without it, each replica has only its own memory: the redelivery counts twice', async () => {
    const prefix = uniqueName('wfx_dedupe');
    prefixes.push(prefix);
    const [a, b] = [await replica(prefix, false), await replica(prefix, false)];
    await post(a, events('f', 0, 100));
    await post(b, events('f', 40, 140));
    expect([await counted(a), await counted(b)]).toEqual([100, 100]);
    expect([await duplicates(a), await duplicates(b)]).toEqual([0, 0]);
  });

  it('releases the claims of a failed batch, so its redelivery to another replica counts', async () => {
    const prefix = uniqueName('wfx_dedupe');
    prefixes.push(prefix);
    const failing = await replica(prefix, true, { failing: true });
    const b = await replica(prefix, true);
    expect(await post(failing, events('g', 0, 50))).toBe(500);
    expect(await post(b, events('g', 0, 50))).toBe(202);
    expect(await counted(b)).toBe(50);
    expect(await duplicates(b)).toBe(0);
  });

  it('needs the Redis state backend, a dedupe window, and claims that lapse before the bus redelivers', async () => {
    await expect(startApp({ accounting: { sharedDedupe: true } }, { listen: false })).rejects.toThrow(ConfigError);
    await expect(startApp({ state: { backend: 'redis', redisUrl: REDIS }, accounting: { sharedDedupe: true, dedupeWindowSeconds: 0 } }, { listen: false })).rejects.toThrow(
      /dedupeWindowSeconds is 0/,
    );
    const nats = { kind: 'nats-jetstream', servers: ['nats://127.0.0.1:1'], streams: [{ stream: 'S', subjects: ['s.>'] }], ackWaitMs: 5000 };
    await expect(
      startApp({ sources: [nats], state: { backend: 'redis', redisUrl: REDIS }, accounting: { sharedDedupe: true, sharedDedupePendingMs: 5000 } }, { listen: false }),
    ).rejects.toThrow(/sharedDedupePendingMs \(5000\) must be below sources\.0 redelivery delay \(5000 ms\)/);
  });
});
