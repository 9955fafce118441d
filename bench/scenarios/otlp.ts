// OTLP/HTTP protobuf ingest: the exporter's otlp source (decode, span mapping, the whole pipeline)
// beside a floor that only decodes the same bodies with the same protobufjs types; rounds
// interleaved. Then the exporter alone at a fixed 10,000 spans/s for its answer latency, and at full
// load for three minutes, long enough that its caches fill (the RSS target is the peak of every run).
import type { Ctx, ScenarioOutput } from '../lib/context.js';
import { httpLoad, type LoadRun } from '../lib/measure.js';
import { freePort } from '../lib/proc.js';
import { judge } from '../lib/results.js';
import { ratios, stat, statJson } from '../lib/stats.js';
import { exporterFlags, startExporter, startRef, stopServer, type Server } from '../lib/subjects.js';
import { subjectFrom } from './http.js';

export const SPANS_PER_BODY = 512; // the OpenTelemetry SDKs' default export batch (BatchSpanProcessor)
const CONCURRENCY = 4;
const FIXED_RATE = 10_000; // spans/s for the latency target
const SUSTAIN_S = 180; // the last phase: full load until the trace cache (100,000 traces), the duplicate filter and the history have filled

export function otlpExporterConfig(): Record<string, unknown> {
  return { demo: false, http: false, sources: [{ kind: 'otlp' }], log: { level: 'warn' } };
}

export async function otlpIngest(ctx: Ctx): Promise<ScenarioOutput> {
  const servers: Server[] = [];
  try {
    const exporter = await startExporter('otlp-exporter', otlpExporterConfig(), ctx.dir, await freePort(), ctx.exporterNodeArgs);
    servers.push(exporter);
    servers.push(await startRef('otlp-floor', 'otlp.js', ['0', 'decode']));
    // where the time between the floor and the exporter goes: the floor on the exporter's V8 flags,
    // then decode + the exporter's span mapping on those flags (no pipeline)
    const flags = [...exporterFlags(), ...ctx.v8Args];
    servers.push(await startRef('otlp-floor-flags', 'otlp.js', ['0', 'decode'], flags));
    servers.push(await startRef('otlp-map', 'otlp.js', ['0', 'map'], flags));
    const results = new Map<string, LoadRun[]>(servers.map((s) => [s.id, []]));
    let seq = 1;
    const load = { perBody: SPANS_PER_BODY, concurrency: CONCURRENCY, warmupS: 1, otlp: true, path: '/v1/traces' };
    for (const s of servers) {
      ctx.log(`otlp: warming ${s.id}`);
      await httpLoad(s, { ...load, warmupS: ctx.warmupS, measureS: 1, seqBase: (seq += 100_000) });
    }
    for (let run = 0; run < ctx.runs; run++) {
      for (let k = 0; k < servers.length; k++) {
        const s = servers[(run + k) % servers.length];
        const r = await httpLoad(s, { ...load, measureS: ctx.measureS, seqBase: (seq += 100_000) });
        if (r.load.errors > 0) ctx.errors.push(`otlp ${s.id} run ${run}: ${r.load.errors} failed requests, first: ${r.load.firstError}`);
        results.get(s.id)!.push(r);
        ctx.log(`otlp run ${run + 1}/${ctx.runs} ${s.id}: ${Math.round(r.load.eventsPerSec)} spans/s, ${Math.round(r.load.events / r.window.cpuS)} spans/CPU-s, p99 ${r.load.latencyP99Ms.toFixed(1)} ms`);
      }
    }
    const fixed: LoadRun[] = [];
    for (let run = 0; run < ctx.runs; run++) {
      const r = await httpLoad(exporter, { ...load, rate: FIXED_RATE, concurrency: 16, measureS: ctx.measureS, seqBase: (seq += 100_000) });
      if (r.load.errors > 0) ctx.errors.push(`otlp fixed-rate run ${run}: ${r.load.errors} failed requests, first: ${r.load.firstError}`);
      fixed.push(r);
      ctx.log(`otlp at ${FIXED_RATE} spans/s run ${run + 1}/${ctx.runs}: p99 ${r.load.latencyP99Ms.toFixed(1)} ms, RSS ${Math.round(r.window.rssMaxMiB)} MiB`);
    }
    // then as fast as it answers for long enough that what it remembers (traces, ids, the tail's
    // history) has filled: the interleaved runs above end before that, and RSS is still growing then
    const sustainS = ctx.quick ? 30 : SUSTAIN_S;
    ctx.log(`otlp: the exporter at full load for ${sustainS} s`);
    const sustained = await httpLoad(exporter, { ...load, warmupS: 1, measureS: sustainS, seqBase: (seq += 10_000_000) });
    if (sustained.load.errors > 0) ctx.errors.push(`otlp sustained run: ${sustained.load.errors} failed requests, first: ${sustained.load.firstError}`);
    ctx.log(`otlp sustained: ${Math.round(sustained.load.eventsPerSec)} spans/s, RSS peak ${Math.round(sustained.window.rssMaxMiB)} MiB`);
    const ex = results.get('otlp-exporter')!;
    const floor = results.get('otlp-floor')!;
    const floorFlags = results.get('otlp-floor-flags')!;
    const mapOnly = results.get('otlp-map')!;
    const sps = (rs: LoadRun[]) => rs.map((r) => r.load.eventsPerSec);
    const spc = (rs: LoadRun[]) => rs.map((r) => r.load.events / r.window.cpuS);
    const vsFloor = ratios(sps(ex), sps(floor));
    const ratio = Number.isFinite(vsFloor.median) ? vsFloor.median : null;
    const rate = stat(sps(ex)).median;
    const p99 = stat(fixed.map((r) => r.load.latencyP99Ms)).median;
    const rss = Math.max(...ex.map((r) => r.window.rssMaxMiB), ...fixed.map((r) => r.window.rssMaxMiB), sustained.window.rssMaxMiB);
    return {
      scenario: {
        id: 'otlp-ingest',
        title: `OTLP/HTTP protobuf ingest (batches of ${SPANS_PER_BODY} spans)`,
        setup:
          `POST /v1/traces, ${SPANS_PER_BODY} spans per body (8 traces of a workflow, 7 agents, 28 model calls with tokens, 28 tool calls; GenAI conventions; fresh trace ids per body), ${CONCURRENCY} keep-alive connections from a separate load-generator process; ` +
          `exporter = node dist/cli.js serve with an otlp source (decode, span mapping, validate, lifecycle state, metrics with exemplars, tail with no clients); floor = bare fastify route decoding the same bodies with the same protobufjs types (on V8's defaults, and on the exporter's V8 flags); decode + mapping = the floor running the exporter's SpanMapper on each body, on the exporter's flags. ` +
          `Then the exporter alone at ${FIXED_RATE} spans/s (open loop) for the answer latency, then at full load for ${sustainS} s (one run) so that its caches have filled; the RSS target is the peak over every run. Warm-up ${ctx.warmupS} s per subject, then ${ctx.measureS} s per run;`,
        runs: ctx.runs,
        subjects: [
          { ...subjectFrom('exporter', 'exporter (otlp source, full pipeline)', ex) },
          { ...subjectFrom('floor', 'floor: fastify + protobufjs decode', floor) },
          { ...subjectFrom('floor-flags', "floor on the exporter's V8 flags", floorFlags) },
          { ...subjectFrom('map', "decode + the exporter's span mapping, on its V8 flags (no pipeline)", mapOnly) },
          { ...subjectFrom('exporter-10k', `exporter at ${FIXED_RATE} spans/s`, fixed) },
          { ...subjectFrom('exporter-sustained', `exporter at full load for ${sustainS} s, after the rest`, [sustained]) },
        ],
        ratios: [
          { name: 'exporter / floor', metric: 'spans/s', of: 'exporter', to: 'floor', value: statJson(vsFloor.values) },
          { name: 'exporter / floor', metric: 'spans/CPU-s', of: 'exporter', to: 'floor', value: statJson(ratios(spc(ex), spc(floor)).values) },
          { name: 'floor on the flags / floor', metric: 'spans/CPU-s', of: 'floor-flags', to: 'floor', value: statJson(ratios(spc(floorFlags), spc(floor)).values) },
          { name: 'decode + mapping / floor on the flags', metric: 'spans/CPU-s', of: 'map', to: 'floor-flags', value: statJson(ratios(spc(mapOnly), spc(floorFlags)).values) },
          { name: 'exporter / decode + mapping', metric: 'spans/CPU-s', of: 'exporter', to: 'map', value: statJson(ratios(spc(ex), spc(mapOnly)).values) },
        ],
        notes: ['events/s in the subject rows are spans/s here'],
      },
      targets: [
        { id: 'otlp-vs-floor', description: 'OTLP ingest ≥ 0.5× the decode-only floor', value: ratio, threshold: 0.5, comparison: '>=', unit: '×', pass: judge(ratio, '>=', 0.5), detail: `${Math.round(rate)} vs ${Math.round(stat(sps(floor)).median)} spans/s` },
        { id: 'otlp-rate', description: 'OTLP ingest ≥ 50,000 spans/s', value: rate, threshold: 50_000, comparison: '>=', unit: 'spans/s', pass: judge(rate, '>=', 50_000), detail: `median of ${ex.length} runs` },
        { id: 'otlp-p99', description: `OTLP answer p99 < 50 ms at ${FIXED_RATE} spans/s`, value: p99, threshold: 50, comparison: '<', unit: 'ms', pass: judge(p99, '<', 50), detail: `median of ${fixed.length} runs` },
        { id: 'otlp-rss', description: 'OTLP ingest RSS < 256 MiB', value: rss, threshold: 256, comparison: '<', unit: 'MiB', pass: judge(rss, '<', 256), detail: 'peak over all runs' },
      ],
    };
  } finally {
    for (const s of servers) await stopServer(s);
  }
}
