// A Redis stream key replaced by another type, and pending entries trimmed away, under a running
// exporter (a real redis-server, a real exporter process): the first is reported as not ready and
// down until the key is a stream again, the second is counted as lost with its reason.
import { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { value } from '../helpers/metrics.js';
import { Processes, sleep, until } from '../helpers/processes.js';
import { counted, readiness, redisTraffic, report, tailed } from './traffic.js';

const KEY = 'resources:events';
const BURST = 20;

const procs = new Processes();
afterAll(() => procs.cleanup());

const errors = (text: string, kind: string) => value(text, 'workflow_exporter_source_errors_total', { source: 'redis', kind });
const up = (text: string) => value(text, 'workflow_exporter_source_up', { source: 'redis' });
const lost = (text: string) => value(text, 'workflow_exporter_events_lost_total', { source: 'redis', reason: 'trimmed' });

describe('Redis stream keys changed under a running source (real redis-server, real exporter process)', () => {
  it('a stream key replaced by a string makes readyz false and the source down, once, until the key is a stream again', async () => {
    const redis = await procs.redis();
    const exporter = await procs.exporter({
      sources: [{ kind: 'redis-streams', url: redis.url, keys: [KEY], group: 'wfx', consumer: 'replica-1', create: true, blockMs: 200 }],
    });
    const watch = procs.watch(exporter);
    const traffic = await redisTraffic(redis.url, KEY);
    const admin = new Redis(redis.url);
    try {
      await traffic.burst(BURST);
      await until('the first burst counted', async () => counted(await exporter.metrics()) === BURST);
      const faultAt = Date.now();
      await admin.multi().del(KEY).set(KEY, 'x').exec();
      const notReadyAfterMs = await until('readyz false while the key is a string', async () => !(await exporter.ready()), 30_000);
      await sleep(2000); // retried with a pause, not in a busy loop: one report, one log line
      let text = await exporter.metrics();
      expect(errors(text, 'wrong_type')).toBe(1);
      expect(errors(text, 'batch_failed')).toBe(0);
      expect(up(text)).toBe(0);
      expect(exporter.logLines().filter((l) => String(l.msg).startsWith('stream key holds another type')).length).toBe(1);
      const sources = (await (await exporter.get('/readyz')).json()) as { sources: { detail: string }[] };
      expect(sources.sources[0].detail).toBe(`key ${KEY} (string) is not a stream`);

      // the operator removes the string; the source recreates the group, the producer writes again
      const clearedAt = Date.now();
      await admin.del(KEY);
      const readyAfterMs = await until('readyz true once the key is a stream again', () => exporter.ready(), 30_000);
      await traffic.burst(BURST); // ids continue after the first burst: a fresh stream takes them
      await until('the burst into the new stream counted', async () => counted(await exporter.metrics()) === 2 * BURST, 30_000);
      const recoveredAfterMs = Date.now() - clearedAt;
      // the tail follower retried its reads meanwhile and shows both bursts
      await until('the tail shows both bursts', async () => (await tailed(exporter)) === 2 * BURST, 30_000);
      await sleep(500);
      text = await exporter.metrics();
      const f = report({
        fault: 'Redis stream key replaced by a string (DEL; SET), then deleted by an operator',
        published: traffic.published,
        counted: counted(text),
        recoveredAfterMs,
        caughtUpAfterMs: recoveredAfterMs,
        ...readiness(watch, faultAt, clearedAt),
        readyAfterMs, // polled every 50 ms here, finer than the watch
        notes: `not ready ${notReadyAfterMs} ms after the SET; group_recreated=${errors(text, 'group_recreated')}`,
      });
      expect(f.lost).toBe(0);
      expect(f.duplicated).toBe(0);
      expect([f.readyzWentFalse, f.readyzTrueAgain]).toEqual([true, true]);
      expect(errors(text, 'wrong_type')).toBe(1);
      expect(errors(text, 'group_recreated')).toBe(1);
      expect(up(text)).toBe(1);
    } finally {
      await traffic.close();
      admin.disconnect();
    }
  });

  it('pending entries trimmed from the stream before anyone acked them are counted as lost at the first claim', async () => {
    const redis = await procs.redis();
    const admin = new Redis(redis.url);
    const traffic = await redisTraffic(redis.url, KEY);
    try {
      await admin.xgroup('CREATE', KEY, 'wfx', '0', 'MKSTREAM');
      await traffic.burst(300); // ids 0-1 … 0-300
      // what two processes that died took and never acked: 100 by a replica-1 process before this
      // one (its own pending list), 200 by another replica
      await admin.xreadgroup('GROUP', 'wfx', 'replica-1', 'COUNT', 100, 'STREAMS', KEY, '>');
      await admin.xreadgroup('GROUP', 'wfx', 'replica-2', 'COUNT', 200, 'STREAMS', KEY, '>');
      await traffic.burst(50); // 0-301 … 0-350, read by nobody yet
      expect(await admin.xtrim(KEY, 'MINID', '0-301')).toBe(300); // a retention policy at work

      // default claimIdleMs (60 s): Redis 7 reports a trimmed pending entry to XAUTOCLAIM however
      // short its idle time, so the claim at start finds all 300
      const startedAt = Date.now();
      const exporter = await procs.exporter({
        sources: [{ kind: 'redis-streams', url: redis.url, keys: [KEY], group: 'wfx', consumer: 'replica-1', blockMs: 200 }],
      });
      await until('the 50 readable entries counted and the 300 trimmed ones counted lost', async () => {
        const text = await exporter.metrics();
        return counted(text) === 50 && lost(text) === 300;
      });
      const settledAfterMs = Date.now() - startedAt;
      await sleep(1000);
      const text = await exporter.metrics();
      report({
        fault: '300 pending entries trimmed (XTRIM MINID) before a consumer acked them',
        published: traffic.published,
        counted: counted(text) + lost(text),
        recoveredAfterMs: settledAfterMs,
        caughtUpAfterMs: settledAfterMs,
        readyzWentFalse: false,
        readyzTrueAgain: false,
        notes: `counted=${counted(text)} lost{reason="trimmed"}=${lost(text)} (100 own pending, 200 of another replica); exporter start included`,
      });
      expect(counted(text)).toBe(50);
      expect(lost(text)).toBe(300);
      expect(errors(text, 'claimed')).toBe(0); // nothing readable was left to claim
      expect(exporter.logLines().filter((l) => String(l.msg).startsWith('pending entries were trimmed')).map((l) => l.lost)).toEqual([300]);
      const summary = (await admin.xpending(KEY, 'wfx')) as [number, ...unknown[]];
      expect(summary[0]).toBe(0); // nothing left pending in the group
      expect(await exporter.ready()).toBe(true);
    } finally {
      await traffic.close();
      admin.disconnect();
    }
  });
});
