// A label-product flood: agents × tools of tool.called events, each pair once and each carrying one
// of 100 models and token counts, every per-label cap passed. What /metrics then costs (scrape time and bytes in both formats, /healthz answered during a
// scrape) and the exporter's RSS, with the series budgets at their defaults; and, when BENCH_BEFORE_DIST
// points at a build from before the budgets, the same flood against it.
import { join } from 'node:path';
import type { Ctx, ScenarioOutput } from '../lib/context.js';
import { freePort, rssMiB, rssSampler } from '../lib/proc.js';
import type { SubjectResult } from '../lib/results.js';
import { stat, statJson } from '../lib/stats.js';
import { startExporter, stopServer, type Server } from '../lib/subjects.js';
import { httpExporterConfig } from './http.js';

const PER_REQUEST = 5000;
const MODELS = 100;

interface Scrape {
  ms: number;
  bytes: number;
  series: number;
  /** /healthz asked 5 ms into the scrape: how long it waited */
  healthMs: number;
  /** nodejs_heap_size_used_bytes as the scrape reported it, MiB */
  heapMiB: number;
}

interface Run {
  ingestS: number;
  rssIdleMiB: number;
  rssAfterMiB: number;
  rssPeakMiB: number;
  text: Scrape[];
  openMetrics: Scrape[];
}

async function post(server: Server, lines: string[]): Promise<void> {
  for (let i = 0; i < lines.length; i += PER_REQUEST) {
    const res = await fetch(`${server.url}/api/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: lines.slice(i, i + PER_REQUEST).join('\n') });
    if (res.status !== 202) throw new Error(`flood: HTTP ${res.status} ${(await res.text()).slice(0, 500)}`);
  }
}

async function scrapeOnce(server: Server, openMetrics: boolean): Promise<Scrape> {
  const headers = openMetrics ? { accept: 'application/openmetrics-text; version=1.0.0' } : undefined;
  const t0 = performance.now();
  const body = fetch(`${server.url}/metrics`, { headers }).then((r) => r.text());
  await new Promise((r) => setTimeout(r, 5));
  const h0 = performance.now();
  const health = fetch(`${server.url}/healthz`)
    .then(async (r) => {
      await r.arrayBuffer();
      return performance.now() - h0;
    })
    .catch(() => NaN);
  const text = await body.catch(async (err: Error) => {
    await health;
    throw new Error(`scrape of ${server.id} failed after ${((performance.now() - t0) / 1000).toFixed(1)} s: ${err.message} (${String((err.cause as Error | undefined)?.message ?? '')}); exporter log: ${server.log.join('').slice(-1500)}`);
  });
  const ms = performance.now() - t0;
  let series = 0;
  for (let i = text.indexOf('\n'), from = 0; i >= 0; from = i + 1, i = text.indexOf('\n', from)) if (text.charCodeAt(from) !== 35 /* # */ && i > from) series++;
  const heap = /^nodejs_heap_size_used_bytes (\S+)$/m.exec(text);
  return { ms, bytes: Buffer.byteLength(text), series, healthMs: await health, heapMiB: heap ? Number(heap[1]) / 2 ** 20 : NaN };
}

async function floodRun(ctx: Ctx, id: string, agents: number, tools: number, dist: string | undefined, scrapes: number): Promise<Run> {
  const server = await startExporter(id, httpExporterConfig(), ctx.dir, await freePort(), ctx.exporterNodeArgs, dist);
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const rssIdleMiB = rssMiB(server.pid);
    const peak = rssSampler(server.pid);
    const now = new Date().toISOString();
    const t0 = performance.now();
    for (let a = 0; a < agents; a++) {
      const lines: string[] = [];
      for (let k = 0; k < tools; k++) {
        // agent × tool for the tool metrics, agent × model for tokens and cost: more series than the cap on all
        lines.push(JSON.stringify({ id: `fl-${a}-${k}`, type: 'tool.called', time: now, source: 'gw', agent: `agent-${a}`, tool: `tool-${k}`, model: `model-${k % MODELS}`, tokens_in: 100, tokens_out: 20, cost_usd: 0.001, duration_ms: 120 }));
      }
      await post(server, lines);
    }
    const ingestS = (performance.now() - t0) / 1000;
    const text: Scrape[] = [];
    const openMetrics: Scrape[] = [];
    for (let i = 0; i < scrapes; i++) {
      text.push(await scrapeOnce(server, false));
      openMetrics.push(await scrapeOnce(server, true));
    }
    const rssPeakMiB = peak.stop();
    const run = { ingestS, rssIdleMiB, rssAfterMiB: rssMiB(server.pid), rssPeakMiB, text, openMetrics };
    ctx.log(
      `flood ${id}: ${agents}×${tools} in ${ingestS.toFixed(1)} s; text scrape ${stat(text.map((s) => s.ms)).median.toFixed(0)} ms, ${text[0].series} series, ${(text[0].bytes / 2 ** 20).toFixed(1)} MiB; OpenMetrics ${stat(openMetrics.map((s) => s.ms)).median.toFixed(0)} ms; /healthz during a scrape ${stat(text.map((s) => s.healthMs)).max.toFixed(0)} ms; RSS ${rssIdleMiB.toFixed(0)} -> ${run.rssAfterMiB.toFixed(0)} MiB (peak ${rssPeakMiB.toFixed(0)})`,
    );
    return run;
  } finally {
    await stopServer(server);
  }
}

function subject(id: string, label: string, runs: Run[]): SubjectResult {
  const all = (f: (r: Run) => Scrape[], g: (s: Scrape) => number) => runs.flatMap((r) => f(r).map(g));
  return {
    id,
    label,
    latencyP50Ms: statJson(all((r) => r.text, (s) => s.ms)),
    rssMiB: statJson(runs.map((r) => r.rssPeakMiB)),
    extra: {
      'series on /metrics': statJson(all((r) => r.text, (s) => s.series)),
      'MiB per scrape (text)': statJson(all((r) => r.text, (s) => s.bytes / 2 ** 20)),
      'OpenMetrics scrape ms': statJson(all((r) => r.openMetrics, (s) => s.ms)),
      '/healthz during a scrape, ms': statJson(all((r) => [...r.text, ...r.openMetrics], (s) => s.healthMs)),
      'heap used MiB (at the scrapes)': statJson(all((r) => r.text, (s) => s.heapMiB)),
      'RSS idle MiB': statJson(runs.map((r) => r.rssIdleMiB)),
      'RSS after the flood MiB': statJson(runs.map((r) => r.rssAfterMiB)),
      'flood ingest s': statJson(runs.map((r) => r.ingestS)),
    },
  };
}

export async function labelFlood(ctx: Ctx): Promise<ScenarioOutput> {
  const agents = ctx.quick ? 200 : 500;
  const tools = agents;
  const scrapes = 3;
  const before = process.env.BENCH_BEFORE_DIST;
  const runs = ctx.quick ? 1 : Math.min(ctx.runs, 3);
  const after: Run[] = [];
  const old: Run[] = [];
  for (let run = 0; run < runs; run++) {
    after.push(await floodRun(ctx, `flood-budgets-${run}`, agents, tools, undefined, scrapes));
    // the build without budgets holds every combination: one run is minutes of scraping already
    if (before && run === 0) old.push(await floodRun(ctx, 'flood-before', agents, tools, join(before), scrapes));
  }
  const subjects = [subject('budgets', 'series budgets at their defaults', after)];
  if (old.length > 0) subjects.push(subject('before', 'the build before series budgets (BENCH_BEFORE_DIST)', old));
  const worst = stat(after.flatMap((r) => [...r.text, ...r.openMetrics].map((s) => s.ms))).max;
  return {
    scenario: {
      id: 'label-flood',
      title: `Label-product flood: ${agents} agents × ${tools} tools`,
      setup: `${agents * tools} tool.called events, one per agent and tool pair, each with one of ${MODELS} models, token counts and a cost (agent × tool for the tool metrics, agent × model for tokens and cost; each label under its cap of 500), posted as NDJSON in requests of ${PER_REQUEST} to a fresh exporter with default config; then ${scrapes} scrapes in each format, /healthz asked 5 ms into each; RSS from /proc (peak sampled every 250 ms);`,
      runs,
      subjects,
      ratios: [],
      notes: ['p50 column: Prometheus-text scrape time; RSS column: peak over flood and scrapes.'],
    },
    targets: [
      {
        id: 'flood-scrape',
        description: 'label-product flood: every scrape (text and OpenMetrics) under 1 s with series budgets at their defaults',
        value: Number.isFinite(worst) ? worst : null,
        threshold: 1000,
        comparison: '<',
        unit: 'ms',
        pass: Number.isFinite(worst) ? worst < 1000 : null,
        detail: `slowest of ${after.length * scrapes * 2} scrapes; ${after[0]?.text[0]?.series ?? 0} series`,
      },
    ],
  };
}
