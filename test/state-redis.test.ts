// The Redis lifecycle store against a private redis-server: raw workflow types that hold any byte,
// a set of types that holds only open ones, and a scrape whose Redis commands do not grow with history.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LifecycleOp } from '../src/state/lifecycle.js';
import { RedisLifecycleStore } from '../src/state/redis.js';
import { Processes, type RedisServer } from './helpers/processes.js';

const procs = new Processes();
let server: RedisServer;
let admin: Redis;
beforeAll(async () => {
  server = await procs.redis();
  admin = new Redis(server.url);
});
afterAll(async () => {
  admin?.disconnect();
  await procs.cleanup();
});

let seq = 0;
function store(ttlSeconds = 3600) {
  const anomalies: string[] = [];
  return { s: new RedisLifecycleStore(server.url, `t${++seq}`, ttlSeconds, (k) => anomalies.push(k)), anomalies, prefix: `t${seq}` };
}
const op = (o: LifecycleOp['op'], run: string, workflowType: string, timeMs = Date.now()): LifecycleOp => ({ op: o, key: `w:${run}`, run, workflowType, timeMs });

/** Calls per command since the last reset, from INFO commandstats (this server serves this file only). */
async function commandCalls(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const m of (await admin.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) out[m[1]] = Number(m[2]);
  return out;
}

describe('Redis lifecycle store', () => {
  it('keeps a workflow type holding the old separator (\\x1f) or a NUL whole: its run ends and the gauge goes', async () => {
    const { s, anomalies } = store();
    try {
      await s.apply([op('W', 'a', 'x\u001frunning\u001fy'), op('W', 'b', 'x\u0000paused'), op('W', 'c', 'plain'), op('P', 'c', 'plain')]);
      expect(await s.activeRuns()).toEqual(
        expect.arrayContaining([
          { workflow_type: 'x\u001frunning\u001fy', state: 'running', count: 1 },
          { workflow_type: 'x\u0000paused', state: 'running', count: 1 },
          { workflow_type: 'plain', state: 'paused', count: 1 },
        ]),
      );
      const ends = [op('X', 'a', 'unknown'), op('X', 'b', 'unknown')];
      const started = await s.apply(ends);
      expect(started.every((t) => t > 0)).toBe(true);
      // the end learns the type recorded at start, whole
      expect(ends.map((e) => e.startType)).toEqual(['x\u001frunning\u001fy', 'x\u0000paused']);
      expect(await s.activeRuns()).toEqual([{ workflow_type: 'plain', state: 'paused', count: 1 }]);
      expect(anomalies).toEqual([]);
    } finally {
      await s.close();
    }
  });

  it('still ends runs whose open entry was written joined by \\x1f (before JSON values)', async () => {
    const { s, prefix } = store();
    try {
      const t = Date.now();
      await admin.set(`${prefix}:open:w:old`, `${t}\u001frunning\u001flegacy\u001fold`, 'PX', 60_000);
      await admin.zadd(`${prefix}:active:legacy:running`, t, 'old');
      await admin.sadd(`${prefix}:types`, 'legacy');
      expect(await s.activeRuns()).toEqual([{ workflow_type: 'legacy', state: 'running', count: 1 }]);
      const end = op('X', 'old', 'unknown');
      expect(await s.apply([end])).toEqual([t]);
      expect(end.startType).toBe('legacy');
      expect(await s.activeRuns()).toEqual([]);
    } finally {
      await s.close();
    }
  });

  it('prunes finished types: a scrape after 20,000 finished types costs the same Redis commands as with none', async () => {
    const { s, prefix } = store();
    try {
      await s.apply([op('W', 'open-1', 'still-open'), op('W', 'open-2', 'still-open'), op('P', 'open-2', 'still-open')]);
      await s.activeRuns(); // the script is loaded (EVALSHA from now on)
      const measure = async () => {
        await admin.config('RESETSTAT');
        const active = await s.activeRuns();
        const calls = await commandCalls();
        // the reset and the reading themselves
        delete calls['config|resetstat'];
        delete calls.info;
        return { active, calls };
      };
      const before = await measure();
      for (let i = 0; i < 20_000; i += 500) {
        const ops: LifecycleOp[] = [];
        for (let k = i; k < i + 500; k++) ops.push(op('W', `r${k}`, `type-${k}`), op('P', `r${k}`, `type-${k}`), op('X', `r${k}`, `type-${k}`));
        await s.apply(ops);
      }
      const after = await measure();
      const open = [
        { workflow_type: 'still-open', state: 'running', count: 1 },
        { workflow_type: 'still-open', state: 'paused', count: 1 },
      ];
      expect(before.active).toEqual(open);
      expect(after.active).toEqual(open);
      const total = (c: Record<string, number>) => Object.values(c).reduce((a, b) => a + b, 0);
      console.log(`STATE-FIGURES redis commands per scrape: ${total(before.calls)} with 1 open type, ${total(after.calls)} after 20,000 finished types`);
      expect(after.calls).toEqual(before.calls);
      // one script: SMEMBERS, then per open type ZREMRANGEBYSCORE and ZCARD for each state
      expect(before.calls).toEqual({ evalsha: 1, smembers: 1, zremrangebyscore: 2, zcard: 2 });
      expect(await admin.smembers(`${prefix}:types`)).toEqual(['still-open']);
    } finally {
      await s.close();
    }
  });

  it('forgets a type whose runs passed the TTL at the next scrape', async () => {
    const { s, prefix } = store(1);
    try {
      // started 5 s ago with a 1 s TTL: the open entry outlives the start time's cutoff by nothing
      await s.apply([op('W', 'gone', 'expired', Date.now() - 5000), op('W', 'here', 'fresh')]);
      expect(await s.activeRuns()).toEqual([{ workflow_type: 'fresh', state: 'running', count: 1 }]);
      expect(await admin.smembers(`${prefix}:types`)).toEqual(['fresh']);
    } finally {
      await s.close();
    }
  });
});
