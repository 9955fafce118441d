// Bus ingest (NATS JetStream, Redis Streams): a stream preloaded once, then each subject — the
// exporter and the references — drains it through a consumer of its own, in its own fresh process.
// The rate is taken between a warm-up mark and the end, so JIT warm-up and connection set-up stay
// outside the window. Progress comes from the subjects themselves (the exporter's received counter
// on /metrics, the references' count over IPC): polling consumer info on the broker while it
// delivers costs nats-server milliseconds per call and slowed every subject tenfold.
import { join } from 'node:path';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import type { Broker } from '../lib/brokers.js';
import type { Ctx, ScenarioOutput } from '../lib/context.js';
import { cpuSeconds, freePort, machineIdleSeconds, nextMessage, rssSampler, sleep, start } from '../lib/proc.js';
import { judge, type SubjectResult, type TargetResult } from '../lib/results.js';
import { ratios, stat, statJson } from '../lib/stats.js';
import { baselineFromEnv, BUILD, probe, startExporter, startRef, stopServer, type Server } from '../lib/subjects.js';

const POLL_MS = 100; // a /metrics scrape costs the exporter ~1 ms: 1% of its CPU at this rate, and ±0.1 s on a window of seconds

/** Messages a subject has taken so far: the exporter's received counter, a reference's handled count. */
export async function progress(server: Server, kind: 'exporter' | 'reference' | 'floor', source: string): Promise<number> {
  if (kind !== 'exporter') {
    const p = nextMessage(server.proc, (m) => (m as { handled?: number }).handled, 10_000);
    server.proc.send({ count: true });
    return p;
  }
  try {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    const m = text.match(new RegExp(`^workflow_exporter_events_received_total\\{source="${source}"\\} (\\S+)$`, 'm'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

interface Bus {
  name: string;
  /** the private broker's process, whose CPU is reported beside the consumer's */
  brokerPid: number;
  exporterConfig(consumer: string, variant: string): Record<string, unknown>;
  startRef(mode: 'reference' | 'floor', consumer: string): Promise<Server>;
  dropConsumer(consumer: string): Promise<void>;
  close(): Promise<void>;
}

interface Drain {
  eventsPerSec: number;
  eventsPerCpuSec: number;
  rssMiB: number;
  lagP99Ms: number;
  lagMaxMs: number;
  startMs: number;
  brokerCpuPct: number;
  idleCores: number;
}

export async function preload(script: string, opts: Record<string, unknown>): Promise<number> {
  const log: string[] = [];
  const gen = start(process.execPath, [join(BUILD, 'load', script), JSON.stringify(opts)], { name: script, logTo: log });
  const r = await nextMessage(
    gen,
    (m) => {
      const x = m as { result?: { seconds: number }; failed?: string };
      if (x.failed) throw new Error(`${script}: ${x.failed}`);
      return x.result;
    },
    600_000,
  );
  return r.seconds;
}

async function drain(bus: Bus, server: Server, kind: 'exporter' | 'reference' | 'floor', warm: number, total: number): Promise<Drain> {
  const deadline = Date.now() + 300_000;
  const waitFor = async (n: number) => {
    for (;;) {
      const p = await progress(server, kind, bus.name);
      if (p >= n) return p;
      if (server.proc.exitCode !== null) throw new Error(`${server.id} exited: ${server.log.join('').slice(-1500)}`);
      if (Date.now() > deadline) throw new Error(`${server.id}: ${p}/${n} entries after 300 s`);
      await sleep(POLL_MS);
    }
  };
  const p0 = await waitFor(warm);
  void probe(server, 'reset');
  const cpu0 = cpuSeconds(server.pid);
  const broker0 = cpuSeconds(bus.brokerPid);
  const idle0 = machineIdleSeconds();
  const t0 = performance.now();
  const rss = rssSampler(server.pid);
  const p1 = await waitFor(total);
  const wall = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(server.pid) - cpu0;
  const brokerCpuPct = (100 * (cpuSeconds(bus.brokerPid) - broker0)) / wall;
  const idleCores = (machineIdleSeconds() - idle0) / wall;
  const rssMiB = rss.stop();
  const reading = (await probe(server, 'read'))!;
  const n = p1 - p0;
  return { eventsPerSec: n / wall, eventsPerCpuSec: n / cpu, rssMiB, lagP99Ms: reading.lagP99Ms, lagMaxMs: reading.lagMaxMs, startMs: server.startMs, brokerCpuPct, idleCores };
}

function subject(id: string, label: string, d: Drain[]): SubjectResult {
  return {
    id,
    label,
    eventsPerSec: statJson(d.map((x) => x.eventsPerSec)),
    eventsPerCpuSec: statJson(d.map((x) => x.eventsPerCpuSec)),
    rssMiB: statJson(d.map((x) => x.rssMiB)),
    lagP99Ms: statJson(d.map((x) => x.lagP99Ms)),
    lagMaxMs: statJson(d.map((x) => x.lagMaxMs)),
    extra: {
      'start ms': statJson(d.map((x) => x.startMs)),
      // what the consumer's work costs the broker (acks), and what is left for a second thread
      'broker CPU %': statJson(d.map((x) => x.brokerCpuPct)),
      'machine idle, cores': statJson(d.map((x) => x.idleCores)),
    },
  };
}

interface BusPlan {
  id: string;
  title: string;
  setup: string;
  exporterVariants: { id: string; label: string }[];
  target: (r: { exporter: Drain[]; reference: Drain[]; floor: Drain[] }) => TargetResult;
}

async function runBus(ctx: Ctx, bus: Bus, plan: BusPlan, warm: number, total: number): Promise<ScenarioOutput> {
  // the baseline (baselineFromEnv), configured as the first variant, runs in the same rotation
  const baseline = baselineFromEnv();
  const first = plan.exporterVariants[0].id;
  const variants = [...plan.exporterVariants, ...(baseline ? [{ id: 'exporter-baseline', label: baseline.label }] : [])];
  const subjects = [...variants.map((v) => ({ ...v, kind: 'exporter' as const })), { id: 'reference', label: '', kind: 'reference' as const }, { id: 'floor', label: '', kind: 'floor' as const }];
  const results = new Map<string, Drain[]>(subjects.map((s) => [s.id, []]));
  for (let run = 0; run < ctx.runs; run++) {
    for (let k = 0; k < subjects.length; k++) {
      const s = subjects[(run + k) % subjects.length];
      const consumer = `bench_${s.id}_${run}`;
      const server =
        s.kind === 'exporter'
          ? s.id === 'exporter-baseline'
            ? await startExporter(`${bus.name}-${s.id}`, bus.exporterConfig(consumer, first), ctx.dir, await freePort(), ctx.exporterNodeArgs, baseline!.dist, baseline!.node)
            : await startExporter(`${bus.name}-${s.id}`, bus.exporterConfig(consumer, s.id), ctx.dir, await freePort(), ctx.exporterNodeArgs)
          : await bus.startRef(s.kind, consumer);
      try {
        const d = await drain(bus, server, s.kind, warm, total);
        results.get(s.id)!.push(d);
        ctx.log(`${plan.id} run ${run + 1}/${ctx.runs} ${s.id}: ${Math.round(d.eventsPerSec)} ev/s, ${Math.round(d.eventsPerCpuSec)} ev/CPU-s`);
      } finally {
        await stopServer(server);
        await bus.dropConsumer(consumer);
      }
    }
  }
  const ref = results.get('reference')!;
  const floor = results.get('floor')!;
  const eps = (d: Drain[]) => d.map((x) => x.eventsPerSec);
  const epc = (d: Drain[]) => d.map((x) => x.eventsPerCpuSec);
  const ratioList = plan.exporterVariants.flatMap((v) => {
    const ex = results.get(v.id)!;
    return [
      { name: `${v.id} / reference`, metric: 'events/s', of: v.id, to: 'reference', value: statJson(ratios(eps(ex), eps(ref)).values) },
      { name: `${v.id} / floor`, metric: 'events/s', of: v.id, to: 'floor', value: statJson(ratios(eps(ex), eps(floor)).values) },
      { name: `${v.id} / reference`, metric: 'events/CPU-s', of: v.id, to: 'reference', value: statJson(ratios(epc(ex), epc(ref)).values) },
    ];
  });
  const base = results.get('exporter-baseline');
  if (base) {
    const ex = results.get(first)!;
    ratioList.push(
      { name: `${first} / baseline`, metric: 'events/s', of: first, to: 'exporter-baseline', value: statJson(ratios(eps(ex), eps(base)).values) },
      { name: `${first} / baseline`, metric: 'events/CPU-s', of: first, to: 'exporter-baseline', value: statJson(ratios(epc(ex), epc(base)).values) },
    );
  }
  return {
    scenario: {
      id: plan.id,
      title: plan.title,
      setup: `${plan.setup} ${total - warm} entries measured after ${warm} warm-up entries, per subject and run, each subject in a fresh process with a fresh consumer;`,
      runs: ctx.runs,
      subjects: subjects.map((s) =>
        subject(s.id, s.kind === 'exporter' ? s.label : s.kind === 'reference' ? REF_LABEL[bus.name] : FLOOR_LABEL[bus.name], results.get(s.id)!),
      ),
      ratios: ratioList,
      notes: [],
    },
    targets: [plan.target({ exporter: results.get(plan.exporterVariants[0].id)!, reference: ref, floor })],
  };
}

const REF_LABEL: Record<string, string> = {
  nats: 'reference: AckPolicy.None consume({callback}) + JSON.parse + zod + prom-client',
  redis: 'reference: XREADGROUP COUNT 500 + JSON.parse + zod + prom-client + XACK per batch',
};
const FLOOR_LABEL: Record<string, string> = {
  nats: 'floor: AckPolicy.None consume({callback}) + JSON.parse',
  redis: 'floor: XREADGROUP COUNT 500 NOACK + JSON.parse',
};

function sizes(ctx: Ctx): { warm: number; total: number } {
  return ctx.quick ? { warm: 20_000, total: 120_000 } : { warm: 30_000, total: 330_000 };
}

export async function natsIngest(ctx: Ctx): Promise<ScenarioOutput> {
  const broker: Broker = await ctx.nats();
  const stream = 'BENCH_EVENTS';
  const subjectBase = 'bench.events';
  const { warm, total } = sizes(ctx);
  ctx.log(`nats: preloading ${total} events`);
  const secs = await preload('nats-publish.js', { url: broker.url, stream, subject: subjectBase, count: total });
  ctx.log(`nats: preloaded in ${secs.toFixed(1)} s`);
  const nc: NatsConnection = await connect({ servers: broker.url });
  const jsm: JetStreamManager = await jetstreamManager(nc);
  const bus: Bus = {
    name: 'nats',
    brokerPid: broker.proc.pid!,
    async dropConsumer(consumer) {
      await jsm.consumers.delete(stream, consumer).catch(() => false);
    },
    exporterConfig(consumer, variant) {
      return {
        demo: false,
        http: false,
        log: { level: 'warn' },
        sources: [
          {
            kind: 'nats-jetstream',
            servers: [broker.url],
            streams: [{ stream, subjects: [`${subjectBase}.>`], durable: consumer }],
            create: true,
            ackPolicy: variant === 'exporter-ack-all' ? 'all' : 'explicit',
          },
        ],
      };
    },
    startRef: (mode, consumer) => startRef(`nats-${mode}`, 'nats.js', [mode, broker.url, stream, consumer, subjectBase]),
    close: () => nc.close(),
  };
  try {
    return await runBus(ctx, bus, {
      id: 'nats-ingest',
      title: 'NATS JetStream ingest (at-least-once)',
      setup: `A stream of ${total} canonical events on a private nats-server ${'(file storage)'}; exporter = node dist/cli.js serve with a nats-jetstream source (durable pull consumer, batch 256, acks after the sinks took the batch);`,
      exporterVariants: [
        { id: 'exporter', label: 'exporter (ackPolicy explicit, the default)' },
        { id: 'exporter-ack-all', label: 'exporter (ackPolicy all: one cumulative ack per batch)' },
      ],
      target: ({ exporter, reference, floor }) => {
        const r = ratios(exporter.map((x) => x.eventsPerSec), reference.map((x) => x.eventsPerSec));
        const value = Number.isFinite(r.median) ? r.median : null;
        return {
          id: 'nats-ingest',
          description: 'NATS JetStream at-least-once ≥ 0.9× an un-acked (AckPolicy.None) consumer loop',
          value,
          threshold: 0.9,
          comparison: '>=',
          unit: '×',
          pass: judge(value, '>=', 0.9),
          detail: `${Math.round(stat(exporter.map((x) => x.eventsPerSec)).median)} vs ${Math.round(stat(reference.map((x) => x.eventsPerSec)).median)} events/s (loop with zod + prom-client); vs the JSON.parse-only loop (${Math.round(stat(floor.map((x) => x.eventsPerSec)).median)}): ${ratios(exporter.map((x) => x.eventsPerSec), floor.map((x) => x.eventsPerSec)).median.toFixed(2)}×`,
        };
      },
    }, warm, total);
  } finally {
    await bus.close();
  }
}

export async function redisIngest(ctx: Ctx): Promise<ScenarioOutput> {
  const broker: Broker = await ctx.redis();
  const key = 'bench:events';
  const { warm, total } = sizes(ctx);
  ctx.log(`redis: preloading ${total} events`);
  const secs = await preload('redis-publish.js', { url: broker.url, key, count: total });
  ctx.log(`redis: preloaded in ${secs.toFixed(1)} s`);
  const redis = new Redis(broker.url);
  const bus: Bus = {
    name: 'redis',
    brokerPid: broker.proc.pid!,
    async dropConsumer(group) {
      await redis.xgroup('DESTROY', key, group).catch(() => 0);
    },
    exporterConfig(group) {
      return {
        demo: false,
        http: false,
        log: { level: 'warn' },
        sources: [{ kind: 'redis-streams', url: broker.url, keys: [key], group, consumer: 'c1', startId: '0', create: true }],
      };
    },
    startRef: (mode, group) => startRef(`redis-${mode}`, 'redis.js', [mode, broker.url, key, group]),
    close: async () => {
      await redis.quit();
    },
  };
  try {
    return await runBus(ctx, bus, {
      id: 'redis-ingest',
      title: 'Redis Streams ingest (consumer group)',
      setup: `A stream of ${total} canonical events (field data) on a private redis-server; exporter = node dist/cli.js serve with a redis-streams source (XREADGROUP COUNT 500, one XACK per batch after the sinks took it);`,
      exporterVariants: [{ id: 'exporter', label: 'exporter (consumer group, XACK per batch)' }],
      target: ({ exporter, reference, floor }) => {
        const r = ratios(exporter.map((x) => x.eventsPerSec), floor.map((x) => x.eventsPerSec));
        const value = Number.isFinite(r.median) ? r.median : null;
        return {
          id: 'redis-ingest',
          description: 'Redis Streams consumer group ≥ 0.9× a bare XREADGROUP+JSON.parse loop',
          value,
          threshold: 0.9,
          comparison: '>=',
          unit: '×',
          pass: judge(value, '>=', 0.9),
          detail: `${Math.round(stat(exporter.map((x) => x.eventsPerSec)).median)} vs ${Math.round(stat(floor.map((x) => x.eventsPerSec)).median)} events/s (XREADGROUP NOACK + JSON.parse); vs the loop with zod + prom-client + XACK (${Math.round(stat(reference.map((x) => x.eventsPerSec)).median)}): ${ratios(exporter.map((x) => x.eventsPerSec), reference.map((x) => x.eventsPerSec)).median.toFixed(2)}×`,
        };
      },
    }, warm, total);
  } finally {
    await bus.close();
  }
}
