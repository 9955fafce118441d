// Three exporter processes on one JetStream durable consumer and on one Redis consumer group, with
// lifecycle state in Redis: counts add up exactly, run durations are right when a run's start and
// end are handled by different replicas, and the active-runs gauge is right after a replica restarts.
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { natsUrl, redisUrl, uniqueName } from './helpers/brokers.js';
import { value } from './helpers/metrics.js';
import { Processes, until, type Exporter } from './helpers/processes.js';
import { natsTraffic, redisTraffic, TRAFFIC_SOURCE, type Traffic } from './faults/traffic.js';

const procs = new Processes();
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  await procs.cleanup();
  for (const c of cleanups) await c().catch(() => undefined);
});

const RUNS = 300;
const WORKFLOW_TYPE = 'replicated';
const BATCH = 16; // small batches spread the runs over the replicas

async function sum(exporters: Exporter[], name: string, labels: Record<string, string> = {}): Promise<number[]> {
  return Promise.all(exporters.map(async (e) => value(await e.metrics(), name, labels)));
}
const total = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** Run i starts at base + i ms and lasts (i % 20 + 1) * 250 ms: every duration is known exactly. */
function runs(prefix: string, baseMs: number) {
  const starts: Record<string, unknown>[] = [];
  const ends: Record<string, unknown>[] = [];
  let durationSum = 0;
  for (let i = 0; i < RUNS; i++) {
    const startMs = baseMs + i;
    const d = ((i % 20) + 1) * 250;
    const workflow = { id: `${prefix}-wf-${i}`, type: WORKFLOW_TYPE };
    starts.push({ id: `${prefix}-s-${i}`, type: 'workflow.started', time: new Date(startMs).toISOString(), source: TRAFFIC_SOURCE, workflow });
    // only even runs finish; odd runs stay open for the active-runs gauge
    if (i % 2 === 0) {
      ends.push({ id: `${prefix}-e-${i}`, type: 'workflow.completed', time: new Date(startMs + d).toISOString(), source: TRAFFIC_SOURCE, workflow });
      durationSum += d / 1000;
    }
  }
  return { starts, ends, durationSum };
}

async function replicated(name: string, config: (i: number) => Record<string, unknown>, traffic: Traffic) {
  // one replica takes the starts; then two more join and the ends spread over all three, so every
  // end handled by replica 1 or 2 meets a start that replica 0 wrote to the shared state
  const replicas: Exporter[] = [await procs.exporter(config(0))];
  const { starts, ends, durationSum } = runs(name, Date.now() - 600_000);
  await traffic.publishEvents(starts);
  await until('every start counted', async () => total(await sum(replicas, 'workflow_runs_started_total', { workflow_type: WORKFLOW_TYPE })) >= RUNS);
  for (let i = 1; i < 3; i++) replicas.push(await procs.exporter(config(i)));
  await traffic.publishEvents(ends);
  const published = starts.length + ends.length;
  await until('every event counted across replicas', async () => total(await sum(replicas, 'workflow_events_total', { source: TRAFFIC_SOURCE })) >= published);

  const perReplica = await sum(replicas, 'workflow_events_total', { source: TRAFFIC_SOURCE });
  expect(total(perReplica)).toBe(published);
  const started = await sum(replicas, 'workflow_runs_started_total', { workflow_type: WORKFLOW_TYPE });
  const durCount = await sum(replicas, 'workflow_run_duration_seconds_count', { workflow_type: WORKFLOW_TYPE, outcome: 'completed' });
  const durSum = await sum(replicas, 'workflow_run_duration_seconds_sum', { workflow_type: WORKFLOW_TYPE, outcome: 'completed' });
  expect(started).toEqual([RUNS, 0, 0]);
  expect(total(durCount)).toBe(ends.length);
  expect(total(durSum)).toBeCloseTo(durationSum, 6);
  // the ends did spread: replicas that never saw a start measured durations from the shared state
  expect(durCount[1] + durCount[2]).toBeGreaterThan(0);
  // no end went unmatched
  const anomalies = await sum(replicas, 'workflow_exporter_lifecycle_anomalies_total', { kind: 'end_without_start' });
  expect(total(anomalies)).toBe(0);

  // the active-runs gauge is the shared state: every replica reports all open runs, also right after a restart
  const open = RUNS - ends.length;
  for (const r of replicas) expect(value(await r.metrics(), 'workflow_runs_active', { workflow_type: WORKFLOW_TYPE, state: 'running' })).toBe(open);
  const exit = await replicas[1].terminate();
  expect(exit.code).toBe(0);
  await replicas[1].start();
  expect(value(await replicas[1].metrics(), 'workflow_runs_active', { workflow_type: WORKFLOW_TYPE, state: 'running' })).toBe(open);
  process.stdout.write(`REPLICA-FIGURES ${JSON.stringify({ bus: name, published, perReplica, durationCounts: durCount, started, open })}\n`);
}

describe('three replicas, state in Redis', () => {
  it('share one JetStream durable consumer: totals, cross-replica durations, active runs after a restart', async () => {
    const url = await natsUrl();
    const stream = uniqueName('REPLICAS');
    const subject = uniqueName('replicas');
    const prefix = uniqueName('wfx_repl_nats');
    const redis = await redisUrl();
    cleanups.push(async () => {
      const nc = await connect({ servers: url });
      await (await jetstreamManager(nc)).streams.delete(stream).catch(() => undefined);
      await nc.close();
    });
    cleanups.push(() => deleteKeys(redis, `${prefix}:*`));
    const traffic = await natsTraffic(url, subject);
    cleanups.push(() => traffic.close());
    await replicated(
      'nats',
      () => ({
        sources: [{ kind: 'nats-jetstream', servers: [url], streams: [{ stream, subjects: [`${subject}.>`], durable: 'wfx' }], create: true, batch: BATCH }],
        state: { backend: 'redis', redisUrl: redis, prefix },
      }),
      traffic,
    );
  });

  it('share one Redis consumer group: totals, cross-replica durations, active runs after a restart', async () => {
    const redis = await redisUrl();
    const key = uniqueName('replicas:events');
    const prefix = uniqueName('wfx_repl_redis');
    cleanups.push(() => deleteKeys(redis, key));
    cleanups.push(() => deleteKeys(redis, `${prefix}:*`));
    const traffic = await redisTraffic(redis, key);
    cleanups.push(() => traffic.close());
    await replicated(
      'redis',
      (i) => ({
        sources: [{ kind: 'redis-streams', url: redis, keys: [key], group: 'wfx', consumer: `replica-${i}`, batch: BATCH, blockMs: 200, startId: '0' }],
        state: { backend: 'redis', redisUrl: redis, prefix },
      }),
      traffic,
    );
  });
});

async function deleteKeys(url: string, pattern: string): Promise<void> {
  const r = new Redis(url);
  try {
    if (!pattern.includes('*')) {
      await r.del(pattern);
      return;
    }
    let cursor = '0';
    for (let i = 0; i < 10_000; i++) {
      const [next, keys] = await r.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      if (keys.length > 0) await r.del(...keys);
      cursor = next;
      if (cursor === '0') break;
    }
  } finally {
    r.disconnect();
  }
}
