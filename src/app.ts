// createApp(config) builds the pipeline, its sources and sinks, and the HTTP server; it never listens.
// It reads as its build steps, in order: core (metrics, state, pipeline and the metric sinks), sources
// (with their dead-letter outputs and the control bus), tail (the live tail and its follower), server
// (plugins and routes), then start and close.
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config, SourceConfig, SourceKind } from './config/schema.js';
import { ConfigError, REJECT_REASONS } from './errors.js';
import type { ControlBus } from './control/command.js';
import { createControlBus } from './control/index.js';
import type { Otel } from './otel/index.js';
import { EventAccounting, OrderedLifecycleStore } from './pipeline/accounting.js';
import { CardinalityGuard, OVERFLOW_KINDS } from './metrics/guard.js';
import { Pipeline } from './pipeline/pipeline.js';
import { compileRedaction } from './pipeline/redact.js';
import { tailCopy } from './sinks/tail/history.js';
import type { Source } from './pipeline/types.js';
import { healthPlugin, readiness } from './server/health.js';
import { deadLettersPlugin } from './server/dead-letters.js';
import { metricsPlugin } from './server/metrics.js';
import { eventsApiPlugin } from './server/api-events.js';
import { exportApiPlugin } from './server/api-export.js';
import { snapshotApiPlugin } from './server/api-snapshot.js';
import { sseApiPlugin } from './server/api-sse.js';
import { AuditLog, auditPlugin } from './server/audit.js';
import { Auth, authPlugin, selectProtocol, stripQueryToken } from './server/auth.js';
import { clientErrorHandler } from './server/client-errors.js';
import { MAX_ID } from './events/schema.js';
import { guardConnections, serverTimeouts } from './server/connections.js';
import { controlPlugin } from './server/control.js';
import { debugPlugin } from './server/debug.js';
import { runsPlugin } from './server/runs.js';
import { onDemandSchemaCompilers } from './server/schema-compilers.js';
import { CONTENT_SECURITY_POLICY, cspDirectives, pagePlugin } from './server/page.js';
import { tailWsPlugin } from './server/tail-ws.js';
import { DeadLetters, type RawRedactor } from './pipeline/dead-letters.js';
import { MetricsSink } from './sinks/metrics/sink.js';
import { SemanticsSink } from './sinks/metrics/semantics.js';
import { ActiveRunTotals } from './state/active.js';
import { OverdueRuns } from './state/overdue.js';
import { createMetrics, type Metrics } from './metrics/registry.js';
import type { LifecycleStore } from './state/lifecycle.js';
import { MemoryLifecycleStore } from './state/memory.js';
import { RedisLifecycleStore } from './state/redis.js';
import { createTailFollower, type TailFollower } from './sinks/tail/follow.js';
import { TailSink } from './sinks/tail/tail.js';
import { descriptorOf, effectiveBudgets, effectiveSources, kindsWith, registerSourceGauges, sourceName } from './sources/index.js';
import type { StreamPositions } from './sources/types.js';
import { promClient, requireCjs } from './util/cjs.js';

// required, not imported: see util/cjs.ts
const { default: Fastify, LogController } = requireCjs('fastify') as typeof import('fastify');
const { default: helmet } = requireCjs('@fastify/helmet') as typeof import('@fastify/helmet');
const { default: websocket } = requireCjs('@fastify/websocket') as typeof import('@fastify/websocket');
const { default: pino } = requireCjs('pino') as typeof import('pino');

export interface AppOptions {
  logger?: Logger;
  registry?: Registry;
  now?: () => number;
}

export interface App {
  config: Config;
  logger: Logger;
  registry: Registry;
  metrics: Metrics;
  guard: CardinalityGuard;
  store: LifecycleStore;
  accounting: EventAccounting;
  overdue: OverdueRuns;
  deadLetters: DeadLetters;
  pipeline: Pipeline;
  server: FastifyInstance;
  sources: Source[];
  /** bearer tokens and Origin checks; `auth.require(role)` is a hook for any route */
  auth: Auth;
  /** the live tail: history ring, window statistics and clients */
  tail: TailSink;
  /** reads every bus source a second time for the tail, when tail.follow resolves to on */
  follower?: TailFollower;
  /** where operator commands go (NATS subject, Redis stream or the polled queue) */
  control: ControlBus;
  /** operator actions: who, when, what, outcome */
  audit: AuditLog;
  /** OpenTelemetry output, present after start() when otlp.endpoint is set */
  otel?: Otel;
  source<T extends Source>(name: string): T | undefined;
  /** connects every source and starts delivery; the server is ready for inject() after this */
  start(): Promise<void>;
  /** graceful: stop fetching, finish and ack in-flight batches, close clients, release resources */
  close(): Promise<void>;
  ready(): boolean;
  shuttingDown: boolean;
}

/** The shared duplicate filter's requirements, checked before anything connects. */
function checkSharedDedupe(config: Config): void {
  const a = config.accounting;
  if (!a.sharedDedupe) return;
  if (config.state.backend !== 'redis') {
    throw new ConfigError('accounting.sharedDedupe: the shared duplicate filter lives in the Redis state; set state.backend: redis', [
      { path: 'accounting.sharedDedupe', message: 'needs state.backend redis' },
    ]);
  }
  if (a.dedupeWindowSeconds === 0) {
    throw new ConfigError('accounting.sharedDedupe: dedupeWindowSeconds is 0 (dedupe off); give the window a length', [
      { path: 'accounting.dedupeWindowSeconds', message: 'must be > 0 with sharedDedupe' },
    ]);
  }
  for (const [i, sc] of config.sources.entries()) {
    const redelivery = descriptorOf(sc.kind).redeliveryMs?.(sc);
    if (redelivery !== undefined && a.sharedDedupePendingMs >= redelivery) {
      throw new ConfigError(
        `accounting.sharedDedupePendingMs (${a.sharedDedupePendingMs}) must be below sources.${i} redelivery delay (${redelivery} ms), or a batch whose replica died is dropped as a duplicate when it comes again`,
        [{ path: 'accounting.sharedDedupePendingMs', message: `must be < ${redelivery}` }],
      );
    }
  }
}

/** What every later step builds on. */
interface Core {
  logger: Logger;
  registry: Registry;
  metrics: Metrics;
  guard: CardinalityGuard;
  store: LifecycleStore;
  redactor: ReturnType<typeof compileRedaction>;
  deadLetters: DeadLetters;
  accounting: EventAccounting;
  pipeline: Pipeline;
  overdue: OverdueRuns;
  activeRuns: ActiveRunTotals;
}

/** Metrics, the cardinality guard, lifecycle state, dead letters and the pipeline with its metric sinks. */
function buildCore(config: Config, opts: AppOptions): Core {
  const logger = opts.logger ?? pino({ level: config.log.level, base: { service: 'workflow-exporter' } });
  const registry = opts.registry ?? new promClient.Registry();
  // exemplars cost a prom-client call per observation: on by default only where spans bring trace ids
  // (the default demo source of serve --demo counts: it sends a share of its runs as spans)
  const exemplars = config.metrics.exemplars === 'on' || (config.metrics.exemplars === 'auto' && effectiveSources(config).some((s) => descriptorOf(s.kind).traceIds?.(s) === true));
  const metrics = createMetrics(registry, config.metrics, { exemplars });
  const guard = new CardinalityGuard(
    config.metrics,
    (label, kind) => metrics.labelOverflow.labels(label, kind).inc(),
    (label) => {
      for (const kind of OVERFLOW_KINDS) metrics.labelOverflow.labels(label, kind).inc(0);
    },
  );
  const countAnomaly = (kind: string) => metrics.lifecycleAnomalies.labels(kind).inc();
  checkSharedDedupe(config);
  const store: LifecycleStore =
    config.state.backend === 'redis'
      ? new RedisLifecycleStore({ url: config.state.redisUrl, cluster: config.state.cluster, sentinel: config.state.sentinel, passwordFile: config.state.passwordFile }, config.state.prefix, config.state.ttlSeconds, countAnomaly)
      : new MemoryLifecycleStore(config.state.maxEntries, countAnomaly);
  const redactor = compileRedaction(config.redact);
  // rejected messages are redacted by the same paths before the ring and the dead-letter buses keep them
  const deadLetters = new DeadLetters(config.deadLetters.ringSize, config.deadLetters.maxRawBytes, metrics, redactor as RawRedactor | undefined);
  const accounting = new EventAccounting(config.accounting, countAnomaly, config.accounting.sharedDedupe ? (store as RedisLifecycleStore) : undefined);
  // the pipeline sees the store through the out-of-order filter; overdue and tests read the store itself
  const ordered = new OrderedLifecycleStore(store, config.accounting.maxOrphanEnds, countAnomaly);
  const pipeline = new Pipeline({ config, metrics, store: ordered, deadLetters, logger, now: opts.now, accounting });
  const metricsSink = new MetricsSink(metrics, guard);
  pipeline.addSink(metricsSink);
  pipeline.addSink(new SemanticsSink(metrics, guard, effectiveBudgets(config), countAnomaly, config.metrics.genai));
  const overdue = new OverdueRuns(store, config.runs, guard, opts.now ?? Date.now, () => metricsSink.workflowTypes);
  overdue.register(metrics);
  const activeRuns = new ActiveRunTotals(store, guard);
  return { logger, registry, metrics, guard, store, redactor, deadLetters, accounting, pipeline, overdue, activeRuns };
}

interface Inputs {
  sources: Source[];
  /** each source's config, by source name */
  configs: Map<string, SourceConfig>;
  /** the sources that serve routes on the server: they stop after it */
  served: Source[];
  control: ControlBus;
}

/** Every configured source, from its kind's descriptor, with the dead-letter outputs and the control bus they carry. */
function buildSources(config: Config, opts: AppOptions, { logger, metrics, deadLetters, activeRuns }: Core): Inputs {
  const sources = effectiveSources(config).map((sc) => descriptorOf(sc.kind).create(sourceName(sc), sc, { logger, metrics, now: opts.now }));
  // closed label sets start at zero, so the rejection and source-error panels have a series at once
  for (const s of sources) {
    for (const reason of REJECT_REASONS) metrics.rejected.labels(s.name, reason).inc(0);
    for (const kind of s.errorKinds ?? []) metrics.sourceErrors.labels(s.name, kind).inc(0);
  }
  const configs = new Map(effectiveSources(config).map((sc) => [sourceName(sc), sc]));
  const firstOf = (kind: SourceKind) => sources.find((s) => s.kind === kind);

  for (const [kind, d] of kindsWith('deadLetters')) {
    const { setting } = d.deadLetters;
    if (!config.deadLetters[setting]) continue;
    const source = firstOf(kind);
    if (!source) throw new ConfigError(`deadLetters.${setting} needs a ${kind} source`, [{ path: `deadLetters.${setting}`, message: `no ${kind} source` }]);
    deadLetters.addOutput(d.deadLetters.output(source, config.deadLetters));
  }

  const control = createControlBus(
    config.control,
    kindsWith('control').map(([kind, d]) => {
      const source = firstOf(kind);
      return { bus: d.control.bus, kind, create: source && (() => d.control.create(source, config.control)) };
    }),
  );
  registerSourceGauges(metrics, sources);
  activeRuns.register(metrics);
  return { sources, configs, served: sources.filter((s) => descriptorOf(s.kind).routes), control };
}

interface Live {
  tail: TailSink;
  follower?: TailFollower;
  /** the sources with their configs, as the tail's history read and follower take them */
  named: { name: string; config: SourceConfig }[];
}

/** The live tail, added last so it shows events the metrics have already counted, and its follower. */
function buildTail(config: Config, opts: AppOptions, { logger, metrics, pipeline, redactor, activeRuns }: Core, { configs }: Inputs): Live {
  const tail = new TailSink({
    config: config.tail,
    metrics,
    logger,
    now: opts.now,
    activeRuns: () => activeRuns.rows(),
    redact: tailCopy(redactor, config.tail.maxAttributesBytes),
  });
  pipeline.addSink(tail);
  const named = [...configs].map(([name, sc]) => ({ name, config: sc }));
  const follower = createTailFollower(named, { config, tail, logger, now: opts.now, metrics });
  return { tail, follower, named };
}

interface Served {
  server: FastifyInstance;
  auth: Auth;
  audit: AuditLog;
}

/** The Fastify server with every plugin and route registered (registration only: nothing listens). */
function buildServer(config: Config, opts: AppOptions, core: Core, inputs: Inputs, { tail }: Live, shuttingDown: () => boolean): Served {
  const { logger, registry, metrics, guard, deadLetters, overdue } = core;
  const { sources, configs, served, control } = inputs;
  const audit = new AuditLog(config.control.auditSize, logger, config.control.auditFile);
  const auth = new Auth(config.auth, (reason) => metrics.authRejected.labels(reason).inc());
  const server = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // ingest runs at thousands of requests a second: no per-request lines; errors are still logged
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    schemaController: onDemandSchemaCompilers(), // ajv only if a route ever has a schema
    ...serverTimeouts(config.server),
    clientErrorHandler, // Fastify's own logs the raw request bytes at trace, Authorization included
    // a path parameter (a workflow id) may be MAX_ID characters, each up to 4 UTF-8 bytes written as %XX;
    // Fastify's default of 100 answered 414 to ids of 101-256 characters that the API promises
    routerOptions: { maxParamLength: MAX_ID * 12 },
  });
  guardConnections(server, config.server, metrics, logger);

  // security headers on every response; the page's strict CSP (server/page.ts) is the policy for all
  server.register(helmet, { contentSecurityPolicy: { useDefaults: false, directives: cspDirectives(CONTENT_SECURITY_POLICY) }, hsts: false });
  server.register(websocket, { options: { maxPayload: 64 * 1024, handleProtocols: selectProtocol } });
  // a query token sent anywhere leaves the URL before anything can log it, and no 404 repeats a query
  server.addHook('onRequest', async (req) => stripQueryToken(req));
  server.setNotFoundHandler(async (req, reply) => {
    const url = req.url;
    const q = url.indexOf('?');
    return reply.code(404).send({ error: 'not_found', message: `no route ${req.method} ${(q < 0 ? url : url.slice(0, q)).slice(0, 256)}` });
  });
  server.register(metricsPlugin, { registry });
  server.register(healthPlugin, { sources: () => sources, shuttingDown });
  // dead letters keep raw rejected messages: readable with the read role, like the history
  server.register(async (scope) => {
    scope.addHook('onRequest', auth.require('read'));
    await scope.register(deadLettersPlugin, { deadLetters });
  });
  const ingestToken = (token: string | undefined) => {
    const r = auth.checkToken(token, 'ingest');
    if (!r.ok) metrics.authRejected.labels(r.reason).inc();
    return r;
  };
  for (const s of served) {
    descriptorOf(s.kind).routes!(server, s, configs.get(s.name)!, { metrics, deadLetters, ingestGuard: auth.require('ingest'), ingestToken, host: config.server.host });
  }
  server.register(authPlugin, { auth });
  server.register(tailWsPlugin, { tail, auth, metrics });
  server.register(sseApiPlugin, { tail, auth, metrics });
  server.register(eventsApiPlugin, { tail, auth });
  server.register(exportApiPlugin, { tail, auth });
  server.register(snapshotApiPlugin, { tail, auth });
  const read = auth.require('read');
  server.register(controlPlugin, { bus: control, audit, auth, metrics, cfg: config.control, now: opts.now ?? Date.now });
  server.register(auditPlugin, { audit, guard: auth.require('operator') });
  server.register(runsPlugin, { overdue, read });
  server.register(debugPlugin, { registry, guard, metrics, read });
  server.register(pagePlugin, { tail: config.tail, authRequired: auth.enabled });
  return { server, auth, audit };
}

/**
 * start: the client libraries, the server, the tail's history and follower, OTel when asked for,
 * then every source. close: the same in the order that loses nothing.
 */
function lifecycleOf(app: App, { configs, served }: Inputs, { named }: Live): Pick<App, 'start' | 'close'> {
  const { config, logger, registry, metrics, pipeline, server, sources, tail, follower, store } = app;
  return {
    async start() {
      // the client libraries of the configured buses (only those: see util/bus-clients.ts), loaded
      // up front so the history read's budget below covers the network alone
      const kinds = new Set(named.map((s) => s.config.kind));
      const clients = Promise.all([...kinds].map((k) => descriptorOf(k).loadClients?.()));
      await server.ready();
      await clients;
      // before the sources start, so the history read back from the bus precedes live events
      // with a follower the history is read to the streams' ends and the follower goes on from there
      const positions: StreamPositions | undefined = follower ? new Map() : undefined;
      await tail.loadHistory(named, config.validation, positions, follower?.derive);
      await follower?.start(positions);
      if (config.otlp.endpoint) {
        // loaded only when asked for: without an endpoint no OpenTelemetry module is ever imported
        const { startOtel } = await import('./otel/index.js');
        app.otel = await startOtel({ config: config.otlp, registry, metrics, logger });
        pipeline.wrapSinks(app.otel.traceSink);
      }
      for (const s of sources) {
        const sc = configs.get(s.name)!;
        const handler = pipeline.handler(s.name, { format: sc.format, preset: sc.preset, mapping: sc.mapping });
        await s.start(app.otel ? app.otel.traceHandler(s.name, s.kind, handler) : handler).catch(async (err: unknown) => {
          await follower?.stop(); // a failed start leaves no reader behind
          throw err;
        });
        logger.info({ source: s.name, kind: s.kind }, 'source started');
      }
    },
    async close() {
      if (app.shuttingDown) return;
      app.shuttingDown = true;
      // 1. bus sources stop fetching and ack what they hold; 2. the server finishes in-flight
      // requests and closes tail clients; 3. the pipeline drains; 4. state and sinks let go
      for (const s of sources) if (!served.includes(s)) await s.stop().catch((err) => logger.error({ err, source: s.name }, 'source stop failed'));
      await follower?.stop();
      await tail.closeClients(); // WebSocket 1001 and the end of SSE streams, before the server waits on them
      await server.close();
      for (const s of served) await s.stop();
      await pipeline.close();
      await app.otel?.shutdown(); // a last push of metrics and spans
      await store.close();
    },
  };
}

export function createApp(config: Config, opts: AppOptions = {}): App {
  const core = buildCore(config, opts);
  const inputs = buildSources(config, opts, core);
  const live = buildTail(config, opts, core, inputs);
  const { server, auth, audit } = buildServer(config, opts, core, inputs, live, () => app.shuttingDown);
  const { logger, registry, metrics, guard, store, accounting, overdue, deadLetters, pipeline } = core;
  const { sources, control } = inputs;
  const app: App = {
    config,
    logger,
    registry,
    metrics,
    guard,
    store,
    accounting,
    overdue,
    deadLetters,
    pipeline,
    server,
    sources,
    auth,
    tail: live.tail,
    follower: live.follower,
    control,
    audit,
    shuttingDown: false,
    source<T extends Source>(name: string) {
      return sources.find((s) => s.name === name) as T | undefined;
    },
    ready() {
      return readiness(sources, app.shuttingDown).ready;
    },
    start: () => lifecycle.start(),
    close: () => lifecycle.close(),
  };
  const lifecycle = lifecycleOf(app, inputs, live);
  return app;
}
