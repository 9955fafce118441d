// Every source kind, one line each. The record is typed over the config's kind union, so a kind
// added to the config schema without a line here (or the other way round) does not compile.
//
// Adding a kind: a folder src/sources/<kind>/ with the source class (implements Source from
// pipeline/types.ts) and an index.ts exporting its SourceDescriptor (types.ts says what each field
// means; only defaultName, create and acks are required); its config entry in config/schema.ts
// (`sourceSchema`); one line below. Everything else (the build in app.ts, ack tracing, the tail's
// history and follower, dead-letter outputs, the control bus, routes on the server, loading the
// client library) reads the descriptor, so nothing else names the kind.
import type { Config, SourceConfig, SourceKind } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import type { Metrics } from '../metrics/registry.js';
import type { Source } from '../pipeline/types.js';
import { DEFAULT_DEMO_SPAN_SHARE } from './demo/demo.js';
import { demo } from './demo/index.js';
import { file } from './file/index.js';
import { http } from './http/index.js';
import { memory } from './memory/index.js';
import { natsJetStream } from './nats-jetstream/index.js';
import { otlp } from './otlp/index.js';
import { redisStreams } from './redis-streams/index.js';
import type { SourceDescriptor } from './types.js';

/**
 * The order is the order of preference where one source serves the exporter: control.bus auto
 * takes the first kind with a control bus that has a source (NATS before Redis), and dead-letter
 * outputs and capability lists follow it.
 */
export const SOURCES: { readonly [K in SourceKind]: SourceDescriptor<K> } = {
  'nats-jetstream': natsJetStream,
  'redis-streams': redisStreams,
  http,
  memory,
  demo,
  file,
  otlp,
};

/** The descriptor of a kind, with its config typed as any source config (the kind picks the entry, so they match). */
export function descriptorOf(kind: SourceKind): SourceDescriptor<SourceKind> {
  return SOURCES[kind] as SourceDescriptor<SourceKind>;
}

/** The kinds that have capability `cap`, in the order above, with their descriptors. */
export function kindsWith<C extends keyof SourceDescriptor<SourceKind>>(cap: C): [SourceKind, SourceDescriptor<SourceKind> & Required<Pick<SourceDescriptor<SourceKind>, C>>][] {
  return (Object.keys(SOURCES) as SourceKind[]).flatMap((kind) => {
    const d = descriptorOf(kind);
    return d[cap] ? [[kind, d as SourceDescriptor<SourceKind> & Required<Pick<SourceDescriptor<SourceKind>, C>>]] : [];
  });
}

/** A source's name: its config's, else its kind's default. */
export const sourceName = (sc: SourceConfig): string => sc.name ?? descriptorOf(sc.kind).defaultName;

/** Source configs with the defaults filled in: an http source unless disabled, a demo source with --demo (a share of its runs as GenAI spans). */
export function effectiveSources(config: Config): SourceConfig[] {
  const list = [...config.sources];
  if (config.http && !list.some((s) => s.kind === 'http')) list.push({ kind: 'http', format: 'auto', bodyLimitBytes: 1 << 20, maxEventsPerRequest: 10_000, rateLimit: { max: 0, timeWindowMs: 1000 } });
  if (config.demo && !list.some((s) => s.kind === 'demo')) list.push({ kind: 'demo', format: 'auto', rate: 40, timeScale: 1, spans: DEFAULT_DEMO_SPAN_SHARE });
  const names = new Set<string>();
  for (const [i, s] of list.entries()) {
    const name = sourceName(s);
    if (names.has(name)) throw new ConfigError(`sources.${i}.name: duplicate source name ${name}; give each source a name`, [{ path: `sources.${i}.name`, message: 'duplicate' }]);
    names.add(name);
  }
  return list;
}

/** Daily budgets per agent: the configured ones, over those of the sources that bring their own (the demo). */
export function effectiveBudgets(config: Config): Record<string, number> {
  const out: Record<string, number> = {};
  for (const sc of effectiveSources(config)) {
    for (const [agent, usd] of Object.entries(descriptorOf(sc.kind).agentBudgets?.(sc) ?? {})) out[agent] = (out[agent] ?? 0) + usd;
  }
  return { ...out, ...config.agents.budgets };
}

/** workflow_exporter_source_up and _pending read every source's status at each scrape. */
export function registerSourceGauges(metrics: Metrics, sources: Source[]): void {
  metrics.providers.sources = () => sources.map((s) => ({ name: s.name, kind: s.kind, ...s.status() }));
}
