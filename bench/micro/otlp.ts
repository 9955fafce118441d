// In-process cost of each OTLP ingest stage per span (CPU ns, not wall time: the machine is shared),
// on the bench's OTLP workload: protobuf decode, span mapping, then the whole export (pipeline and
// every sink), without HTTP. node bench/.build/bench/micro/otlp.js [bodies] [stage prefix]
import { join } from 'node:path';
import pino from 'pino';
import type { ProcessedBatch, Sink } from '../../src/pipeline/types.js';
import type { OtlpSource } from '../../src/sources/otlp/otlp.js';
import { otlpTemplate } from '../lib/otlp.js';
import { stat } from '../lib/stats.js';
import { ROOT } from '../lib/subjects.js';

// the exporter as built (dist/), typed from its sources
const dist = (m: string) => import(join(ROOT, 'dist', m));
const { createApp } = (await dist('app.js')) as typeof import('../../src/app.js');
const { configFrom } = (await dist('config/load.js')) as typeof import('../../src/config/load.js');
const { decodeProtobuf } = (await dist('sources/otlp/proto.js')) as typeof import('../../src/sources/otlp/proto.js');

const BODIES = Number(process.argv[2] ?? 200);
/** only this stage (a name prefix), e.g. 'full' while profiling with --cpu-prof */
const ONLY = process.argv[3];
const PER_BODY = 512;
const ROUNDS = 5;

const config = configFrom({ log: { level: 'silent' }, demo: false, http: false, server: { port: 0 }, sources: [{ kind: 'otlp' }] });
const app = createApp(config, { logger: pino({ level: 'silent' }) });
await app.start();
const source = app.sources.find((s) => s.kind === 'otlp') as OtlpSource;
const template = await otlpTemplate(PER_BODY, Date.now());
let seq = 1;
const freshBodies = () => Array.from({ length: BODIES }, () => template.render(seq++));

const sinkTimes = new Map<string, number>();
for (const sink of (app.pipeline as unknown as { sinks: Sink[] }).sinks) {
  const write = sink.write.bind(sink);
  sink.write = (b: ProcessedBatch) => {
    const t = cpuMs();
    const r = write(b);
    sinkTimes.set(sink.name, (sinkTimes.get(sink.name) ?? 0) + cpuMs() - t);
    return r;
  };
}

function cpuMs(): number {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
}

async function time(fn: (bodies: Buffer[]) => unknown): Promise<number> {
  const bodies = freshBodies();
  const t = cpuMs();
  await fn(bodies);
  return ((cpuMs() - t) * 1e6) / (bodies.length * PER_BODY);
}

const stages: Record<string, (bodies: Buffer[]) => unknown> = {
  'protobuf decode': (bs) => {
    for (const b of bs) decodeProtobuf(b);
  },
  'decode + span mapping': (bs) => {
    for (const b of bs) source.mapper.map(decodeProtobuf(b));
  },
  'full export (pipeline, all sinks)': async (bs) => {
    for (const b of bs) await source.export(b, 'protobuf');
  },
};

const results: Record<string, number[]> = {};
for (let r = 0; r < ROUNDS; r++) {
  for (const [name, fn] of Object.entries(stages)) {
    if (ONLY && !name.startsWith(ONLY)) continue;
    sinkTimes.clear();
    (results[name] ??= []).push(await time(fn));
    if (name.startsWith('full')) {
      for (const [s, ms] of sinkTimes) (results[`  sink ${s}`] ??= []).push((ms * 1e6) / (BODIES * PER_BODY));
    }
  }
}
const mem = process.memoryUsage();
process.stdout.write(`ns per span, median of ${ROUNDS} rounds of ${BODIES * PER_BODY} spans (round 1 warms up)\n`);
for (const [name, v] of Object.entries(results)) {
  const s = stat(v.length > 1 ? v.slice(1) : v);
  process.stdout.write(`${name.padEnd(44)} ${Math.round(s.median).toString().padStart(6)}  (${Math.round(s.min)}–${Math.round(s.max)})\n`);
}
process.stdout.write(`RSS ${Math.round(mem.rss / 2 ** 20)} MiB, heap used ${Math.round(mem.heapUsed / 2 ** 20)} MiB, heap total ${Math.round(mem.heapTotal / 2 ** 20)} MiB, external ${Math.round(mem.external / 2 ** 20)} MiB\n`);
await app.close();
const gc = (globalThis as { gc?: () => void }).gc;
if (gc) {
  gc();
  const m = process.memoryUsage();
  process.stdout.write(`after a full GC: RSS ${Math.round(m.rss / 2 ** 20)} MiB, heap used ${Math.round(m.heapUsed / 2 ** 20)} MiB, heap total ${Math.round(m.heapTotal / 2 ** 20)} MiB\n`);
  const v8 = await import('node:v8');
  for (const s of v8.getHeapSpaceStatistics()) if (s.space_size > 1 << 20) process.stdout.write(`  ${s.space_name}: ${Math.round(s.space_used_size / 2 ** 20)} of ${Math.round(s.space_size / 2 ** 20)} MiB\n`);
}
