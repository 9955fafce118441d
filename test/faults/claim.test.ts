// A replica dies holding Redis entries it read and never acked; a live replica of the same consumer
// group claims them with XAUTOCLAIM once they sat idle for claimIdleMs, and counts them exactly once.
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { value } from '../helpers/metrics.js';
import { Processes, sleep, until } from '../helpers/processes.js';
import { counted, redisTraffic, report } from './traffic.js';

const procs = new Processes();
afterAll(() => procs.cleanup());

const KEY = 'claim:events';

describe('pending entries of a dead replica (real redis-server, two exporter processes)', () => {
  it('are claimed by the live replica after claimIdleMs and counted once', async () => {
    const redis = await procs.redis();
    const source = { kind: 'redis-streams', url: redis.url, keys: [KEY], group: 'wfx', batch: 500 };
    // replica A blocks long in XREADGROUP and never claims: when it is frozen, what Redis hands it stays pending
    const a = await procs.exporter({ sources: [{ ...source, consumer: 'replica-a', blockMs: 30_000, claimIntervalMs: 600_000 }] });
    const traffic = await redisTraffic(redis.url, KEY);
    const admin = new Redis(redis.url);
    try {
      await traffic.burst(200);
      await until('replica A counted the first 200', async () => counted(await a.metrics()) === 200);
      await sleep(300); // back in its blocking read
      const countedByA = counted(await a.metrics());
      a.suspend();
      await traffic.burst(300);
      const summary = (await admin.xpending(KEY, 'wfx')) as [number, string, string, [string, string][] | null];
      const pendingOnA = Number(summary[3]?.find(([c]) => c === 'replica-a')?.[1] ?? 0);
      expect(pendingOnA).toBeGreaterThan(0); // the frozen replica holds entries it will never ack
      await a.kill();

      const startedAt = Date.now();
      const b = await procs.exporter({ sources: [{ ...source, consumer: 'replica-b', blockMs: 500, claimIdleMs: 1000, claimIntervalMs: 500 }] });
      await until('replica B counted the rest, claimed entries included', async () => countedByA + counted(await b.metrics()) >= 500);
      const recoveredAfterMs = Date.now() - startedAt;
      await sleep(1500); // a second claim round must find nothing more
      const text = await b.metrics();
      const total = countedByA + counted(text);
      report({
        fault: `dead replica's pending entries (${pendingOnA}) claimed by a live one (claimIdleMs 1000)`,
        published: traffic.published,
        counted: total,
        recoveredAfterMs,
        caughtUpAfterMs: recoveredAfterMs,
        readyzWentFalse: false,
        readyzTrueAgain: false,
        notes: 'readiness is per replica: the live one stays ready',
      });
      expect(total).toBe(500);
      expect(value(text, 'workflow_exporter_source_errors_total', { source: 'redis', kind: 'claimed' })).toBe(pendingOnA);
      const after = (await admin.xpending(KEY, 'wfx')) as [number, ...unknown[]];
      expect(after[0]).toBe(0); // nothing left pending in the group
    } finally {
      await traffic.close();
      admin.disconnect();
    }
  });
});
