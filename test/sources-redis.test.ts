// The redis-streams source against the real Redis: consumer group, XACK per batch, XAUTOCLAIM, exact metrics.
import { afterAll, describe, expect, it } from 'vitest';
import { knownRuns } from './helpers/events.js';
import { uniqueName } from './helpers/brokers.js';
import { useBuses } from './helpers/buses.js';
import { startApp, waitFor, type TestApp } from './helpers/app.js';
import { value } from './helpers/metrics.js';

const b = useBuses();
// lifecycle-state prefixes the tests used; their keys go afterwards
const prefixes: string[] = [];
afterAll(async () => {
  for (const p of prefixes) {
    const ks = await b.redis.keys(`${p}:*`);
    if (ks.length) await b.redis.del(...ks);
  }
});

async function xadd(key: string, payloads: (string | object)[]): Promise<void> {
  const p = b.redis.pipeline();
  for (const e of payloads) p.xadd(key, '*', 'data', typeof e === 'string' ? e : JSON.stringify(e));
  await p.exec();
}

describe('redis-streams source', () => {
  it('reads with a consumer group, counts every event exactly, and acks every entry', async () => {
    const key = uniqueName('wfx:test:events');
    const dead = `${key}:dead`;
    b.keys.push(key, dead);
    const set = knownRuns(key, 25);
    let t: TestApp | undefined;
    try {
      t = await startApp({
        http: false,
        sources: [{ kind: 'redis-streams', url: b.rurl, keys: [key], group: 'wfx', consumer: 'c1', batch: 10, startId: '0' }],
        deadLetters: { redisStream: dead },
      });
      await xadd(key, [...set.events, 'not json']);
      const total = set.events.length + 1;
      await waitFor('all entries received', async () => value(await t!.scrape(), 'workflow_exporter_events_received_total', { source: 'redis' }) === total);
      const text = await t.scrape();
      expect(value(text, 'workflow_events_total')).toBe(set.events.length);
      expect(value(text, 'workflow_run_duration_seconds_count')).toBe(25);
      expect(value(text, 'workflow_run_duration_seconds_sum')).toBe(set.runSecondsSum);
      expect(value(text, 'workflow_task_duration_seconds_sum', { agent: 'coder' })).toBe(set.taskSecondsSum);
      expect(value(text, 'workflow_exporter_events_rejected_total', { source: 'redis', reason: 'invalid_json' })).toBe(1);
      await waitFor('nothing pending', async () => {
        const [count] = (await b.redis.xpending(key, 'wfx')) as [number];
        return count === 0;
      });
      const letters = await b.redis.xrange(dead, '-', '+');
      expect(letters).toHaveLength(1);
      expect(JSON.parse(letters[0][1][1])).toMatchObject({ reason: 'invalid_json', raw: 'not json', subject: key });
    } finally {
      await t?.close();
    }
  });

  it('claims entries a dead consumer left pending, and reads its own pending entries after a restart', async () => {
    const key = uniqueName('wfx:test:claim');
    b.keys.push(key);
    const set = knownRuns(key, 4);
    await b.redis.xgroup('CREATE', key, 'wfx', '0', 'MKSTREAM');
    await xadd(key, set.events.slice(0, 12));
    // a consumer that died after reading 12 entries and never acked them
    const read = (await b.redis.xreadgroup('GROUP', 'wfx', 'dead-replica', 'COUNT', 12, 'STREAMS', key, '>')) as [string, unknown[]][];
    expect(read[0][1]).toHaveLength(12);
    await xadd(key, set.events.slice(12));
    const t = await startApp({
      http: false,
      sources: [{ kind: 'redis-streams', url: b.rurl, keys: [key], group: 'wfx', consumer: 'live', claimIdleMs: 1000, claimIntervalMs: 200, create: false }],
    });
    try {
      await waitFor('claimed and new entries counted', async () => value(await t.scrape(), 'workflow_events_total') === set.events.length, 10_000);
      const text = await t.scrape();
      expect(value(text, 'workflow_exporter_source_errors_total', { source: 'redis', kind: 'claimed' })).toBe(12);
      expect(value(text, 'workflow_runs_finished_total')).toBe(4);
      const [count] = (await b.redis.xpending(key, 'wfx')) as [number];
      expect(count).toBe(0);
    } finally {
      await t.close();
    }
  });

  it('accepts entries written field by field', async () => {
    const key = uniqueName('wfx:test:fields');
    b.keys.push(key);
    const t = await startApp({ http: false, sources: [{ kind: 'redis-streams', url: b.rurl, keys: [key], group: 'wfx', consumer: 'c', mapping: { fields: { id: '$.eid', type: '$.kind', time: '$.at', source: { value: 'legacy' }, agent: '$.who' } } }] });
    try {
      await b.redis.xadd(key, '*', 'eid', 'f1', 'kind', 'agent.heartbeat', 'at', new Date().toISOString(), 'who', 'planner');
      await waitFor('counted', async () => value(await t.scrape(), 'workflow_events_total', { source: 'legacy', type: 'agent.heartbeat' }) === 1);
      expect(value(await t.scrape(), 'workflow_agent_last_seen_timestamp_seconds', { agent: 'planner' })).toBeGreaterThan(Date.now() / 1000 - 60);
    } finally {
      await t.close();
    }
  });

  it('keeps lifecycle state in Redis: a run started before a restart ends after it with the right duration', async () => {
    const prefix = uniqueName('wfx-state');
    prefixes.push(prefix);
    const state = { backend: 'redis', redisUrl: b.rurl, prefix };
    const wf = { id: 'wf-restart', type: 'release' };
    const t0 = Date.now() - 60_000;
    let t = await startApp({ state });
    await t.app.server.inject({ method: 'POST', url: '/api/events', payload: [
      { id: 's', type: 'workflow.started', time: new Date(t0).toISOString(), source: 'o', workflow: wf },
      { id: 's2', type: 'workflow.started', time: new Date(t0).toISOString(), source: 'o', workflow: { id: 'wf-other', type: 'release' } },
    ] });
    expect(value(await t.scrape(), 'workflow_runs_active', { workflow_type: 'release', state: 'running' })).toBe(2);
    await t.close();

    // a second instance (restart, or another replica) sees the open runs and the start time
    t = await startApp({ state });
    try {
      expect(value(await t.scrape(), 'workflow_runs_active', { workflow_type: 'release', state: 'running' })).toBe(2);
      await t.app.server.inject({ method: 'POST', url: '/api/events', payload: [
        { id: 'e', type: 'workflow.completed', time: new Date(t0 + 42_500).toISOString(), source: 'o', workflow: { id: wf.id, type: 'unknown' } },
        // a redelivered end (same id): dropped as a duplicate, no second duration, counted
        { id: 'e', type: 'workflow.completed', time: new Date(t0 + 42_500).toISOString(), source: 'o', workflow: wf },
      ] });
      const text = await t.scrape();
      expect(value(text, 'workflow_run_duration_seconds_count', { workflow_type: 'release' })).toBe(1);
      expect(value(text, 'workflow_run_duration_seconds_sum', { workflow_type: 'release' })).toBe(42.5);
      expect(value(text, 'workflow_runs_active', { workflow_type: 'release', state: 'running' })).toBe(1);
      expect(value(text, 'workflow_exporter_lifecycle_anomalies_total', { kind: 'duplicate_id' })).toBe(1);
    } finally {
      await t.close();
    }
  });
});
