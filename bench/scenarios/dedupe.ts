// What deduplication and lifecycle state cost per event: the per-process duplicate filter, the filter
// shared through Redis (accounting.sharedDedupe: a claim and a confirm script per batch), and the Redis state's
// lifecycle script, each driven in this process the way the pipeline calls it, batch by batch,
// against the bench's private redis-server. CPU of this process and of redis-server per event, the
// wall time of a batch round trip, and the Redis memory each claimed id holds.
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { Ctx, ScenarioOutput } from '../lib/context.js';
import { cpuSeconds } from '../lib/proc.js';
import type { SubjectResult } from '../lib/results.js';
import { stat, statJson } from '../lib/stats.js';
import { ROOT } from '../lib/subjects.js';

type Accounting = typeof import('../../src/pipeline/accounting.js');
type State = typeof import('../../src/state/redis.js');
type Load = typeof import('../../src/config/load.js');

const BATCH = 256; // one JetStream pull (the sources' default batch)

type Ev = Parameters<InstanceType<Accounting['EventAccounting']>['admit']>[0][number];
type Op = Parameters<InstanceType<State['RedisLifecycleStore']>['apply']>[0][number];

interface Run {
  /** this process, µs per event */
  clientUs: number;
  /** redis-server, µs per event (0 for the per-process filter) */
  redisUs: number;
  /** wall time per batch, ms */
  batchMs: number;
  /** Redis used_memory growth per id claimed or run opened, bytes */
  redisBytes: number;
}

async function usedMemory(r: Redis): Promise<number> {
  const info = await r.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? NaN);
}

/** Runs `n` events through `step` in batches; CPU of both processes and Redis memory around it. */
async function measure(n: number, redisPid: number, admin: Redis, step: (from: number) => Promise<void> | void): Promise<Run> {
  const mem0 = await usedMemory(admin);
  const c0 = process.cpuUsage();
  const r0 = cpuSeconds(redisPid);
  const t0 = performance.now();
  for (let i = 0; i < n; i += BATCH) await step(i);
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const redisCpu = cpuSeconds(redisPid) - r0;
  const mem = await usedMemory(admin);
  return { clientUs: (c.user + c.system) / n, redisUs: (redisCpu * 1e6) / n, batchMs: wall / Math.ceil(n / BATCH), redisBytes: (mem - mem0) / n };
}

export async function dedupeCost(ctx: Ctx): Promise<ScenarioOutput> {
  // the built modules, loaded here so that a scenario not run never needs them
  const { EventAccounting } = (await import(join(ROOT, 'dist', 'pipeline/accounting.js'))) as Accounting;
  const { RedisLifecycleStore } = (await import(join(ROOT, 'dist', 'state/redis.js'))) as State;
  const { configFrom } = (await import(join(ROOT, 'dist', 'config/load.js'))) as Load;
  const broker = await ctx.redis();
  const pid = broker.proc.pid!;
  const admin = new Redis(broker.url);
  const n = ctx.quick ? 50_000 : 200_000;
  const config = configFrom({ log: { level: 'silent' } });
  const ignore = () => {};
  const subjects = {
    local: 'per-process filter (64-bit hashes in typed arrays, the default)',
    shared: 'shared filter in Redis (accounting.sharedDedupe: a SET NX PX script, then a PEXPIRE script, per batch)',
    state: 'Redis lifecycle state (one script per batch; a workflow start or end per event)',
  } as const;
  const results: Record<keyof typeof subjects, Run[]> = { local: [], shared: [], state: [] };
  try {
    for (let run = 0; run < ctx.runs; run++) {
      // ids as the pipeline sees them: fresh strings from JSON.parse
      const ids = JSON.parse(JSON.stringify(Array.from({ length: n }, () => randomUUID()))) as string[];
      const events = ids.map((id) => ({ id }) as Ev);
      const order = Object.keys(subjects) as (keyof typeof subjects)[];
      if (run % 2) order.reverse();
      for (const s of order) {
        const prefix = `bench_${s}_${run}`;
        const store = new RedisLifecycleStore(broker.url, prefix, 3600, ignore);
        await store.activeRuns(); // connected before the clock starts
        const accounting = new EventAccounting(config.accounting, ignore, s === 'shared' ? store : undefined);
        const now = Date.now();
        const times = new Array<number>(BATCH).fill(now);
        let r: Run;
        if (s === 'state') {
          // starts, then their ends: memory is taken over the starts (what an open run holds)
          const half = n / 2;
          const apply = (op: 'W' | 'X') => (from: number) => {
            const ops: Op[] = [];
            for (let i = from; i < Math.min(from + BATCH, half); i++) ops.push({ op, key: `w:${ids[i]}`, run: ids[i], workflowType: 'bench', timeMs: now });
            return store.apply(ops).then(() => undefined);
          };
          const starts = await measure(half, pid, admin, apply('W'));
          const ends = await measure(half, pid, admin, apply('X'));
          r = {
            clientUs: (starts.clientUs + ends.clientUs) / 2,
            redisUs: (starts.redisUs + ends.redisUs) / 2,
            batchMs: (starts.batchMs + ends.batchMs) / 2,
            redisBytes: starts.redisBytes,
          };
        } else {
          r = await measure(n, pid, admin, (from) => {
            const batch = events.slice(from, from + BATCH);
            const a = accounting.admit(batch, times.slice(0, batch.length), now);
            // the shared filter's second step, once the sinks took the batch: its claims held for the window
            return a instanceof Promise ? a.then((x) => accounting.confirm(x)) : undefined;
          });
          if (accounting.size !== n) throw new Error(`${s}: ${accounting.size} of ${n} fresh ids kept`);
        }
        results[s].push(r);
        ctx.log(`dedupe run ${run + 1}/${ctx.runs} ${s}: ${r.clientUs.toFixed(2)} µs/event here, ${r.redisUs.toFixed(2)} µs/event in Redis, ${r.batchMs.toFixed(2)} ms/batch`);
        await store.close();
        // the keys of this subject go before the next one measures Redis memory
        await admin.flushall();
      }
    }
  } finally {
    admin.disconnect();
  }
  const subjectList: SubjectResult[] = (Object.keys(subjects) as (keyof typeof subjects)[]).map((s) => ({
    id: s,
    label: subjects[s],
    extra: {
      'exporter CPU µs/event': statJson(results[s].map((r) => r.clientUs)),
      'redis-server CPU µs/event': statJson(results[s].map((r) => r.redisUs)),
      [`ms per batch of ${BATCH}`]: statJson(results[s].map((r) => r.batchMs)),
      'Redis bytes held per id or open run': statJson(results[s].map((r) => r.redisBytes)),
    },
  }));
  const med = (s: keyof typeof subjects, f: (r: Run) => number) => stat(results[s].map(f)).median;
  return {
    scenario: {
      id: 'dedupe-state-cost',
      title: 'Duplicate filters and Redis state, cost per event',
      setup: `${n} fresh UUID ids per subject and run, in batches of ${BATCH}, through EventAccounting.admit (per-process, then shared through a private redis-server) and RedisLifecycleStore.apply (${n / 2} workflow starts then their ends), sequentially in the bench process (the shared filter's batch time includes the confirming PEXPIRE, which the pipeline does not wait for); CPU from process.cpuUsage and /proc for redis-server;`,
      runs: ctx.runs,
      subjects: subjectList,
      ratios: [],
      notes: [
        `shared filter over per-process: +${(med('shared', (r) => r.clientUs) - med('local', (r) => r.clientUs)).toFixed(2)} µs/event in the exporter, +${med('shared', (r) => r.redisUs).toFixed(2)} µs/event in redis-server, ${med('shared', (r) => r.redisBytes).toFixed(0)} B of Redis memory per id held for the window`,
      ],
    },
    targets: [],
  };
}
