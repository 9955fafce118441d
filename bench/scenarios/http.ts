// HTTP NDJSON ingest: the exporter's full pipeline against the bare fastify reference and the
// JSON.parse floor, same bodies, same load generator, rounds interleaved.
import type { Ctx, ScenarioOutput } from '../lib/context.js';
import { httpLoad, type LoadRun } from '../lib/measure.js';
import { freePort } from '../lib/proc.js';
import { judge, type SubjectResult } from '../lib/results.js';
import { ratios, statJson, stat } from '../lib/stats.js';
import { baselineFromEnv, startExporter, startRef, stopServer, type Server } from '../lib/subjects.js';

export const PER_BODY = 100;
export const CONCURRENCY = 4; // enough requests in flight to keep one server core busy
export const SEMI_SPACE = ['--max-semi-space-size=32'];

/** The exporter as the HTTP scenarios run it: http ingest only, tail on, no demo, quiet logs. */
export function httpExporterConfig(): Record<string, unknown> {
  return { demo: false, http: true, log: { level: 'warn' } };
}

export function subjectFrom(id: string, label: string, runs: LoadRun[]): SubjectResult {
  return {
    id,
    label,
    eventsPerSec: statJson(runs.map((r) => r.load.eventsPerSec)),
    eventsPerCpuSec: statJson(runs.map((r) => r.load.events / r.window.cpuS)),
    latencyP50Ms: statJson(runs.map((r) => r.load.latencyP50Ms)),
    latencyP99Ms: statJson(runs.map((r) => r.load.latencyP99Ms)),
    rssMiB: statJson(runs.map((r) => r.window.rssMaxMiB)),
    lagP99Ms: statJson(runs.map((r) => r.window.reading.lagP99Ms)),
    lagMaxMs: statJson(runs.map((r) => r.window.reading.lagMaxMs)),
    extra: {
      'server CPU %': statJson(runs.map((r) => (100 * r.window.cpuS) / r.window.wallS)),
      'heap used MiB at end': statJson(runs.map((r) => r.window.reading.heapUsedMiB)),
      // what a second thread in the server could use: the load generator's share and what stays idle
      'load generator CPU %': statJson(runs.map((r) => r.load.generatorCpuPct)),
      'machine idle, cores': statJson(runs.map((r) => r.load.idleCores)),
    },
  };
}

export async function httpIngest(ctx: Ctx): Promise<ScenarioOutput> {
  const servers: Server[] = [];
  try {
    const exporter = await startExporter('http-exporter', httpExporterConfig(), ctx.dir, await freePort(), ctx.exporterNodeArgs);
    servers.push(exporter);
    // the same exporter with a larger young generation: fewer scavenges promote fewer short-lived
    // events (a deployment flag given after the launchers' own, src/util/node-flags.ts, so it wins)
    servers.push(await startExporter('http-exporter-semi32', httpExporterConfig(), ctx.dir, await freePort(), [...SEMI_SPACE, ...ctx.exporterNodeArgs]));
    const baseline = baselineFromEnv();
    if (baseline) servers.push(await startExporter('http-exporter-baseline', httpExporterConfig(), ctx.dir, await freePort(), ctx.exporterNodeArgs, baseline.dist, baseline.node));
    servers.push(await startRef('http-reference', 'http.js', ['reference']));
    servers.push(await startRef('http-floor', 'http.js', ['floor']));
    const results = new Map<string, LoadRun[]>(servers.map((s) => [s.id, []]));
    let seq = 1;
    const load = { perBody: PER_BODY, concurrency: CONCURRENCY, warmupS: 1 };
    for (const s of servers) {
      ctx.log(`http: warming ${s.id}`);
      await httpLoad(s, { ...load, warmupS: ctx.warmupS, measureS: 1, seqBase: (seq += 1_000_000) });
    }
    for (let run = 0; run < ctx.runs; run++) {
      // rotate the order so no subject always follows the same neighbour
      for (let k = 0; k < servers.length; k++) {
        const s = servers[(run + k) % servers.length];
        const r = await httpLoad(s, { ...load, measureS: ctx.measureS, seqBase: (seq += 1_000_000) });
        if (r.load.errors > 0) ctx.errors.push(`http ${s.id} run ${run}: ${r.load.errors} failed requests, first: ${r.load.firstError}`);
        results.get(s.id)!.push(r);
        ctx.log(`http run ${run + 1}/${ctx.runs} ${s.id}: ${Math.round(r.load.eventsPerSec)} ev/s, ${Math.round(r.load.events / r.window.cpuS)} ev/CPU-s`);
      }
    }
    const ex = results.get('http-exporter')!;
    const ex32 = results.get('http-exporter-semi32')!;
    const ref = results.get('http-reference')!;
    const floor = results.get('http-floor')!;
    const base = results.get('http-exporter-baseline');
    const eps = (rs: LoadRun[]) => rs.map((r) => r.load.eventsPerSec);
    const epc = (rs: LoadRun[]) => rs.map((r) => r.load.events / r.window.cpuS);
    const vsRef = ratios(eps(ex), eps(ref));
    const cpuVsRef = ratios(epc(ex), epc(ref));
    const value = Number.isFinite(vsRef.median) ? vsRef.median : null;
    return {
      scenario: {
        id: 'http-ingest',
        title: 'HTTP NDJSON ingest (batches of 100)',
        setup:
          `POST /api/events, ${PER_BODY} NDJSON events per body (10-event workflow runs, fresh run ids per body), ${CONCURRENCY} keep-alive connections from a separate load-generator process; ` +
          `exporter = node dist/cli.js serve (validate, normalize, guard, lifecycle state, metrics, tail with no clients); reference = bare fastify route + JSON.parse + canonicalEventSchema.parse + prom-client inc/observe; floor = the same route with JSON.parse only. ` +
          `Warm-up ${ctx.warmupS} s per subject, then ${ctx.measureS} s per run;`,
        runs: ctx.runs,
        subjects: [
          subjectFrom('exporter', 'exporter (full pipeline)', ex),
          subjectFrom('exporter-semi32', 'exporter, node --max-semi-space-size=32', ex32),
          ...(base ? [subjectFrom('exporter-baseline', baseline!.label, base)] : []),
          subjectFrom('reference', 'reference: fastify + JSON.parse + zod + prom-client', ref),
          subjectFrom('floor', 'floor: fastify + JSON.parse', floor),
        ],
        ratios: [
          { name: 'exporter / reference', metric: 'events/s', of: 'exporter', to: 'reference', value: statJson(vsRef.values) },
          { name: 'exporter / reference', metric: 'events/CPU-s', of: 'exporter', to: 'reference', value: statJson(cpuVsRef.values) },
          { name: 'exporter / floor', metric: 'events/s', of: 'exporter', to: 'floor', value: statJson(ratios(eps(ex), eps(floor)).values) },
          { name: 'exporter (semi-space 32 MiB) / reference', metric: 'events/s', of: 'exporter-semi32', to: 'reference', value: statJson(ratios(eps(ex32), eps(ref)).values) },
          { name: 'exporter (semi-space 32 MiB) / reference', metric: 'events/CPU-s', of: 'exporter-semi32', to: 'reference', value: statJson(ratios(epc(ex32), epc(ref)).values) },
          { name: 'reference / floor', metric: 'events/s', of: 'reference', to: 'floor', value: statJson(ratios(eps(ref), eps(floor)).values) },
          ...(base
            ? [
                { name: 'exporter / baseline', metric: 'events/s', of: 'exporter', to: 'exporter-baseline', value: statJson(ratios(eps(ex), eps(base)).values) },
                { name: 'exporter / baseline', metric: 'events/CPU-s', of: 'exporter', to: 'exporter-baseline', value: statJson(ratios(epc(ex), epc(base)).values) },
              ]
            : []),
        ],
        notes: [`exporter cold start to /readyz 200: ${Math.round(exporter.startMs)} ms`],
      },
      targets: [
        {
          id: 'http-ingest',
          description: 'HTTP NDJSON ingest ≥ 1.5× the bare fastify+JSON.parse+zod+prom-client route',
          value,
          threshold: 1.5,
          comparison: '>=',
          unit: '×',
          pass: judge(value, '>=', 1.5),
          detail: `${Math.round(stat(eps(ex)).median)} vs ${Math.round(stat(eps(ref)).median)} events/s (floor ${Math.round(stat(eps(floor)).median)}); per CPU-second ${cpuVsRef.median.toFixed(2)}×`,
        },
      ],
    };
  } finally {
    for (const s of servers) await stopServer(s);
  }
}

