// Scaling out on one machine: 1, 2 and 3 exporter processes on one JetStream durable consumer with
// lifecycle state in one Redis, as the generated Kubernetes manifests run them, draining one
// preloaded stream together. Per replica: events it took and its CPU; for the set: the total rate,
// and what nats-server and redis-server spent per event. With the defaults (the tail follower reads
// only while someone watches, and nobody does) and with tail.follow on (each replica also reads
// every event for its own live tail).
// replica-scaling-steady: the same set fed at a fixed rate well below capacity, what an operator
// runs, where a drain's shrinking batches (k replicas splitting one backlog) do not apply.
import { AckPolicy, DeliverPolicy, jetstreamManager } from '@nats-io/jetstream';
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
    { id: `replicas-${k}`, k, follow: 'auto' as const, label: `${k} replica${k > 1 ? 's' : ''} (defaults: the tail follower is watched, nobody watches)` },
    { id: `replicas-${k}-follow-on`, k, follow: 'on' as const, label: `${k} replica${k > 1 ? 's' : ''} (tail.follow on: every replica reads every event)` },
  ]).filter((v) => !process.env.BENCH_DRAIN_ONLY || process.env.BENCH_DRAIN_ONLY.split(',').includes(v.id)); // e.g. replicas-1,replicas-3
  const results = new Map<string, Drain[]>(variants.map((v) => [v.id, []]));
  try {
    for (let run = 0; run < ctx.runs; run++) {
      for (let j = 0; j < variants.length; j++) {
        const v = variants[(run + j) % variants.length];
        const durable = `scale_${v.id.replace(/-/g, '_')}_${run}`;
        const config = replicaConfig(nats.url, redis.url, STREAM, SUBJECT, durable, {}, { follow: v.follow });
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
  const med = (id: string) => stat(results.get(id)?.flatMap((x) => x.perCpuSec) ?? []).median;
  return {
    scenario: {
      id: 'replica-scaling',
      title: 'Scaling out: 1, 2 and 3 replicas on one durable consumer, state in Redis',
      setup: `A stream of ${total} canonical events on a private nats-server; k exporter processes (node dist/cli.js serve) started together on one durable consumer, lifecycle state in a private redis-server, all on the same 2 cores; the window runs from every replica having taken ${warm} events (its warm-up) to the stream drained;`,
      runs: ctx.runs,
      subjects,
      ratios: [],
      notes: [
        `events per CPU-second per replica, 3 replicas against 1: ${(med('replicas-3') / med('replicas-1')).toFixed(2)}× with the defaults, ${(med('replicas-3-follow-on') / med('replicas-1-follow-on')).toFixed(2)}× with tail.follow on`,
        'the total rate is bound by the two cores the replicas, nats-server and redis-server share: more replicas here cannot add throughput, only show whether the cost per event stays flat',
      ],
    },
    targets: [],
  };
}

const RATE_STREAM = 'BENCH_SCALE_RATE';
const RATE_SUBJECT = 'bench.scalerate';

interface Steady {
  /** per replica: its CPU µs per event it took in the window */
  perReplicaUs: number[];
  /** all replicas' CPU over all events taken in the window */
  exporterUsPerEvent: number;
  shares: number[];
  /** events taken in the window against rate × window: below 100 the set fell behind */
  keptUpPct: number;
  batchSize: number;
  natsUsPerEvent: number;
  redisUsPerEvent: number;
  /** per replica: CPU ms per second with no traffic, after the publisher stopped (the cost that is not per event) */
  idleMsPerSec: number[];
}

/** One scrape per replica: events received and batches taken so far (scrapes cost ~1 ms each, so only at the window's ends). */
async function counters(servers: Server[]): Promise<{ took: number[]; batches: number[] }> {
  const texts = await Promise.all(servers.map(async (s) => (await fetch(`${s.url}/metrics`)).text()));
  const num = (t: string, re: RegExp) => Number(t.match(re)?.[1] ?? 0);
  return {
    took: texts.map((t) => num(t, /^workflow_exporter_events_received_total\{source="nats"\} (\S+)$/m)),
    batches: texts.map((t) => num(t, /^workflow_exporter_batch_duration_seconds_count\{source="nats"\} (\S+)$/m)),
  };
}

async function steady(servers: Server[], natsPid: number, redisPid: number, rate: number, windowS: number): Promise<Steady> {
  const c0 = await counters(servers);
  const cpu0 = servers.map((s) => cpuSeconds(s.pid));
  const n0 = cpuSeconds(natsPid);
  const r0 = cpuSeconds(redisPid);
  const t0 = performance.now();
  await sleep(windowS * 1000);
  const c1 = await counters(servers);
  const wall = (performance.now() - t0) / 1000;
  const cpu = servers.map((s, i) => cpuSeconds(s.pid) - cpu0[i]);
  const shares = c1.took.map((p, i) => p - c0.took[i]);
  const n = shares.reduce((a, b) => a + b, 0);
  return {
    perReplicaUs: shares.map((x, i) => (cpu[i] * 1e6) / x),
    exporterUsPerEvent: (cpu.reduce((a, b) => a + b, 0) * 1e6) / n,
    shares,
    keptUpPct: (100 * n) / (rate * wall),
    batchSize: n / c1.batches.reduce((a, b, i) => a + b - c0.batches[i], 0),
    natsUsPerEvent: ((cpuSeconds(natsPid) - n0) * 1e6) / n,
    redisUsPerEvent: ((cpuSeconds(redisPid) - r0) * 1e6) / n,
    idleMsPerSec: [],
  };
}

/** Each replica's CPU ms per second over `seconds` with nothing arriving. */
async function idle(servers: Server[], seconds: number): Promise<number[]> {
  const cpu0 = servers.map((s) => cpuSeconds(s.pid));
  const t0 = performance.now();
  await sleep(seconds * 1000);
  const wall = (performance.now() - t0) / 1000;
  return servers.map((s, i) => ((cpuSeconds(s.pid) - cpu0[i]) * 1000) / wall);
}

export async function replicaScalingSteady(ctx: Ctx): Promise<ScenarioOutput> {
  const nats = await ctx.nats();
  const redis = await ctx.redis();
  // Two ways to add replicas: the same total rate split over more of them (each sees less, so its
  // batches shrink and its fixed costs weigh more per event), and the same rate per replica (the
  // total grows with them: the measure of whether CPU per event stays flat as the set scales out).
  // BENCH_STEADY_ONLY=rate:replicas,... and BENCH_STEADY_SETTINGS=id,... pick a subset.
  const pairs = (process.env.BENCH_STEADY_ONLY ?? '5000:1,5000:2,5000:3,10000:2,15000:3').split(',').map((p) => p.split(':').map(Number) as [number, number]);
  const rates = [...new Set(pairs.map(([r]) => r))];
  // each replica's JIT and first GCs, at the rate, before the window; BENCH_STEADY_WARM_S and
  // BENCH_STEADY_WINDOW_S lengthen them (does CPU per event converge once every replica has warmed up?)
  const warmS = Number(process.env.BENCH_STEADY_WARM_S ?? (ctx.quick ? 2 : 3));
  const windowS = Number(process.env.BENCH_STEADY_WINDOW_S ?? (ctx.quick ? 4 : 6));
  const idleS = 3;
  const nc = await connect({ servers: nats.url });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: RATE_STREAM, subjects: [`${RATE_SUBJECT}.>`] });
  const settings = [
    // the tail follower is watched (tail.follow auto): with nobody watching, each replica reads its share only
    { id: 'default', source: {}, tail: {}, label: 'defaults (nobody watches the tail)' },
    // every replica reading every event for its own tail: what a watched replica (or follow: on) costs
    { id: 'follow-on', source: {}, tail: { follow: 'on' }, label: 'tail.follow on' },
    // 8 times the default pull (the source asks for twice `batch`; the config allows up to 10,000)
    // held 30 s (the client's default) instead of 5 s: does a bigger, longer pull give larger batches?
    { id: 'wide', source: { batch: 2048, pullExpiresMs: 30_000 }, tail: {}, label: 'batch 2048, pullExpiresMs 30000' },
    // a batch waits up to 25 ms after its first message for more
    { id: 'wait', source: { batchWaitMs: 25 }, tail: {}, label: 'batchWaitMs 25' },
  ];
  const pick = <T>(env: string | undefined, all: T[], key: (x: T) => string) => (env ? all.filter((x) => env.split(',').includes(key(x))) : all);
  const chosen = pick(process.env.BENCH_STEADY_SETTINGS, settings, (x) => x.id);
  const idOf = (rate: number, k: number, st: string) => `steady-${rate / 1000}k-${st}-${k}`;
  const variants = chosen.flatMap((st) =>
    pairs.map(([rate, k]) => ({ id: idOf(rate, k, st.id), rate, k, st, label: `${rate.toLocaleString('en-US')} ev/s, ${k} replica${k > 1 ? 's' : ''}${k > 1 ? ` (${Math.round(rate / k).toLocaleString('en-US')} each)` : ''}, ${st.label}` })),
  );
  const results = new Map<string, Steady[]>(variants.map((v) => [v.id, []]));
  try {
    for (let run = 0; run < ctx.runs; run++) {
      for (let j = 0; j < variants.length; j++) {
        const v = variants[(run + j) % variants.length];
        const durable = `scale_${v.id.replace(/[-.]/g, '_')}_${run}`;
        const config = replicaConfig(nats.url, redis.url, RATE_STREAM, RATE_SUBJECT, durable, { deliverPolicy: 'new', ...v.st.source }, v.st.tail);
        await jsm.streams.purge(RATE_STREAM);
        await jsm.consumers.add(RATE_STREAM, { durable_name: durable, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.New, filter_subject: `${RATE_SUBJECT}.>` });
        const servers = await Promise.all(Array.from({ length: v.k }, async (_, i) => startExporter(`scale-${v.id}-${i}`, config, ctx.dir, await freePort(), ctx.exporterNodeArgs)));
        try {
          // the publisher runs past the window's end by a second, so the window never sees it stop
          const pub = preload('nats-rate.js', { url: nats.url, subject: RATE_SUBJECT, rate: v.rate, seconds: warmS + windowS + 2, idPrefix: durable });
          const firstDeadline = Date.now() + 30_000;
          while ((await counters(servers)).took.every((x) => x === 0)) {
            if (Date.now() > firstDeadline) throw new Error(`${v.id}: no event taken 30 s after the publisher started`);
            await sleep(50);
          }
          await sleep(warmS * 1000);
          const d = await steady(servers, nats.proc.pid!, redis.proc.pid!, v.rate, windowS);
          await pub;
          await sleep(1000); // the last events through
          d.idleMsPerSec = await idle(servers, idleS);
          results.get(v.id)!.push(d);
          ctx.log(
            `steady run ${run + 1}/${ctx.runs} ${v.id}: exporter ${d.exporterUsPerEvent.toFixed(1)} µs/ev (per replica ${d.perReplicaUs.map((x) => x.toFixed(1)).join(', ')}), shares ${d.shares.join(', ')}, kept up ${d.keptUpPct.toFixed(1)}%, ${d.batchSize.toFixed(1)} events per batch, nats ${d.natsUsPerEvent.toFixed(1)} µs/ev, redis ${d.redisUsPerEvent.toFixed(1)} µs/ev, idle ${d.idleMsPerSec.map((x) => x.toFixed(1)).join(', ')} CPU ms/s`,
          );
        } finally {
          for (const s of servers) await stopServer(s);
          await jsm.consumers.delete(RATE_STREAM, durable).catch(() => false);
        }
      }
    }
  } finally {
    await jsm.streams.delete(RATE_STREAM).catch(() => false);
    await nc.close();
  }
  const subjects: SubjectResult[] = variants.map((v) => {
    const d = results.get(v.id)!;
    return {
      id: v.id,
      label: v.label,
      eventsPerSec: statJson(d.map((x) => (x.keptUpPct * v.rate) / 100)),
      // events per CPU-second of one replica, over all replicas of all runs
      eventsPerCpuSec: statJson(d.flatMap((x) => x.perReplicaUs.map((us) => 1e6 / us))),
      extra: {
        'exporter CPU µs/event, all replicas': statJson(d.map((x) => x.exporterUsPerEvent)),
        'events per batch': statJson(d.map((x) => x.batchSize)),
        'kept up, %': statJson(d.map((x) => x.keptUpPct)),
        'smallest share of the window, %': statJson(d.map((x) => (100 * Math.min(...x.shares)) / x.shares.reduce((a, b) => a + b, 0))),
        'nats-server CPU µs/event': statJson(d.map((x) => x.natsUsPerEvent)),
        'redis-server CPU µs/event': statJson(d.map((x) => x.redisUsPerEvent)),
        'idle CPU ms/s per replica': statJson(d.flatMap((x) => x.idleMsPerSec)),
      },
    };
  });
  const med = (id: string) => stat(results.get(id)?.map((x) => x.exporterUsPerEvent) ?? []).median;
  return {
    scenario: {
      id: 'replica-scaling-steady',
      title: 'Scaling out at a steady rate: 1, 2 and 3 replicas on one durable consumer, state in Redis',
      setup: `A publisher process sends canonical events at ${rates.join(' or ')} events/s (core publishes, 10 ms ticks) into a stream on a private nats-server; k exporter processes (node dist/cli.js serve) on one durable consumer (deliver new), lifecycle state in a private redis-server, all on the same 2 cores; ${warmS} s at the rate before a ${windowS} s window, then ${idleS} s with no traffic for the idle CPU; every rate:replicas pair (${pairs.map(([r, k]) => `${r}:${k}`).join(', ')}) × source-setting variant interleaved in each round;`,
      runs: ctx.runs,
      subjects,
      ratios: [],
      notes: chosen.flatMap((st) => {
        const r = (a: string, b: string) => (results.has(a) && results.has(b) ? (med(a) / med(b)).toFixed(2) : 'not measured');
        return [
          `${st.id}: exporter CPU per event, 5,000 ev/s split over 3 replicas against 1 replica: ${r(idOf(5000, 3, st.id), idOf(5000, 1, st.id))}×`,
          `${st.id}: exporter CPU per event at 5,000 ev/s per replica, 3 replicas (15,000 in all) against 1: ${r(idOf(15000, 3, st.id), idOf(5000, 1, st.id))}×, 2 (10,000) against 1: ${r(idOf(10000, 2, st.id), idOf(5000, 1, st.id))}×`,
        ];
      }),
    },
    targets: [],
  };
}

/** One replica's config: a durable on the stream, lifecycle state in Redis under the durable's prefix. */
function replicaConfig(natsUrl: string, redisUrl: string, stream: string, subject: string, durable: string, source: Record<string, unknown>, tail: Record<string, unknown>) {
  return {
    demo: false,
    http: false,
    log: { level: 'warn' },
    sources: [{ kind: 'nats-jetstream', servers: [natsUrl], streams: [{ stream, subjects: [`${subject}.>`], durable }], create: true, ...source }],
    state: { backend: 'redis', redisUrl, prefix: `bench_${durable}` },
    tail,
  };
}
