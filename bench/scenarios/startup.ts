// Cold start: spawn the exporter process and time it until /readyz answers 200, with the default
// HTTP-only config and with a NATS and a Redis source (which connect and attach before ready).
import type { Ctx, ScenarioOutput } from '../lib/context.js';
import { freePort, rssMiB, sleep } from '../lib/proc.js';
import { judge } from '../lib/results.js';
import { stat, statJson } from '../lib/stats.js';
import { startExporter, stopServer } from '../lib/subjects.js';
import { httpExporterConfig } from './http.js';

export async function coldStart(ctx: Ctx): Promise<ScenarioOutput> {
  const nats = await ctx.nats();
  const redis = await ctx.redis();
  const configs: { id: string; label: string; config: Record<string, unknown> }[] = [
    { id: 'http', label: 'default config (HTTP ingest, tail, no demo)', config: httpExporterConfig() },
    {
      id: 'bus',
      label: 'with a NATS JetStream and a Redis Streams source',
      config: {
        ...httpExporterConfig(),
        sources: [
          { kind: 'nats-jetstream', servers: [nats.url], streams: [{ stream: 'BENCH_START', subjects: ['bench.start.>'], durable: 'start' }], create: true },
          { kind: 'redis-streams', url: redis.url, keys: ['bench:start'], group: 'start', consumer: 'c1' },
        ],
      },
    },
  ];
  const n = ctx.quick ? 5 : 10;
  const starts: Record<string, number[]> = { http: [], bus: [] };
  const rss: Record<string, number[]> = { http: [], bus: [] };
  for (let i = 0; i < n; i++) {
    for (const c of configs) {
      const s = await startExporter(`start-${c.id}`, c.config, ctx.dir, await freePort(), ctx.exporterNodeArgs);
      starts[c.id].push(s.startMs);
      await sleep(300);
      rss[c.id].push(rssMiB(s.pid));
      await stopServer(s);
    }
  }
  ctx.log(`cold start: http ${stat(starts.http).median.toFixed(0)} ms, bus ${stat(starts.bus).median.toFixed(0)} ms`);
  const worst = Math.max(stat(starts.http).median, stat(starts.bus).median);
  return {
    scenario: {
      id: 'cold-start',
      title: 'Cold start to ready',
      setup: `node dist/cli.js serve --config FILE spawned ${n} times per config; time from spawn to the first 200 from GET /readyz (polled every 5 ms); RSS 300 ms after ready;`,
      runs: n,
      subjects: configs.map((c) => ({ id: c.id, label: c.label, rssMiB: statJson(rss[c.id]), extra: { 'start to ready ms': statJson(starts[c.id]) } })),
      ratios: [],
      notes: [],
    },
    targets: [
      {
        id: 'cold-start',
        description: 'cold start to ready < 1 s',
        value: Number.isFinite(worst) ? worst : null,
        threshold: 1000,
        comparison: '<',
        unit: 'ms',
        pass: judge(worst, '<', 1000),
        detail: `median ${stat(starts.http).median.toFixed(0)} ms with the default config, ${stat(starts.bus).median.toFixed(0)} ms with NATS and Redis sources (the larger is the figure)`,
      },
    ],
  };
}
