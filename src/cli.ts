#!/usr/bin/env -S node --max-semi-space-size=8 --heap-growing-percent=30 --no-allocation-site-pretenuring
// workflow-exporter: serve | check-config | replay | simulate | generate
import { parseArgs } from 'node:util';
import { createApp } from './app.js';
import { loadConfig } from './config/load.js';
import type { Config } from './config/schema.js';
import { ConfigError, SourceError } from './errors.js';
import type { FileSource } from './sources/file/file.js';

const USAGE = `workflow-exporter — Prometheus exporter for workflow and multi-agent platforms

Usage:
  workflow-exporter [serve] [--config FILE] [--port N] [--host H] [--demo | --no-demo] [--log-level L]
                          [--otlp-endpoint URL]   push metrics and batch traces over OTLP/HTTP
  workflow-exporter check-config FILE
  workflow-exporter replay FILE [--config FILE] [--serve] [--no-progress]
  workflow-exporter simulate --to nats|redis|http|otlp [--rate N] [--duration S] [--url U]
                             [--subject S] [--stream NAME] [--key K] [--seed N] [--time-scale X]
  workflow-exporter generate [--out DIR] [--config FILE]

Every config option can also be set with WFX_* environment variables
(WFX_PORT, WFX_HOST, WFX_DEMO, WFX_LOG_LEVEL, or WFX_SECTION__FIELD such as WFX_STATE__BACKEND=redis).`;

function fail(err: unknown): never {
  if (err instanceof ConfigError) {
    process.stderr.write(`config error: ${err.message}\n`);
    for (const i of err.issues) process.stderr.write(`  ${i.path}: ${i.message}\n`);
    process.exit(2);
  }
  if (err instanceof SourceError) {
    process.stderr.write(`source error: ${err.message}\n`);
    process.exit(1);
  }
  process.stderr.write(`error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
}

function num(v: string | undefined, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new ConfigError(`--${flag}: ${JSON.stringify(v)} is not a number`, [{ path: flag, message: 'not a number' }]);
  return n;
}

async function serve(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string', short: 'c' },
      port: { type: 'string', short: 'p' },
      host: { type: 'string' },
      demo: { type: 'boolean' },
      'no-demo': { type: 'boolean' },
      'log-level': { type: 'string' },
      'otlp-endpoint': { type: 'string' },
    },
    allowPositionals: false,
  });
  const overrides: Record<string, unknown> = {
    'server.port': num(values.port, 'port'),
    'server.host': values.host,
    'log.level': values['log-level'],
    'otlp.endpoint': values['otlp-endpoint'],
    demo: values['no-demo'] ? false : values.demo ? true : undefined,
  };
  const config = loadConfig({ file: values.config, env: process.env, overrides });
  await run(config);
}

async function run(config: Config, opts: { keepAlive?: boolean } = {}): Promise<ReturnType<typeof createApp>> {
  const app = createApp(config);
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    app.logger.info({ signal }, 'shutting down: draining sources and in-flight batches');
    const timer = setTimeout(() => {
      app.logger.error({ timeoutMs: config.server.shutdownTimeoutMs }, 'shutdown timed out; exiting');
      process.exit(1);
    }, config.server.shutdownTimeoutMs);
    timer.unref();
    try {
      await app.close();
      // what this process handled in its life: the counters die with it, so the last log line keeps them
      const total = async (m: { get(): Promise<{ values: { value: number }[] }> }) => (await m.get()).values.reduce((s, v) => s + v.value, 0);
      app.logger.info(
        { received: await total(app.metrics.received), accepted: await total(app.metrics.eventsTotal), rejected: await total(app.metrics.rejected) },
        'shutdown complete',
      );
      process.exit(0);
    } catch (err) {
      app.logger.error({ err }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  try {
    await app.start();
  } catch (err) {
    app.logger.fatal({ err }, 'start failed');
    await app.close().catch(() => {});
    throw err;
  }
  if (opts.keepAlive !== false) {
    const address = await app.server.listen({ port: config.server.port, host: config.server.host });
    app.logger.info({ address, sources: app.sources.map((s) => `${s.name}:${s.kind}`) }, `workflow-exporter listening on ${address}`);
  }
  return app;
}

function checkConfig(args: string[]): void {
  const { positionals, values } = parseArgs({ args, options: { config: { type: 'string', short: 'c' } }, allowPositionals: true });
  const file = positionals[0] ?? values.config;
  if (!file) throw new ConfigError('check-config needs a FILE', [{ path: '(args)', message: 'missing FILE' }]);
  const config = loadConfig({ file, env: process.env });
  // building the app resolves cross-field rules (duplicate names, dead-letter outputs) without connecting
  const app = createApp(config);
  void app.store.close();
  process.stdout.write(`${file}: ok (${app.sources.map((s) => `${s.name}:${s.kind}`).join(', ')})\n`);
}

async function replay(args: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args,
    options: { config: { type: 'string', short: 'c' }, serve: { type: 'boolean' }, 'no-progress': { type: 'boolean' }, port: { type: 'string' } },
    allowPositionals: true,
  });
  const path = positionals[0];
  if (!path) throw new ConfigError('replay needs a FILE', [{ path: '(args)', message: 'missing FILE' }]);
  const progress = !values['no-progress'] && process.stderr.isTTY === true;
  const config = loadConfig({
    file: values.config,
    env: process.env,
    overrides: {
      sources: [{ kind: 'file', path, progress }],
      demo: false,
      http: values.serve === true,
      'server.port': num(values.port, 'port'),
      'log.level': values.serve ? undefined : 'warn',
    },
  });
  const app = await run(config, { keepAlive: values.serve === true });
  const totals = await app.source<FileSource>('file')!.done();
  process.stderr.write(`replayed ${totals.lines} lines: ${totals.accepted} accepted, ${totals.rejected} rejected\n`);
  if (!values.serve) {
    process.stdout.write(await app.registry.metrics());
    await app.close();
    process.exit(totals.rejected > 0 && totals.accepted === 0 ? 1 : 0);
  }
}

async function simulateCmd(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      to: { type: 'string' },
      rate: { type: 'string', default: '100' },
      duration: { type: 'string', default: '10' },
      url: { type: 'string' },
      subject: { type: 'string', default: 'workflow.events' },
      stream: { type: 'string', default: 'WORKFLOW_EVENTS' },
      key: { type: 'string', default: 'workflow:events' },
      seed: { type: 'string' },
      'time-scale': { type: 'string', default: '1' },
      'no-progress': { type: 'boolean' },
    },
  });
  const to = values.to;
  if (to !== 'nats' && to !== 'redis' && to !== 'http' && to !== 'otlp') throw new ConfigError('--to must be nats, redis, http or otlp', [{ path: 'to', message: 'invalid' }]);
  const rate = num(values.rate, 'rate')!;
  const durationS = num(values.duration, 'duration')!;
  // loaded for this command only: it brings the NATS and Redis clients, which `serve` loads on demand
  const { httpPublisher, natsPublisher, redisPublisher, simulate } = await import('./sources/demo/simulate.js');
  const publisher =
    to === 'nats'
      ? await natsPublisher(values.url ?? 'nats://127.0.0.1:4222', values.stream!, values.subject!)
      : to === 'redis'
        ? await redisPublisher(values.url ?? 'redis://127.0.0.1:6379', values.key!)
        : to === 'otlp'
          ? // the demo's events as GenAI spans (sources/otlp/from-events.ts) to an otlp source
            (await import('./sources/otlp/from-events.js')).otlpPublisher(values.url ?? 'http://127.0.0.1:9477/v1/traces')
          : httpPublisher(values.url ?? 'http://127.0.0.1:9477/api/events');
  const res = await simulate(
    { to, rate, durationS, seed: num(values.seed, 'seed'), timeScale: num(values['time-scale'], 'time-scale'), progress: !values['no-progress'] && process.stderr.isTTY === true },
    publisher,
  );
  process.stderr.write(`sent ${res.sent} events to ${to} in ${res.seconds.toFixed(1)} s (${Math.round(res.sent / res.seconds)}/s), ${res.errors} failed publishes\n`);
  process.exit(res.errors > 0 ? 1 : 0);
}

async function main(argv: string[]): Promise<void> {
  const [first, ...rest] = argv;
  if (first === '--help' || first === '-h' || first === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  if (first === undefined || first.startsWith('-')) return serve(argv);
  switch (first) {
    case 'serve':
      return serve(rest);
    case 'check-config':
      return checkConfig(rest);
    case 'replay':
      return replay(rest);
    case 'simulate':
      return simulateCmd(rest);
    case 'generate': {
      const mod = await import('./ascode/cli.js');
      return mod.generateCommand(rest);
    }
    default:
      process.stderr.write(`unknown command ${first}\n\n${USAGE}\n`);
      process.exit(2);
  }
}

main(process.argv.slice(2)).catch(fail);
