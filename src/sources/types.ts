// What a source kind says about itself: how to create it and what else it can do. Each kind's folder
// exports one descriptor; src/sources/index.ts lists them. app.ts, the tail, OTel and the control
// bus loop over the capabilities, so no kind is named outside its own folder and that list.
import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import type { Logger } from 'pino';
import type { Config, SourceConfig, SourceKind } from '../config/schema.js';
import type { ControlBus } from '../control/command.js';
import type { RawMessage } from '../events/raw.js';
import type { Metrics } from '../metrics/registry.js';
import type { DeadLetterOutput, DeadLetters } from '../pipeline/dead-letters.js';
import type { BatchHandler, Source } from '../pipeline/types.js';

/** The config of one kind, out of the config schema's union. */
export type ConfigOf<K extends SourceKind> = Extract<SourceConfig, { kind: K }>;

/** What create() gets besides the source's own config. */
export interface SourceContext {
  logger: Logger;
  metrics: Metrics;
  /** the app's clock (AppOptions.now), for sources that make up event times */
  now?: () => number;
}

/** The ingest role's check of a bare token (gRPC metadata); refusals are counted like the hook's. */
export type IngestTokenCheck = (token: string | undefined) => { ok: true } | { ok: false; status: 401 | 403; message: string };

/** What routes() gets to serve ingest on the exporter's server. */
export interface RouteContext {
  metrics: Metrics;
  deadLetters: DeadLetters;
  /** an onRequest hook that refuses callers without the ingest role (server/auth.ts) */
  ingestGuard: onRequestHookHandler;
  /** the same for what does not arrive as a Fastify request (a gRPC call on a port of the source's own) */
  ingestToken: IngestTokenCheck;
  /** server.host: the address a source's own ports bind unless its config names one */
  host: string;
}

/**
 * Where the history read of each stream ended, by positionKey(source, stream or key): the last
 * JetStream sequence (0 for a stream that does not exist yet) or the last Redis entry id ('0-0').
 */
export type StreamPositions = Map<string, number | string>;

export const positionKey = (source: string, stream: string): string => `${source}\u0000${stream}`;

/** What readHistory() gets: how much to read and for how long. */
export interface HistoryReadOptions {
  limit: number;
  /** stops reading when set (the start-up budget ran out) */
  signal: AbortSignal;
  /** connect timeout: the start-up budget */
  timeoutMs: number;
  /**
   * Set when the tail follower takes over after the history: every stream is then read to its end
   * (not only up to the shared consumer), and where each read ended is recorded here.
   */
  positions?: StreamPositions;
}

/** A reader of a bus for the tail follower (sinks/tail/follow.ts), beside the source's shared consumer. */
export interface TailReader {
  /** resolves once reading began (or its first attempt failed; it retries on its own) */
  start(positions?: StreamPositions): Promise<void>;
  stop(): Promise<void>;
}

/**
 * One source kind. Only `defaultName`, `create` and `acks` are required; a capability left out
 * means the kind does not have it, and every loop over the kinds skips it. `S` is the class
 * create() returns, so the capabilities below get the source with its own type.
 */
export interface SourceDescriptor<K extends SourceKind, S extends Source = Source> {
  /** the source's name when its config gives none (the `source` label of the self-metrics) */
  readonly defaultName: string;
  create(name: string, config: ConfigOf<K>, cx: SourceContext): S;
  /** it acks a batch once the sinks took it and then calls BatchResult.acked: a batch's trace waits for that */
  readonly acks: boolean;
  /** after how long the bus redelivers a batch nobody acked; accounting.sharedDedupePendingMs must stay below it */
  redeliveryMs?(config: ConfigOf<K>): number;
  /** loads the client library (util/bus-clients.ts) before start, so start-up budgets cover the network alone */
  loadClients?(): Promise<unknown>;
  /** the last messages already on the bus, oldest first, read back into the tail's history at start */
  readHistory?(name: string, config: ConfigOf<K>, opts: HistoryReadOptions): Promise<RawMessage[]>;
  /** a reader of the same streams that shares nothing with the source's consumer, for the tail follower */
  follow?(name: string, config: ConfigOf<K>, handler: BatchHandler, logger: Logger): TailReader;
  /** publishes dead letters on the bus when the setting `deadLetters.<setting>` is set (the first source of the kind does) */
  deadLetters?: {
    readonly setting: 'natsSubject' | 'redisStream';
    output(source: S, config: Config['deadLetters']): DeadLetterOutput;
  };
  /** carries the control bus `control.bus: <bus>` over the source's connection (the first source of the kind does) */
  control?: {
    readonly bus: ControlBus['kind'];
    create(source: S, config: Config['control']): ControlBus;
  };
  /** its events carry W3C trace and span ids (attributes.trace_id, span_id): metrics.exemplars auto turns exemplars on */
  traceIds?(config: ConfigOf<K>): boolean;
  /** daily budgets (USD) per agent its traffic is sized to; configured agents.budgets override them */
  agentBudgets?(config: ConfigOf<K>): Record<string, number>;
  /** serves routes on the exporter's server; such a source is stopped after the server closed */
  routes?(server: FastifyInstance, source: S, config: ConfigOf<K>, cx: RouteContext): void;
}
