// npm run bench [-- --quick] [-- --only http-ingest,nats]: runs the scenarios, writes
// bench/results/latest.json and the results block of BENCHMARKS.md (quick runs: results/quick.json).
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, platform, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startNats, startRedis, type Broker } from './lib/brokers.js';
import type { Ctx, Scenario } from './lib/context.js';
import { killAll } from './lib/proc.js';
import { topSelfTime } from './lib/profile.js';
import { readResults, renderMarkdown, resultsSchema, spliceMarkdown, type Results, type ScenarioResult, type TargetResult } from './lib/results.js';
import { ROOT } from './lib/subjects.js';
import { natsIngest, redisIngest } from './scenarios/bus.js';
import { connectionFlood } from './scenarios/flood.js';
import { dedupeCost } from './scenarios/dedupe.js';
import { replicaScaling, replicaScalingSteady } from './scenarios/replicas.js';
import { httpIngest } from './scenarios/http.js';
import { labelFlood } from './scenarios/label-flood.js';
import { mtailPeer } from './scenarios/mtail.js';
import { otlpIngest } from './scenarios/otlp.js';
import { metricsScrape } from './scenarios/scrape.js';
import { coldStart } from './scenarios/startup.js';
import { tailFanOut } from './scenarios/tail.js';

const PROFILE_DIR = join(ROOT, 'bench', 'results', 'profiles');

const SCENARIOS: Record<string, Scenario> = {
  'http-ingest': httpIngest,
  'nats-ingest': natsIngest,
  'redis-ingest': redisIngest,
  'metrics-scrape': metricsScrape,
  'label-flood': labelFlood,
  'mtail-peer': mtailPeer,
  'tail-fanout': tailFanOut,
  'cold-start': coldStart,
  'dedupe-state-cost': dedupeCost,
  'replica-scaling': replicaScaling,
  'replica-scaling-steady': replicaScalingSteady,
  'connection-flood': connectionFlood,
  'otlp-ingest': otlpIngest,
};

function version(pkg: string): string {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean' }, only: { type: 'string' }, runs: { type: 'string' }, profile: { type: 'boolean' }, 'exporter-node-args': { type: 'string' } } });
  const quick = values.quick === true;
  const only = values.only ? values.only.split(',') : Object.keys(SCENARIOS);
  for (const o of only) if (!SCENARIOS[o]) throw new Error(`unknown scenario ${o}; known: ${Object.keys(SCENARIOS).join(', ')}`);
  if (!existsSync(join(ROOT, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: run npm run build first (npm run bench does)');

  const dir = mkdtempSync(join(tmpdir(), 'wfx-bench-'));
  let nats: Promise<Broker> | undefined;
  let redis: Promise<Broker> | undefined;
  const errors: string[] = [];
  const t0 = Date.now();
  const v8Args = values['exporter-node-args']?.split(/\s+/).filter(Boolean) ?? [];
  const ctx: Ctx = {
    quick,
    runs: values.runs ? Number(values.runs) : quick ? 3 : 5,
    warmupS: quick ? 2 : 5,
    measureS: quick ? 3 : 8,
    dir,
    nats: () => (nats ??= startNats(dir)),
    redis: () => (redis ??= startRedis(dir)),
    errors,
    exporterNodeArgs: [...(values.profile ? ['--cpu-prof', '--cpu-prof-dir', PROFILE_DIR] : []), ...v8Args],
    v8Args,
    log: (msg) => process.stderr.write(`[bench +${((Date.now() - t0) / 1000).toFixed(0)}s] ${msg}\n`),
  };

  const loadAvgStart = loadavg();
  const scenarios: ScenarioResult[] = [];
  const targets: TargetResult[] = [];
  try {
    for (const id of only) {
      ctx.log(`scenario ${id}`);
      try {
        const out = await SCENARIOS[id](ctx);
        scenarios.push(out.scenario);
        targets.push(...out.targets);
      } catch (err) {
        errors.push(`${id}: ${(err as Error).stack ?? String(err)}`);
        ctx.log(`scenario ${id} failed: ${(err as Error).message}`);
      }
    }
  } finally {
    for (const b of [nats, redis]) if (b) await (await b.catch(() => undefined))?.close();
    killAll();
    rmSync(dir, { recursive: true, force: true });
  }

  const file = join(ROOT, 'bench', 'results', quick ? 'quick.json' : 'latest.json');
  mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
  // a partial run (--only) replaces its scenarios in the existing file and keeps the rest
  const previous: Results | undefined = values.only && existsSync(file) ? readResults(file) : undefined;
  const cpu = cpus();
  const generatedAt = new Date().toISOString();
  // every scenario and target carries when it was measured; those from before per-scenario dates take the old file's
  const dated = <T extends { ranAt?: string }>(x: T, at: string): T => ({ ...x, ranAt: x.ranAt ?? at });
  // the new ones take the places of the old ones (the document keeps its order); others are appended
  const merge = <T extends { id: string; ranAt?: string }>(old: T[] | undefined, fresh: T[], oldAt: string | undefined): T[] => {
    const byId = new Map(fresh.map((x) => [x.id, x]));
    const out = (old ?? []).map((x) => byId.get(x.id) ?? dated(x, oldAt!));
    for (const x of fresh) if (!old?.some((o) => o.id === x.id)) out.push(x);
    return out;
  };
  const results: Results = resultsSchema.parse({
    schema: 1,
    generatedAt,
    mode: quick ? 'quick' : 'full',
    machine: {
      cpus: cpu.length,
      cpuModel: cpu[0]?.model.trim() ?? 'unknown',
      node: process.version,
      platform: `${platform()} ${release()}`,
      memGiB: Math.round(totalmem() / 2 ** 30),
      loadAvgStart: loadAvgStart.map((v) => Math.round(v * 100) / 100),
      loadAvgEnd: loadavg().map((v) => Math.round(v * 100) / 100),
    },
    versions: { fastify: version('fastify'), 'prom-client': version('prom-client'), zod: version('zod'), '@nats-io/jetstream': version('@nats-io/jetstream'), ioredis: version('ioredis') },
    scenarios: merge(previous?.scenarios, scenarios.map((s) => dated(s, generatedAt)), previous?.generatedAt),
    targets: merge(previous?.targets, targets.map((t) => dated(t, generatedAt)), previous?.generatedAt),
    errors: [...errors],
    ...(values.only ? { partial: only } : {}),
  });
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  const md = renderMarkdown(results);
  if (!quick) {
    const mdFile = join(ROOT, 'BENCHMARKS.md');
    const doc = existsSync(mdFile) ? readFileSync(mdFile, 'utf8') : '# Benchmarks\n';
    writeFileSync(mdFile, spliceMarkdown(doc, md));
  }
  process.stdout.write(`${md}\n\nwrote ${file}${quick ? '' : ' and BENCHMARKS.md'}\n`);
  if (values.profile && existsSync(PROFILE_DIR)) {
    for (const f of readdirSync(PROFILE_DIR).filter((x) => x.endsWith('.cpuprofile'))) {
      process.stdout.write(`\n${join(PROFILE_DIR, f)}: self time\n`);
      for (const l of topSelfTime(join(PROFILE_DIR, f), 30)) process.stdout.write(`${l.percent.toFixed(1).padStart(5)}%  ${l.fn}\n`);
    }
  }
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  killAll();
  process.exit(1);
});
