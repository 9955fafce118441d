// Faults of a real redis-server under an exporter process: restart without persistence (stream and
// group gone), down for a while with the append-only file kept, and a network stall (SIGSTOP).
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { value } from '../helpers/metrics.js';
import { Processes, sleep, until, type RedisServer } from '../helpers/processes.js';
import { down, expectSurvived, runScenario, stall } from './scenario.js';
import { counted, countedBy, readiness, redisTraffic, report } from './traffic.js';

const BATCH = 500;
const DOWN_MS = Number(process.env.FAULT_DOWN_SECONDS ?? 30) * 1000; // see nats.test.ts
const STALL_MS = 10_000;
const KEY = 'fault:events';

const procs = new Processes();
afterAll(() => procs.cleanup());

async function setUp(redis: RedisServer) {
  const exporter = await procs.exporter({
    sources: [{ kind: 'redis-streams', url: redis.url, keys: [KEY], group: 'wfx', consumer: 'replica-1', batch: BATCH, blockMs: 1000 }],
  });
  const traffic = await redisTraffic(redis.url, KEY);
  return { exporter, traffic, watch: procs.watch(exporter) };
}

describe('Redis faults (real redis-server, real exporter process)', () => {
  it('recreates the stream and group after a restart without persistence, reports it, keeps serving', async () => {
    const redis = await procs.redis({ persistent: false });
    const { exporter, traffic, watch } = await setUp(redis);
    try {
      traffic.start(200);
      await sleep(1500);
      // what the old server held must be counted before it dies: a restart without persistence loses
      // whatever nobody read yet, and that loss is Redis's, not the exporter's
      const before = await traffic.stop();
      await until('events before the restart counted', async () => (await countedBy([exporter])) >= before);
      const faultAt = Date.now();
      await redis.restart();
      const clearedAt = Date.now();
      traffic.start(200); // publishes into a fresh server: the stream exists again, the group does not
      // recovered = the first event published into the new server is counted
      const recovery = until('first event after the restart counted', async () => (await countedBy([exporter]).catch(() => 0)) > before);
      await sleep(2000);
      const published = await traffic.stop();
      const stoppedAt = Date.now();
      const recoveredAfterMs = await recovery;
      await until('all events counted', async () => (await countedBy([exporter]).catch(() => 0)) >= published);
      const caughtUpAfterMs = Date.now() - stoppedAt;
      await sleep(1000);
      const text = await exporter.metrics();
      const f = report({
        fault: 'redis-server restart without persistence (stream and group gone)',
        published,
        counted: await countedBy([exporter]),
        recoveredAfterMs,
        caughtUpAfterMs,
        ...readiness(watch, faultAt, clearedAt),
        notes: `group_recreated=${value(text, 'workflow_exporter_source_errors_total', { kind: 'group_recreated' })}`,
      });
      expect(f.lost).toBe(0);
      expect(f.duplicated).toBe(0);
      expect(value(text, 'workflow_exporter_source_errors_total', { source: 'redis', kind: 'group_recreated' })).toBeGreaterThanOrEqual(1);
      expect(f.readyzWentFalse).toBe(true);
      expect(await exporter.ready()).toBe(true);
    } finally {
      await traffic.close();
    }
  });

  it('with create: false, a group lost in a restart is reported once, makes readyz false, and reading resumes when it is back', async () => {
    const redis = await procs.redis({ persistent: false });
    const admin = new Redis(redis.url, { maxRetriesPerRequest: null });
    admin.on('error', () => {});
    await admin.xgroup('CREATE', KEY, 'wfx', '$', 'MKSTREAM');
    const exporter = await procs.exporter({
      sources: [{ kind: 'redis-streams', url: redis.url, keys: [KEY], group: 'wfx', consumer: 'replica-1', create: false, blockMs: 200 }],
    });
    const traffic = await redisTraffic(redis.url, KEY);
    try {
      await redis.restart();
      await until('readyz false while the group is missing', async () => !(await exporter.ready()));
      await sleep(2000); // retried with a pause, not in a busy loop: one report, one log line
      let text = await exporter.metrics();
      expect(value(text, 'workflow_exporter_source_errors_total', { source: 'redis', kind: 'group_missing' })).toBe(1);
      expect(value(text, 'workflow_exporter_source_errors_total', { source: 'redis', kind: 'group_recreated' })).toBe(0);
      expect(exporter.logLines().filter((l) => String(l.msg).startsWith('consumer group missing')).length).toBe(1);
      expect(value(text, 'workflow_exporter_source_up', { source: 'redis' })).toBe(0);

      await admin.xgroup('CREATE', KEY, 'wfx', '0', 'MKSTREAM'); // the operator restores it
      await traffic.burst(50);
      await until('readyz true again', () => exporter.ready());
      await until('events after the group came back counted', async () => counted(await exporter.metrics()) === 50);
      text = await exporter.metrics();
      expect(value(text, 'workflow_exporter_source_up', { source: 'redis' })).toBe(1);
    } finally {
      await traffic.close();
      admin.disconnect();
    }
  });

  it(`survives redis-server down for ${DOWN_MS / 1000} s (SIGKILL; append-only file kept)`, async () => {
    const redis = await procs.redis({ persistent: true });
    const run = await setUp(redis);
    const f = await runScenario({ ...run, fault: `redis-server down ${DOWN_MS / 1000} s (SIGKILL, AOF kept)`, rate: 200, inject: down(redis, DOWN_MS) }).finally(() => run.traffic.close());
    expectSurvived(f, BATCH, true);
  }, 90_000);

  it('survives a 10 s network stall (SIGSTOP redis-server, then SIGCONT); readyz stays true', async () => {
    const redis = await procs.redis({ persistent: false });
    const run = await setUp(redis);
    const f = await runScenario({ ...run, fault: 'redis-server stalled 10 s (SIGSTOP/SIGCONT)', rate: 200, inject: stall(redis, STALL_MS) }).finally(() => run.traffic.close());
    // a blocked XREADGROUP just waits: the connection never closes
    expectSurvived(f, BATCH, false);
  });
});
