// In-process cost of each OTLP ingest stage per span (CPU ns, not wall time: the machine is shared),
// on the bench's OTLP workload: protobuf decode, span mapping, then the whole export (pipeline and
// every sink), without HTTP. node bench/.build/bench/micro/otlp.js [bodies] [stage prefix]
// MICRO_CONFIG='{"tail":{"historySize":0}}' merges into the exporter's config (top-level keys, one level deep).
import { join } from 'node:path';
import pino from 'pino';
import type { OtlpSource } from '../../src/sources/otlp/otlp.js';
import { otlpTemplate } from '../lib/otlp.js';
import { ROOT } from '../lib/subjects.js';
import { runStages, timeSinks } from './stages.js';

// the exporter as built (dist/), typed from its sources
const dist = (m: string) => import(join(process.env.BENCH_DIST ?? join(ROOT, 'dist'), m)); // BENCH_DIST: another build, to compare
const { createApp } = (await dist('app.js')) as typeof import('../../src/app.js');
const { configFrom } = (await dist('config/load.js')) as typeof import('../../src/config/load.js');
const { decodeProtobuf } = (await dist('sources/otlp/proto.js')) as typeof import('../../src/sources/otlp/proto.js');

const BODIES = Number(process.argv[2] ?? 200);
/** only this stage (a name prefix), e.g. 'full' while profiling with --cpu-prof */
const ONLY = process.argv[3];
const PER_BODY = 512;
const ROUNDS = 5;

const base: Record<string, unknown> = { log: { level: 'silent' }, demo: false, http: false, server: { port: 0 }, sources: [{ kind: 'otlp' }] };
for (const [k, v] of Object.entries(JSON.parse(process.env.MICRO_CONFIG ?? '{}') as Record<string, unknown>)) {
  const b = base[k];
  base[k] = b && typeof b === 'object' && !Array.isArray(b) && v && typeof v === 'object' && !Array.isArray(v) ? { ...b, ...v } : v;
}
const config = configFrom(base);
const app = createApp(config, { logger: pino({ level: 'silent' }) });
await app.start();
const source = app.sources.find((s) => s.kind === 'otlp') as OtlpSource;
const template = await otlpTemplate(PER_BODY, Date.now());
let seq = 1;
const freshBodies = () => Array.from({ length: BODIES }, () => template.render(seq++));

const sinkTimes = timeSinks(app.pipeline);

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

await runStages({ stages, rounds: ROUNDS, only: ONLY, bodies: freshBodies, perBody: PER_BODY, item: 'span', sinkTimes });
const mem = process.memoryUsage();
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
