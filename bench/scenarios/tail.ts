// Live-tail fan-out: 100 and 1,000 WebSocket clients (a quarter unfiltered, the rest one workflow
// type each) while 2,000 events/s come in over HTTP; publish->receive latency, completeness, and the
// same with one client that never reads. Also the exporter's RSS with 1,000 clients and 10k series.
import { join } from 'node:path';
import type { Ctx, ScenarioOutput } from '../lib/context.js';
import { httpLoad, type LoadRun } from '../lib/measure.js';
import { cpuSeconds, freePort, nextMessage, sleep, start, stop } from '../lib/proc.js';
import { judge, type TargetResult } from '../lib/results.js';
import { stat, statJson } from '../lib/stats.js';
import { BUILD, startExporter, stopServer, type Server } from '../lib/subjects.js';
import type { TailClientsOptions, TailClientsResult } from '../load/tail-clients.js';
import { httpExporterConfig } from './http.js';
import { seedSeries } from './scrape.js';

const RATE = 2000; // events per second in
const PER_BODY = 40; // four 10-event runs: one of each workflow type per body
const WORKFLOW_TYPES = ['feature-dev', 'bug-fix', 'code-review', 'release'];

interface Config {
  id: string;
  clients: number;
  stuck: number;
}
const CONFIGS: Config[] = [
  { id: 'tail-100', clients: 100, stuck: 0 },
  { id: 'tail-100-stuck', clients: 100, stuck: 1 },
  { id: 'tail-1000', clients: 1000, stuck: 0 },
  { id: 'tail-1000-stuck', clients: 1000, stuck: 1 },
];

interface TailRun {
  load: LoadRun;
  clients: TailClientsResult;
  clientCpuPct: number;
  /** readers that got fewer events than their filter matched */
  incomplete: number;
  sent: number;
}

async function tailRun(ctx: Ctx, exporter: Server, cfg: Config, seqBase: number): Promise<TailRun> {
  const opts: TailClientsOptions = { url: `${exporter.url.replace('http', 'ws')}/ws/events`, clients: cfg.clients, stuck: cfg.stuck, workflowTypes: WORKFLOW_TYPES };
  const log: string[] = [];
  const proc = start(process.execPath, [join(BUILD, 'load', 'tail-clients.js'), JSON.stringify(opts)], { name: 'tail-clients', logTo: log });
  try {
    await nextMessage(
      proc,
      (m) => {
        const x = m as { ready?: number; failed?: string };
        if (x.failed) throw new Error(`tail clients: ${x.failed}`);
        return x.ready;
      },
      120_000,
    );
    let cpu0 = 0;
    const load = await httpLoad(exporter, { perBody: PER_BODY, concurrency: 8, rate: RATE, stamp: true, warmupS: ctx.quick ? 2 : 3, measureS: ctx.measureS, seqBase }, () => {
      cpu0 = cpuSeconds(proc.pid!);
      proc.send({ cmd: 'start' });
    });
    const clientCpuPct = ((cpuSeconds(proc.pid!) - cpu0) * 100) / load.window.wallS;
    await sleep(1000); // the last batches leave within a flush interval or two
    const result = nextMessage(proc, (m) => (m as { result?: TailClientsResult }).result, 30_000);
    proc.send({ cmd: 'stop' });
    const clients = await result;
    // every reader must have every event its filter matched: a quarter of the events per type
    const sent = load.load.totalEvents;
    let incomplete = 0;
    for (const c of clients.perClient) {
      const expected = c.filter === '{}' ? sent : sent / WORKFLOW_TYPES.length;
      if (c.events < expected) incomplete++;
    }
    return { load, clients, clientCpuPct, incomplete, sent };
  } finally {
    await stop(proc);
  }
}

export async function tailFanOut(ctx: Ctx): Promise<ScenarioOutput> {
  // 1,000 clients plus the stuck one fit the default maxClients (1,000) only as "among them"
  const exporter = await startExporter('tail-exporter', httpExporterConfig(), ctx.dir, await freePort(), ctx.exporterNodeArgs);
  const results = new Map<string, TailRun[]>(CONFIGS.map((c) => [c.id, []]));
  let series = 0;
  try {
    series = await seedSeries(exporter);
    let seq = 100_000_000;
    for (let run = 0; run < ctx.runs; run++) {
      // the exporter lives through every run and its heap grows with them: on every other run the
      // stuck variant goes first, so it is not always the one measured on the older process
      const order = run % 2 === 0 ? CONFIGS : CONFIGS.flatMap((c, i) => (i % 2 === 0 ? [CONFIGS[i + 1], c] : []));
      for (const cfg of order) {
        const r = await tailRun(ctx, exporter, cfg, (seq += 1_000_000));
        results.get(cfg.id)!.push(r);
        if (r.load.load.errors > 0) ctx.errors.push(`${cfg.id} run ${run}: ${r.load.load.errors} failed posts: ${r.load.load.firstError}`);
        ctx.log(
          `${cfg.id} run ${run + 1}/${ctx.runs}: p50 ${r.clients.latencyP50Ms.toFixed(1)} ms, p99 ${r.clients.latencyP99Ms.toFixed(1)} ms, ` +
            `${Math.round(r.clients.delivered / r.load.window.wallS)} deliveries/s, incomplete ${r.incomplete}, dropped ${r.clients.droppedReaders}/${r.clients.droppedStuck}, ` +
            `RSS ${Math.round(r.load.window.rssMaxMiB)} MiB, clients CPU ${Math.round(r.clientCpuPct)}%`,
        );
      }
    }
  } finally {
    await stopServer(exporter);
  }
  const p99 = (id: string) => results.get(id)!.map((r) => r.clients.latencyP99Ms);
  const subject = (cfg: Config) => {
    const rs = results.get(cfg.id)!;
    return {
      id: cfg.id,
      label: `${cfg.clients} clients${cfg.stuck ? ` (one never reads)` : ''}`,
      eventsPerSec: statJson(rs.map((r) => r.load.load.eventsPerSec)),
      latencyP50Ms: statJson(rs.map((r) => r.clients.latencyP50Ms)),
      latencyP99Ms: statJson(rs.map((r) => r.clients.latencyP99Ms)),
      rssMiB: statJson(rs.map((r) => r.load.window.rssMaxMiB)),
      lagP99Ms: statJson(rs.map((r) => r.load.window.reading.lagP99Ms)),
      lagMaxMs: statJson(rs.map((r) => r.load.window.reading.lagMaxMs)),
      extra: {
        'deliveries/s': statJson(rs.map((r) => r.clients.delivered / r.load.window.wallS)),
        'exporter CPU %': statJson(rs.map((r) => (100 * r.load.window.cpuS) / r.load.window.wallS)),
        'clients CPU %': statJson(rs.map((r) => r.clientCpuPct)),
        'incomplete readers': statJson(rs.map((r) => r.incomplete)),
        'dropped for readers': statJson(rs.map((r) => r.clients.droppedReaders)),
        'dropped for the stuck one': statJson(rs.map((r) => r.clients.droppedStuck)),
      },
    };
  };
  const target = (id: string, desc: string, threshold: number, base: string): TargetResult => {
    const s = stat(p99(id));
    const value = Number.isFinite(s.median) ? s.median : null;
    const inc = results.get(id)!.reduce((n, r) => n + r.incomplete, 0);
    const ok = judge(value, '<', threshold);
    return {
      id,
      description: desc,
      value,
      threshold,
      comparison: '<',
      unit: 'ms',
      pass: ok === null ? null : ok && inc === 0,
      detail: `${base}; ${inc === 0 ? 'every reader got every matching event' : `${inc} reader-runs missed events`}`,
    };
  };
  const change = (a: string, b: string) => {
    const x = stat(p99(a)).median;
    const y = stat(p99(b)).median;
    return Math.abs(y - x) / x;
  };
  const stuck100 = change('tail-100', 'tail-100-stuck');
  const stuck1000 = change('tail-1000', 'tail-1000-stuck');
  const stuckValue = Number.isFinite(Math.max(stuck100, stuck1000)) ? Math.max(stuck100, stuck1000) * 100 : null;
  const rss = stat(results.get('tail-1000')!.concat(results.get('tail-1000-stuck')!).map((r) => r.load.window.rssMaxMiB));
  return {
    scenario: {
      id: 'tail-fanout',
      title: 'Live tail fan-out over WebSocket',
      setup:
        `${RATE} events/s posted over HTTP (${PER_BODY} per body, each event stamped with its send time), exporter holding ${series} series; clients in one separate process, ` +
        `a quarter unfiltered, the rest subscribed to one of ${WORKFLOW_TYPES.length} workflow types; latency = client receive time minus the load generator's send time, over every event every reader received in the window. ` +
        `Completeness: after the run, each reader's count is checked against what its filter matched;`,
      runs: ctx.runs,
      subjects: CONFIGS.map(subject),
      ratios: [],
      notes: [`p99 change from one never-reading client: ${(stuck100 * 100).toFixed(1)}% at 100 clients, ${(stuck1000 * 100).toFixed(1)}% at 1,000 clients.`],
    },
    targets: [
      target('tail-1000', '1,000 WebSocket clients at 2,000 events/s: p99 publish→receive < 60 ms, every event delivered', 60, `p50 ${stat(results.get('tail-1000')!.map((r) => r.clients.latencyP50Ms)).median.toFixed(1)} ms`),
      target('tail-100', '100 WebSocket clients at 2,000 events/s: p99 < 30 ms', 30, `p50 ${stat(results.get('tail-100')!.map((r) => r.clients.latencyP50Ms)).median.toFixed(1)} ms`),
      {
        id: 'tail-stuck',
        description: 'one never-reading client changes neither p99 by more than 10%',
        value: stuckValue,
        threshold: 10,
        comparison: '<=',
        unit: '%',
        pass: judge(stuckValue, '<=', 10),
        detail: `${(stuck100 * 100).toFixed(1)}% at 100 clients, ${(stuck1000 * 100).toFixed(1)}% at 1,000`,
      },
      {
        id: 'rss-1000-clients',
        description: 'RSS < 256 MiB with 1,000 tail clients and 10k series',
        value: Number.isFinite(rss.max) ? rss.max : null,
        threshold: 256,
        comparison: '<',
        unit: 'MiB',
        pass: judge(rss.max, '<', 256),
        detail: `largest RSS sampled during the 1,000-client runs (median ${rss.median.toFixed(0)} MiB), ${series} series`,
      },
    ],
  };
}
