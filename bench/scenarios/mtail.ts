// The peer: mtail (the Debian package) tailing the same events written as log lines, turning them
// into the same counters and a histogram (bench/peer/events.mtail), measured in the same rounds as
// the exporter's HTTP ingest. mtail's rate is taken from its own mtail_lines_total counter.
import { execFileSync } from 'node:child_process';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Ctx, ScenarioOutput } from '../lib/context.js';
import { logLines } from '../lib/events.js';
import { httpLoad, type LoadRun } from '../lib/measure.js';
import { cpuSeconds, freePort, rssSampler, sleep, start, stop, until } from '../lib/proc.js';
import { judge } from '../lib/results.js';
import { ratios, stat, statJson } from '../lib/stats.js';
import { ROOT, startExporter, stopServer } from '../lib/subjects.js';
import { CONCURRENCY, httpExporterConfig, PER_BODY, subjectFrom } from './http.js';

interface MtailRun {
  eventsPerSec: number;
  eventsPerCpuSec: number;
  rssMiB: number;
}

function mtailVersion(): string | undefined {
  try {
    return execFileSync('mtail', ['--version'], { encoding: 'utf8' }).split('\n')[0].trim();
  } catch {
    return undefined;
  }
}

async function linesRead(url: string): Promise<number> {
  try {
    const text = await (await fetch(url)).text();
    const m = text.match(/^mtail_lines_total (\S+)$/m);
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

export async function mtailPeer(ctx: Ctx): Promise<ScenarioOutput> {
  const version = mtailVersion();
  if (!version) {
    return {
      scenario: { id: 'mtail-peer', title: 'Peer: mtail on the same events', setup: 'mtail is not installed (Debian: apt-get install -y mtail).', runs: 1, subjects: [{ id: 'mtail', label: 'mtail (not installed)' }], ratios: [], notes: [] },
      targets: [{ id: 'mtail-peer', description: 'events/s ≥ 5× mtail on the same events', value: null, threshold: 5, comparison: '>=', unit: '×', pass: null, detail: 'mtail not installed' }],
    };
  }
  const warm = ctx.quick ? 50_000 : 100_000;
  const perRun = ctx.quick ? 200_000 : 500_000;
  // the same block of lines is appended for every run: mtail keeps no per-id state
  const lines = logLines(Math.max(warm, perRun), new Date().toISOString());
  const log = join(ctx.dir, 'events.log');
  writeFileSync(log, '');
  const port = await freePort();
  const mlog: string[] = [];
  const mtail = start('mtail', ['--progs', join(ROOT, 'bench', 'peer', 'events.mtail'), '--logs', log, '--port', String(port), '--address', '127.0.0.1', '--logtostderr'], {
    name: 'mtail',
    logTo: mlog,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const metricsUrl = `http://127.0.0.1:${port}/metrics`;
  const exporter = await startExporter('mtail-exporter', httpExporterConfig(), ctx.dir, await freePort(), ctx.exporterNodeArgs);
  const mt: MtailRun[] = [];
  const ex: LoadRun[] = [];
  try {
    await until('mtail listening', async () => ((await fetch(metricsUrl).then((r) => r.ok).catch(() => false)) ? true : undefined), 30_000, 50);
    // mtail notices a file's growth by polling or inotify; give it the file before the first lines
    await sleep(500);
    const append = (from: number, to: number) => appendFileSync(log, `${lines.slice(from, to).join('\n')}\n`);
    append(0, warm);
    await until('mtail warm-up lines', async () => ((await linesRead(metricsUrl)) >= warm ? true : undefined), 120_000, 50);
    await httpLoad(exporter, { perBody: PER_BODY, concurrency: CONCURRENCY, warmupS: ctx.warmupS, measureS: 1, seqBase: 50_000_000 });
    let seq = 60_000_000;
    for (let run = 0; run < ctx.runs; run++) {
      const target = warm + (run + 1) * perRun;
      const cpu0 = cpuSeconds(mtail.pid!);
      const rss = rssSampler(mtail.pid!);
      const t0 = performance.now();
      append(0, perRun);
      await until(`mtail reading ${perRun} lines`, async () => ((await linesRead(metricsUrl)) >= target ? true : undefined), 300_000, 20);
      const wall = (performance.now() - t0) / 1000;
      const cpu = cpuSeconds(mtail.pid!) - cpu0;
      mt.push({ eventsPerSec: perRun / wall, eventsPerCpuSec: perRun / cpu, rssMiB: rss.stop() });
      ctx.log(`mtail run ${run + 1}/${ctx.runs}: ${Math.round(perRun / wall)} lines/s, ${Math.round(perRun / cpu)} lines/CPU-s`);
      const r = await httpLoad(exporter, { perBody: PER_BODY, concurrency: CONCURRENCY, warmupS: 1, measureS: ctx.measureS, seqBase: (seq += 1_000_000) });
      ex.push(r);
      ctx.log(`mtail run ${run + 1}/${ctx.runs} exporter: ${Math.round(r.load.eventsPerSec)} ev/s`);
    }
  } finally {
    await stopServer(exporter);
    await stop(mtail);
  }
  const exEps = ex.map((r) => r.load.eventsPerSec);
  const r = ratios(exEps, mt.map((x) => x.eventsPerSec));
  const value = Number.isFinite(r.median) ? r.median : null;
  return {
    scenario: {
      id: 'mtail-peer',
      title: 'Peer: mtail on the same events',
      setup:
        `${version}, daemon mode tailing a file, program bench/peer/events.mtail (events by source and type, runs started and finished, tasks, task-duration histogram, agent last seen); ` +
        `${perRun} log lines appended at once per run (after ${warm} warm-up lines), rate from mtail_lines_total polled every 20 ms. ` +
        `Exporter: the HTTP ingest of the http scenario (${PER_BODY} events per body, ${CONCURRENCY} connections), measured in the same rounds;`,
      runs: ctx.runs,
      subjects: [
        subjectFrom('exporter', 'exporter (HTTP NDJSON ingest)', ex),
        {
          id: 'mtail',
          label: 'mtail (file tail, regex program)',
          eventsPerSec: statJson(mt.map((x) => x.eventsPerSec)),
          eventsPerCpuSec: statJson(mt.map((x) => x.eventsPerCpuSec)),
          rssMiB: statJson(mt.map((x) => x.rssMiB)),
        },
      ],
      ratios: [
        { name: 'exporter / mtail', metric: 'events/s', of: 'exporter', to: 'mtail', value: statJson(r.values) },
        { name: 'exporter / mtail', metric: 'events/CPU-s', of: 'exporter', to: 'mtail', value: statJson(ratios(ex.map((x) => x.load.events / x.window.cpuS), mt.map((x) => x.eventsPerCpuSec)).values) },
      ],
      notes: ['mtail is multi-threaded (Go): its CPU-seconds can exceed its wall seconds; the exporter is one Node.js thread plus GC helpers.'],
    },
    targets: [
      {
        id: 'mtail-peer',
        description: 'events/s ≥ 5× mtail on the same events',
        value,
        threshold: 5,
        comparison: '>=',
        unit: '×',
        pass: judge(value, '>=', 5),
        detail: `exporter ${Math.round(stat(exEps).median)} events/s (HTTP) vs mtail ${Math.round(stat(mt.map((x) => x.eventsPerSec)).median)} lines/s`,
      },
    ],
  };
}
