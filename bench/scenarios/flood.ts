// /metrics under a connection flood: scrape time, failed scrapes, RSS and loop lag of the exporter
// (default connection limits) while thousands of idle and slow connections are held and reopened.
import { join } from 'node:path';
import type { Ctx, ScenarioOutput } from '../lib/context.js';
import { freePort, nextMessage, start, stop } from '../lib/proc.js';
import { judge } from '../lib/results.js';
import { stat, statJson } from '../lib/stats.js';
import { BUILD, openWindow, startExporter, stopServer, type Server, type Window } from '../lib/subjects.js';
import type { FloodOptions, FloodResult } from '../load/flood.js';
import { httpExporterConfig } from './http.js';
import { scrape, seedSeries } from './scrape.js';

type Scraped = Awaited<ReturnType<typeof scrape>>;

interface FloodRun {
  scrape: Scraped;
  window: Window;
  flood: FloodResult;
  /** the exporter's own view at the end of the window */
  open: number;
  evicted: number;
  refused: number;
  healthz: number;
}

function metric(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : NaN;
}

export async function connectionFlood(ctx: Ctx): Promise<ScenarioOutput> {
  const servers: Server[] = [];
  const idle = ctx.quick ? 3000 : 10_000;
  const slow = 200;
  const count = Math.max(8, ctx.measureS * 4); // every 250 ms
  try {
    const exporter = await startExporter('flood-exporter', httpExporterConfig(), ctx.dir, await freePort(), ctx.exporterNodeArgs);
    servers.push(exporter);
    const series = await seedSeries(exporter);
    const port = Number(new URL(exporter.url).port);
    const quiet: { scrape: Scraped; window: Window }[] = [];
    const flooded: FloodRun[] = [];
    for (let run = 0; run < ctx.runs; run++) {
      const w0 = openWindow(exporter);
      const q = await scrape(exporter, { count, warmup: 2, intervalMs: 250, fresh: true });
      quiet.push({ scrape: q, window: await w0.end() });
      ctx.log(`flood run ${run + 1}/${ctx.runs} quiet: scrape p50 ${q.p50Ms.toFixed(1)} ms, ${q.errors} failed`);

      const opts: FloodOptions = { host: '127.0.0.1', port, idle, slow, reopenDelayMs: 1000, maxReopens: 200_000 };
      const gen = start(process.execPath, [join(BUILD, 'load', 'flood.js'), JSON.stringify(opts)], { name: 'flood' });
      try {
        await nextMessage(
          gen,
          (m) => {
            const x = m as { ready?: boolean; failed?: string };
            if (x.failed) throw new Error(`flood load failed: ${x.failed}`);
            return x.ready;
          },
          120_000,
        );
        const w = openWindow(exporter);
        const s = await scrape(exporter, { count, warmup: 2, intervalMs: 250, fresh: true });
        const health = await fetch(`${exporter.url}/healthz`).then((r) => r.status).catch(() => 0);
        const text = await fetch(`${exporter.url}/metrics`).then((r) => r.text()).catch(() => '');
        const report = nextMessage(gen, (m) => (m as { result?: FloodResult }).result, 30_000);
        gen.send({ report: true });
        const flood = await report;
        const window = await w.end();
        const r: FloodRun = {
          scrape: s,
          window,
          flood,
          open: metric(text, 'workflow_exporter_http_connections'),
          evicted: metric(text, 'workflow_exporter_http_connections_closed_total', '{reason="evicted_idle"}'),
          refused: metric(text, 'workflow_exporter_http_connections_closed_total', '{reason="max_connections"}'),
          healthz: health,
        };
        flooded.push(r);
        if (s.errors > 0) ctx.errors.push(`connection-flood run ${run}: ${s.errors} of ${s.scrapes + 2} scrapes failed under the flood`);
        ctx.log(
          `flood run ${run + 1}/${ctx.runs}: scrape p50 ${s.p50Ms.toFixed(1)} ms p99 ${s.p99Ms.toFixed(1)} ms, ${s.errors} failed, /healthz ${health}, ` +
            `RSS ${window.rssMaxMiB.toFixed(0)} MiB, lag p99 ${window.reading.lagP99Ms.toFixed(1)} ms, exporter holds ${r.open}, client holds ${flood.held}, ${flood.closedByServer} closed by the server`,
        );
      } finally {
        gen.send({ stop: true });
        await stop(gen);
      }
    }
    const failed = flooded.reduce((n, r) => n + r.scrape.errors, 0) + flooded.filter((r) => r.healthz !== 200).length;
    const p99 = stat(flooded.map((r) => r.scrape.p99Ms));
    return {
      scenario: {
        id: 'connection-flood',
        title: '/metrics under a connection flood',
        setup:
          `The exporter with the default connection limits (maxConnections 4096, 64 reserved, timeouts: headers 10 s, request 30 s) holds ${series} series. ` +
          `Quiet: ${count} scrapes every 250 ms, each on a new connection. Flood: another process opens ${idle} idle connections and ${slow} POSTs whose body arrives one byte a second, ` +
          `each opened again 1 s after the server closes it, then the same scrapes run while it holds them; /healthz once at the end.`,
        runs: ctx.runs,
        subjects: [
          {
            id: 'quiet',
            label: 'no flood',
            latencyP50Ms: statJson(quiet.map((r) => r.scrape.p50Ms)),
            latencyP99Ms: statJson(quiet.map((r) => r.scrape.p99Ms)),
            rssMiB: statJson(quiet.map((r) => r.window.rssMaxMiB)),
            lagP99Ms: statJson(quiet.map((r) => r.window.reading.lagP99Ms)),
            lagMaxMs: statJson(quiet.map((r) => r.window.reading.lagMaxMs)),
            extra: { 'failed scrapes': statJson(quiet.map((r) => r.scrape.errors)) },
          },
          {
            id: 'flood',
            label: `${idle} idle + ${slow} slow connections, reopened`,
            latencyP50Ms: statJson(flooded.map((r) => r.scrape.p50Ms)),
            latencyP99Ms: statJson(flooded.map((r) => r.scrape.p99Ms)),
            rssMiB: statJson(flooded.map((r) => r.window.rssMaxMiB)),
            lagP99Ms: statJson(flooded.map((r) => r.window.reading.lagP99Ms)),
            lagMaxMs: statJson(flooded.map((r) => r.window.reading.lagMaxMs)),
            extra: {
              'failed scrapes': statJson(flooded.map((r) => r.scrape.errors)),
              'connections the exporter holds': statJson(flooded.map((r) => r.open)),
              'connections the flood holds': statJson(flooded.map((r) => r.flood.held)),
              'closed by the server per second': statJson(flooded.map((r) => r.flood.closedByServer / Math.max(1, r.window.wallS))),
              'exporter CPU share': statJson(flooded.map((r) => r.window.cpuS / r.window.wallS)),
            },
          },
        ],
        ratios: [],
        notes: [
          'The flood process runs on the same two cores as the exporter and the scraper; its reconnects are part of the load.',
          'Quiet windows after the first follow a flood: their RSS is what the process kept from it, not a baseline.',
          'evicted_idle and max_connections are the exporter\'s own counters (workflow_exporter_http_connections_closed_total), cumulative over the runs.',
          `At the end: evicted_idle ${flooded.at(-1)?.evicted ?? NaN}, max_connections ${flooded.at(-1)?.refused ?? NaN}.`,
        ],
      },
      targets: [
        {
          id: 'connection-flood',
          description: `/metrics and /healthz answer under ${idle} idle + ${slow} slow connections: failed scrapes and health checks`,
          value: failed,
          threshold: 0,
          comparison: '<=',
          unit: '',
          pass: judge(failed, '<=', 0),
          // the quiet windows after the first follow a flood, whose memory the process keeps: the first is the baseline
          detail: `scrape p99 under the flood ${p99.median.toFixed(1)} ms (worst run ${p99.max.toFixed(1)} ms), RSS ${stat(flooded.map((r) => r.window.rssMaxMiB)).median.toFixed(0)} MiB under it, ${(quiet[0]?.window.rssMaxMiB ?? NaN).toFixed(0)} MiB before the first`,
        },
      ],
    };
  } finally {
    for (const s of servers) await stopServer(s);
  }
}
