// /metrics with ~10k series: scrape time against bare prom-client behind fastify holding the same
// series, and the exporter's event-loop lag while it is scraped every second under full ingest.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Ctx, ScenarioOutput } from '../lib/context.js';
import { seriesSpread } from '../lib/events.js';
import { httpLoad, type LoadRun } from '../lib/measure.js';
import { cpuSeconds, freePort, nextMessage, start } from '../lib/proc.js';
import { judge } from '../lib/results.js';
import { ratios, stat, statJson } from '../lib/stats.js';
import { baselineFromEnv, BUILD, startExporter, startRef, stopServer, type Server } from '../lib/subjects.js';
import type { ScrapeOptions, ScrapeResult } from '../load/scrape.js';
import { CONCURRENCY, httpExporterConfig, PER_BODY } from './http.js';

/** stage histograms 10 × 10 × 2 × 15 lines, task histograms and counters 200 agents × 2 × 17: ~10k with the rest */
export const SPREAD = { workflowTypes: 10, stages: 10, agents: 200 };

export async function scrape(server: Server, opts: Omit<ScrapeOptions, 'url'>): Promise<ScrapeResult & { serverCpuMsPerScrape: number }> {
  const gen = start(process.execPath, [join(BUILD, 'load', 'scrape.js'), JSON.stringify({ ...opts, url: `${server.url}/metrics` })], { name: 'scrape' });
  const cpu0 = cpuSeconds(server.pid);
  const r = await nextMessage(
    gen,
    (m) => {
      const x = m as { result?: ScrapeResult; failed?: string };
      if (x.failed) throw new Error(`scrape load failed: ${x.failed}`);
      return x.result;
    },
    600_000,
  );
  // server CPU per scrape: steadier than wall time on a shared machine (warm-up scrapes included)
  return { ...r, serverCpuMsPerScrape: ((cpuSeconds(server.pid) - cpu0) * 1000) / (opts.count + opts.warmup) };
}

/** Posts the series-spreading events so the exporter holds about 10k series; returns the count. */
export async function seedSeries(server: Server): Promise<number> {
  const lines = seriesSpread(SPREAD.workflowTypes, SPREAD.stages, SPREAD.agents, new Date().toISOString());
  for (let i = 0; i < lines.length; i += 1000) {
    const res = await fetch(`${server.url}/api/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: lines.slice(i, i + 1000).join('\n') });
    if (res.status !== 202) throw new Error(`seeding series: HTTP ${res.status} ${await res.text()}`);
  }
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
}

export async function metricsScrape(ctx: Ctx): Promise<ScenarioOutput> {
  const servers: Server[] = [];
  try {
    const exporter = await startExporter('scrape-exporter', httpExporterConfig(), ctx.dir, await freePort(), ctx.exporterNodeArgs);
    servers.push(exporter);
    const series = await seedSeries(exporter);
    const expo = join(ctx.dir, 'exporter-exposition.txt');
    writeFileSync(expo, await (await fetch(`${exporter.url}/metrics`)).text());
    const ref = await startRef('metrics-reference', 'metrics.js', [expo]);
    servers.push(ref);
    ctx.log(`scrape: exporter holds ${series} series`);
    // the baseline (baselineFromEnv) holds the same series and is scraped idle in the same rotation
    const baseline = baselineFromEnv();
    let base: Server | undefined;
    let baseSeries = 0;
    if (baseline) {
      base = await startExporter('scrape-exporter-baseline', httpExporterConfig(), ctx.dir, await freePort(), ctx.exporterNodeArgs, baseline.dist, baseline.node);
      servers.push(base);
      // another Node.js has other default process metrics, so the counts may differ by a few dozen
      baseSeries = await seedSeries(base);
    }
    const idleSubjects: (readonly [string, Server])[] = [['exporter', exporter], ['reference', ref], ...(base ? [['baseline', base] as const] : [])];

    const count = ctx.quick ? 40 : 120;
    type Scraped = Awaited<ReturnType<typeof scrape>>;
    const idle: Record<string, Scraped[]> = { exporter: [], reference: [], baseline: [] };
    const loaded: { load: LoadRun; scrape: Scraped }[] = [];
    let seq = 80_000_000;
    for (let run = 0; run < ctx.runs; run++) {
      // rotate the order so no subject always follows the same neighbour
      for (let k = 0; k < idleSubjects.length; k++) {
        const [id, s] = idleSubjects[(run + k) % idleSubjects.length];
        const r = await scrape(s, { count, warmup: 5, intervalMs: 0 });
        if (r.errors > 0) ctx.errors.push(`scrape ${id} run ${run}: ${r.errors} failed scrapes`);
        idle[id].push(r);
        ctx.log(`scrape run ${run + 1}/${ctx.runs} ${id}: p50 ${r.p50Ms.toFixed(1)} ms, ${r.serverCpuMsPerScrape.toFixed(1)} CPU-ms per scrape, ${r.series} series`);
      }
      // under full ingest, scraped once a second: the loop lag the exporter's own work causes
      let scrapeP: Promise<Scraped> | undefined;
      const load = await httpLoad(exporter, { perBody: PER_BODY, concurrency: CONCURRENCY, warmupS: 1, measureS: ctx.measureS, seqBase: (seq += 1_000_000) }, () => {
        scrapeP = scrape(exporter, { count: Math.max(1, ctx.measureS - 1), warmup: 0, intervalMs: 1000 });
      });
      const sc = await scrapeP!;
      loaded.push({ load, scrape: sc });
      ctx.log(`scrape run ${run + 1}/${ctx.runs} under ingest: ${Math.round(load.load.eventsPerSec)} ev/s, loop lag p99 ${load.window.reading.lagP99Ms.toFixed(1)} ms, scrape p50 ${sc.p50Ms.toFixed(1)} ms`);
    }
    const p50 = (rs: Scraped[]) => rs.map((r) => r.p50Ms);
    const cpuMs = (rs: Scraped[]) => rs.map((r) => r.serverCpuMsPerScrape);
    const ratio = ratios(p50(idle.exporter), p50(idle.reference));
    const ratioValue = Number.isFinite(ratio.median) ? ratio.median : null;
    const lag = stat(loaded.map((l) => l.load.window.reading.lagP99Ms));
    const lagValue = Number.isFinite(lag.max) ? lag.max : null;
    const sub = (id: string, label: string, rs: Scraped[]) => ({
      id,
      label,
      latencyP50Ms: statJson(p50(rs)),
      latencyP99Ms: statJson(rs.map((r) => r.p99Ms)),
      extra: { series: statJson(rs.map((r) => r.series)), 'KiB per scrape': statJson(rs.map((r) => r.bytes / 1024)), 'server CPU ms per scrape': statJson(cpuMs(rs)) },
    });
    return {
      scenario: {
        id: 'metrics-scrape',
        title: '/metrics with 10k series',
        setup:
          `The exporter holds ${series} series (stage and task histograms over ${SPREAD.workflowTypes} workflow types × ${SPREAD.stages} stages and ${SPREAD.agents} agents, plus the usual); the reference is bare prom-client behind fastify rebuilt from the exporter's own exposition (same families, label sets and buckets; collectDefaultMetrics). ` +
          `Idle: ${count} back-to-back scrapes per subject and run (p50/p99 are scrape times). Under ingest: the HTTP load of the http scenario for ${ctx.measureS} s while /metrics is scraped once a second;`,
        runs: ctx.runs,
        subjects: [
          sub('exporter', 'exporter, idle', idle.exporter),
          sub('reference', 'reference: prom-client + fastify, idle', idle.reference),
          ...(baseline ? [sub('exporter-baseline', `${baseline.label}, idle`, idle.baseline)] : []),
          {
            id: 'exporter-under-ingest',
            label: 'exporter under full ingest, scraped every second',
            eventsPerSec: statJson(loaded.map((l) => l.load.load.eventsPerSec)),
            eventsPerCpuSec: statJson(loaded.map((l) => l.load.load.events / l.load.window.cpuS)),
            latencyP50Ms: statJson(loaded.map((l) => l.scrape.p50Ms)),
            latencyP99Ms: statJson(loaded.map((l) => l.scrape.maxMs)),
            rssMiB: statJson(loaded.map((l) => l.load.window.rssMaxMiB)),
            lagP99Ms: statJson(loaded.map((l) => l.load.window.reading.lagP99Ms)),
            lagMaxMs: statJson(loaded.map((l) => l.load.window.reading.lagMaxMs)),
          },
        ],
        ratios: [
          { name: 'exporter / reference', metric: 'p50 scrape time', of: 'exporter', to: 'reference', value: statJson(ratio.values) },
          { name: 'exporter / reference', metric: 'server CPU per scrape', of: 'exporter', to: 'reference', value: statJson(ratios(cpuMs(idle.exporter), cpuMs(idle.reference)).values) },
          ...(baseline
            ? [
                { name: 'exporter / baseline', metric: 'p50 scrape time', of: 'exporter', to: 'exporter-baseline', value: statJson(ratios(p50(idle.exporter), p50(idle.baseline)).values) },
                { name: 'exporter / baseline', metric: 'server CPU per scrape', of: 'exporter', to: 'exporter-baseline', value: statJson(ratios(cpuMs(idle.exporter), cpuMs(idle.baseline)).values) },
              ]
            : []),
        ],
        notes: [
          'Under ingest, p50/p99 columns are the scrape times seen by the once-a-second scraper (p99 = slowest of the run).',
          ...(baseline ? [`The baseline holds ${baseSeries} series and takes no ingest between its idle scrapes, the exporter does: compare server CPU per scrape, the steadier figure.`] : []),
        ],
      },
      targets: [
        {
          id: 'metrics-scrape',
          description: '/metrics with 10k series: p50 scrape time ≤ 1.1× bare prom-client behind fastify',
          value: ratioValue,
          threshold: 1.1,
          comparison: '<=',
          unit: '×',
          pass: judge(ratioValue, '<=', 1.1),
          detail: `${stat(p50(idle.exporter)).median.toFixed(1)} vs ${stat(p50(idle.reference)).median.toFixed(1)} ms over ${series} series; server CPU per scrape ${ratios(cpuMs(idle.exporter), cpuMs(idle.reference)).median.toFixed(2)}×`,
        },
        {
          id: 'metrics-lag',
          description: 'event-loop lag p99 < 50 ms while scraped every second under full ingest',
          value: lagValue,
          threshold: 50,
          comparison: '<',
          unit: 'ms',
          pass: judge(lagValue, '<', 50),
          detail: `worst run; median of runs ${lag.median.toFixed(1)} ms, at ${Math.round(stat(loaded.map((l) => l.load.load.eventsPerSec)).median)} events/s`,
        },
      ],
    };
  } finally {
    for (const s of servers) await stopServer(s);
  }
}
