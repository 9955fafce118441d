// Scaling out on one machine: 1, 2 and 3 exporter processes on one JetStream durable consumer with
// lifecycle state in one Redis, as the generated Kubernetes manifests run them, draining one
// preloaded stream together. Per replica: events it took and its CPU; for the set: the total rate,
// and what nats-server and redis-server spent per event. With the tail follower on (the default:
// each replica also reads every event for its own live tail) and off.
import { AckPolicy, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { Ctx, ScenarioOutput } from '../lib/context.js';
import { cpuSeconds, freePort, sleep } from '../lib/proc.js';
import type { SubjectResult } from '../lib/results.js';
import { stat, statJson } from '../lib/stats.js';
import { startExporter, stopServer, type Server } from '../lib/subjects.js';
import { preload, progress } from './bus.js';

const STREAM = 'BENCH_SCALE';
const SUBJECT = 'bench.scale';
const POLL_MS = 100;

interface Drain {
  /** events/s of the whole set over the window */
  totalPerSec: number;
  /** per replica: events it took / its CPU seconds */
  perCpuSec: number[];
  /** events taken per replica over the window */
  shares: number[];
  natsUsPerEvent: number;
  redisUsPerEvent: number;
  /** events taken before every replica had warmed up (outside the window) */
  before: number;
  /** mean events per batch over the window, all replicas */
  batchSize: number;
}

async function drain(servers: Server[], natsPid: number, redisPid: number, total: number, warm: number): Promise<Drain> {
  const took = () => Promise.all(servers.map((s) => progress(s, 'exporter', 'nats')));
  // each replica warms up (JIT, first GCs) on `warm` events of its own before the window opens:
  // a process's warm-up is paid once, and would weigh k times as much per event with k replicas
  const warmDeadline = Date.now() + 120_000;
  let p0 = await took();
  while (Math.min(...p0) < warm) {
    if (Date.now() > warmDeadline) throw new Error(`replicas took ${p0.join(', ')} events; ${warm} each expected for the warm-up`);
    await sleep(20);
    p0 = await took();
  }
  const b0 = await batches(servers);
  const cpu0 = servers.map((s) => cpuSeconds(s.pid));
  const n0 = cpuSeconds(natsPid);
  const r0 = cpuSeconds(redisPid);
  const t0 = performance.now();
  const deadline = Date.now() + 300_000;
  let p1 = p0;
  for (;;) {
    p1 = await took();
    if (p1.reduce((a, b) => a + b, 0) >= total) break;
    if (Date.now() > deadline) throw new Error(`${p1.reduce((a, b) => a + b, 0)}/${total} events after 300 s`);
    await sleep(POLL_MS);
  }
  const wall = (performance.now() - t0) / 1000;
  const b1 = await batches(servers);
  const shares = p1.map((p, i) => p - p0[i]);
  const n = shares.reduce((a, b) => a + b, 0);
  return {
    totalPerSec: n / wall,
    perCpuSec: servers.map((s, i) => shares[i] / (cpuSeconds(s.pid) - cpu0[i])),
    shares,
    natsUsPerEvent: ((cpuSeconds(natsPid) - n0) * 1e6) / n,
    redisUsPerEvent: ((cpuSeconds(redisPid) - r0) * 1e6) / n,
    before: p0.reduce((a, b) => a + b, 0),
    batchSize: n / b1.reduce((a, b, i) => a + b - b0[i], 0),
  };
}

/** Batches each replica has taken through its sinks so far (the batch-duration histogram's count). */
async function batches(servers: Server[]): Promise<number[]> {
  return Promise.all(
    servers.map(async (s) => {
      const text = await (await fetch(`${s.url}/metrics`)).text();
      const m = text.match(/^workflow_exporter_batch_duration_seconds_count\{source="nats"\} (\S+)$/m);
      return m ? Number(m[1]) : 0;
    }),
  );
}

export async function replicaScaling(ctx: Ctx): Promise<ScenarioOutput> {
  const nats = await ctx.nats();
  const redis = await ctx.redis();
  const total = ctx.quick ? 150_000 : 300_000;
  const warm = ctx.quick ? 15_000 : 30_000; // per replica: 90,000 of 300,000 with three
  ctx.log(`replicas: preloading ${total} events`);
  await preload('nats-publish.js', { url: nats.url, stream: STREAM, subject: SUBJECT, count: total });
  const nc = await connect({ servers: nats.url });
  const jsm = await jetstreamManager(nc);
  const variants = [1, 2, 3].flatMap((k) => [
    { id: `replicas-${k}`, k, follow: 'auto' as const, label: `${k} replica${k > 1 ? 's' : ''} (tail follower on, the default)` },
    { id: `replicas-${k}-nofollow`, k, follow: 'off' as const, label: `${k} replica${k > 1 ? 's' : ''} (tail.follow off)` },
  ]);
  const results = new Map<string, Drain[]>(variants.map((v) => [v.id, []]));
  try {
    for (let run = 0; run < ctx.runs; run++) {
      for (let j = 0; j < variants.length; j++) {
        const v = variants[(run + j) % variants.length];
        const durable = `scale_${v.id.replace(/-/g, '_')}_${run}`;
        const config = {
          demo: false,
          http: false,
          log: { level: 'warn' },
          sources: [{ kind: 'nats-jetstream', servers: [nats.url], streams: [{ stream: STREAM, subjects: [`${SUBJECT}.>`], durable }], create: true }],
          state: { backend: 'redis', redisUrl: redis.url, prefix: `bench_${durable}` },
          tail: { follow: v.follow },
        };
        // the consumer exists before the replicas start, so none of them creates it while another attaches
        await jsm.consumers.add(STREAM, { durable_name: durable, ack_policy: AckPolicy.Explicit, filter_subject: `${SUBJECT}.>` });
        // started together; each attaches and pulls as soon as it is ready
        const servers = await Promise.all(Array.from({ length: v.k }, async (_, i) => startExporter(`scale-${v.id}-${i}`, config, ctx.dir, await freePort(), ctx.exporterNodeArgs)));
        try {
          const d = await drain(servers, nats.proc.pid!, redis.proc.pid!, total, warm);
          results.get(v.id)!.push(d);
          ctx.log(
            `replicas run ${run + 1}/${ctx.runs} ${v.id}: ${Math.round(d.totalPerSec)} ev/s in all, per replica ${d.perCpuSec.map((x) => Math.round(x)).join(', ')} ev/CPU-s, shares ${d.shares.join(', ')}, nats ${d.natsUsPerEvent.toFixed(1)} µs/ev, redis ${d.redisUsPerEvent.toFixed(1)} µs/ev, ${d.before} before the window, ${d.batchSize.toFixed(0)} events per batch`,
          );
        } finally {
          for (const s of servers) await stopServer(s);
          await jsm.consumers.delete(STREAM, durable).catch(() => false);
        }
      }
    }
  } finally {
    await nc.close();
  }
  const subjects: SubjectResult[] = variants.map((v) => {
    const d = results.get(v.id)!;
    return {
      id: v.id,
      label: v.label,
      eventsPerSec: statJson(d.map((x) => x.totalPerSec)),
      // events per CPU-second of one replica, over all replicas of all runs
      eventsPerCpuSec: statJson(d.flatMap((x) => x.perCpuSec)),
      extra: {
        'nats-server CPU µs/event': statJson(d.map((x) => x.natsUsPerEvent)),
        'redis-server CPU µs/event': statJson(d.map((x) => x.redisUsPerEvent)),
        'smallest share of the window, %': statJson(d.map((x) => (100 * Math.min(...x.shares)) / x.shares.reduce((a, b) => a + b, 0))),
        'events before the window': statJson(d.map((x) => x.before)),
        'events per batch': statJson(d.map((x) => x.batchSize)),
      },
    };
  });
  const med = (id: string) => stat(results.get(id)!.flatMap((x) => x.perCpuSec)).median;
  return {
    scenario: {
      id: 'replica-scaling',
      title: 'Scaling out: 1, 2 and 3 replicas on one durable consumer, state in Redis',
      setup: `A stream of ${total} canonical events on a private nats-server; k exporter processes (node dist/cli.js serve) started together on one durable consumer, lifecycle state in a private redis-server, all on the same 2 cores; the window runs from every replica having taken ${warm} events (its warm-up) to the stream drained;`,
      runs: ctx.runs,
      subjects,
      ratios: [],
      notes: [
        `events per CPU-second per replica, 3 replicas against 1: ${(med('replicas-3') / med('replicas-1')).toFixed(2)}× with the tail follower, ${(med('replicas-3-nofollow') / med('replicas-1-nofollow')).toFixed(2)}× without`,
        'the total rate is bound by the two cores the replicas, nats-server and redis-server share: more replicas here cannot add throughput, only show whether the cost per event stays flat',
      ],
    },
    targets: [],
  };
}
