// The otlp source: OTLP/HTTP trace export (POST /v1/traces, protobuf or JSON, gzip) turned into
// canonical events by mapping.ts; answers follow the OTLP specification's success, partial success
// and retry rules, and a batch is answered only after every sink took it.
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, onRequestHookHandler } from 'fastify';
import type { Logger } from 'pino';
import type { SourceConfig } from '../../config/schema.js';
import { SourceError, type RejectReason } from '../../errors.js';
import type { RawMessage } from '../../events/raw.js';
import type { Metrics } from '../../metrics/registry.js';
import type { DeadLetters } from '../../pipeline/dead-letters.js';
import type { BatchHandler, Source, SourceStatus } from '../../pipeline/types.js';
import { RateLimitedLog } from '../../util/rate-limited-log.js';
import { SpanMapper } from './mapping.js';
import {
  OtlpDecodeError,
  decodeJson,
  decodeProtobuf,
  encodeResponseJson,
  encodeResponseProtobuf,
  encodeStatusProtobuf,
  otlpTypes,
  type ExportTraceServiceResponse,
} from './proto.js';

export const TRACES_PATH = '/v1/traces';
const PROTOBUF = 'application/x-protobuf';
const JSON_TYPE = 'application/json';
export const MAX_MESSAGES_IN_ANSWER = 5; // partial_success.error_message names this many refusals, then counts the rest

export type OtlpConfig = Extract<SourceConfig, { kind: 'otlp' }>;
export type Encoding = 'protobuf' | 'json';

const gunzipAsync = promisify(gunzip);

/** A request the receiver refuses as a whole, with the HTTP status and gRPC code it maps to. */
export class OtlpRefusal extends Error {
  constructor(
    readonly status: 400 | 413 | 415 | 429 | 503,
    readonly reason: string,
    message: string,
    /** seconds, on the retryable answers */
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

export interface OwnPort {
  protocol: 'http' | 'grpc';
  port: number;
  close(): Promise<void>;
}

export interface ExportResult {
  response: ExportTraceServiceResponse;
  accepted: number;
  rejected: number;
}

export class OtlpSource implements Source {
  readonly kind = 'otlp' as const;
  handler?: BatchHandler;
  readonly mapper: SpanMapper;
  private inFlightSpans = 0;
  private readonly log: RateLimitedLog;
  /** the listeners on their own ports (OTLP/HTTP, OTLP/gRPC), set by start() */
  private readonly listeners: OwnPort[] = [];
  /** added by routes() before start(): the own-port listeners (listen.ts) */
  readonly starters: (() => Promise<OwnPort>)[] = [];
  /** set by routes(): the app's dead letters, where refused bodies and spans go */
  deadLetters?: DeadLetters;

  constructor(
    readonly name: string,
    readonly config: OtlpConfig,
    private readonly metrics: Metrics,
    readonly logger: Logger,
  ) {
    this.mapper = new SpanMapper({ prices: config.prices, maxTokensPerSpan: config.maxTokensPerSpan, traceCacheSize: config.traceCacheSize, spanAttributes: config.spanAttributes });
    this.log = new RateLimitedLog(logger, 20);
    otlpTypes(); // parse the .proto files now: a broken install fails at start, not on the first request
  }

  async start(handler: BatchHandler): Promise<void> {
    this.handler = handler;
    try {
      for (const s of this.starters) this.listeners.push(await s());
    } catch (err) {
      await this.stop(); // a port in use leaves no other listener behind
      throw new SourceError(this.name, `cannot listen: ${(err as Error).message}`, { cause: err });
    }
  }

  async stop(): Promise<void> {
    for (const l of this.listeners.splice(0)) await l.close();
    this.handler = undefined;
  }

  /** The bound port of the own OTLP/HTTP or OTLP/gRPC listener (configured as 0 in tests). */
  port(protocol: 'http' | 'grpc'): number | undefined {
    return this.listeners.find((l) => l.protocol === protocol)?.port;
  }

  status(): SourceStatus {
    return { connected: this.handler !== undefined };
  }

  /** Counts and dead-letters a refusal of a whole body. */
  async refuseBody(reason: RejectReason, message: string, raw: Uint8Array | string): Promise<void> {
    this.metrics.received.labels(this.name).inc();
    this.metrics.rejected.labels(this.name, reason).inc();
    const dl = this.deadLetters;
    if (dl) await dl.record([dl.make(this.name, reason, message, typeof raw === 'string' ? raw : raw.subarray(0, 4096))]);
    this.log.warn(`refuse:${reason}`, { source: this.name, reason, error: message }, 'OTLP request refused');
  }

  /** Decompresses a gzip body, never past maxDecompressedBytes (a gzip bomb stops there). */
  async inflate(body: Buffer): Promise<Buffer> {
    const max = this.config.maxDecompressedBytes;
    try {
      return await gunzipAsync(body, { maxOutputLength: max });
    } catch (err) {
      const e = err as Error & { code?: string };
      if (e.code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) {
        await this.refuseBody('too_large', `gzip body inflates past ${max} bytes`, '');
        throw new OtlpRefusal(413, 'too_large', `decompressed body exceeds ${max} bytes`);
      }
      await this.refuseBody('invalid_encoding', `gzip body is corrupt: ${e.message}`, body);
      throw new OtlpRefusal(400, 'invalid_encoding', `gzip body is corrupt: ${e.message}`);
    }
  }

  /**
   * One ExportTraceServiceRequest body (already inflated) through mapping and the pipeline. Resolves
   * once every sink took the events; rejects with an OtlpRefusal for a body refused as a whole.
   */
  async export(body: Uint8Array, encoding: Encoding): Promise<ExportResult> {
    const handler = this.handler;
    if (!handler) throw new OtlpRefusal(503, 'not_ready', 'otlp source is stopping', this.config.retryAfterSeconds);
    let req;
    try {
      req = encoding === 'protobuf' ? decodeProtobuf(body) : decodeJson(body);
    } catch (err) {
      if (!(err instanceof OtlpDecodeError)) throw err;
      await this.refuseBody(encoding === 'protobuf' ? 'invalid_protobuf' : 'invalid_json', err.message, body);
      throw new OtlpRefusal(400, encoding === 'protobuf' ? 'invalid_protobuf' : 'invalid_json', err.message);
    }
    const mapped = this.mapper.map(req);
    if (mapped.spans > this.config.maxSpansPerRequest) {
      await this.refuseBody('too_large', `${mapped.spans} spans exceed ${this.config.maxSpansPerRequest} per request`, '');
      throw new OtlpRefusal(413, 'too_large', `at most ${this.config.maxSpansPerRequest} spans per request`);
    }
    // back-pressure: the sinks (Redis state above all) are slower than the senders; a retryable
    // answer lets the exporters' retry with backoff carry the load instead of our memory
    if (this.inFlightSpans > 0 && this.inFlightSpans + mapped.spans > this.config.maxInFlightSpans) {
      this.metrics.sourceErrors.labels(this.name, 'backpressure').inc();
      throw new OtlpRefusal(503, 'busy', `${this.inFlightSpans} spans in flight; retry later`, this.config.retryAfterSeconds);
    }

    const messages: RawMessage[] = mapped.events.map((value) => ({ value, built: true }));
    const rejections = mapped.rejected;
    if (rejections.length > 0) {
      this.metrics.received.labels(this.name).inc(rejections.length);
      for (const r of rejections) this.metrics.rejected.labels(this.name, r.reason).inc();
      const dl = this.deadLetters;
      if (dl) await dl.record(rejections.map((r) => dl.make(this.name, r.reason, r.message, r.span, undefined, `${r.span.trace_id}:${r.span.span_id}`)));
      for (const r of rejections.slice(0, 3)) this.log.warn(`span:${r.reason}`, { source: this.name, reason: r.reason, error: r.message }, 'span rejected');
    }
    this.inFlightSpans += mapped.spans;
    let result;
    try {
      result = messages.length > 0 ? await handler(messages) : { accepted: 0, rejected: 0, errors: [] };
    } catch (err) {
      // a sink refused the batch (state store down): nothing was acknowledged, the sender retries
      this.logger.error({ err, source: this.name }, 'OTLP batch failed in a sink');
      this.metrics.sourceErrors.labels(this.name, 'sink_failed').inc();
      throw new OtlpRefusal(503, 'sink_failed', 'the batch could not be recorded; retry later', this.config.retryAfterSeconds);
    } finally {
      this.inFlightSpans -= mapped.spans;
    }
    // events that failed the canonical schema (a time outside the accepted window) count as refused spans
    const rejected = Math.min(mapped.spans, rejections.length + result.rejected);
    const response: ExportTraceServiceResponse = {};
    if (rejected > 0) {
      const messagesOut = [...rejections.map((r) => `${r.reason}: ${r.message}`), ...result.errors.map((e) => `${e.reason}: ${e.message}`)];
      const shown = messagesOut.slice(0, MAX_MESSAGES_IN_ANSWER);
      const more = messagesOut.length > shown.length ? `; and ${messagesOut.length - shown.length} more` : '';
      response.partialSuccess = { rejectedSpans: rejected, errorMessage: `${rejected} of ${mapped.spans} spans rejected: ${shown.join('; ')}${more}` };
    }
    return { response, accepted: mapped.spans - rejected, rejected };
  }
}

function contentType(header: string | undefined): string {
  return (header ?? '').split(';')[0].trim().toLowerCase();
}

/** An OTLP/HTTP failure body: google.rpc.Status in the request's encoding. */
function sendStatus(reply: FastifyReply, encoding: Encoding | undefined, status: number, message: string, retryAfter?: number) {
  if (retryAfter !== undefined) reply.header('retry-after', String(retryAfter));
  // gRPC codes of google.rpc.Status: INVALID_ARGUMENT 3, RESOURCE_EXHAUSTED 8, UNAVAILABLE 14, INTERNAL 13
  const code = status === 503 ? 14 : status === 429 ? 8 : status >= 500 ? 13 : 3;
  if (encoding === 'protobuf') return reply.code(status).type(PROTOBUF).send(Buffer.from(encodeStatusProtobuf(code, message)));
  return reply.code(status).type(JSON_TYPE).send({ code, message });
}

export interface OtlpHttpOptions {
  source: OtlpSource;
  /** an onRequest hook that refuses callers without the ingest role (server/auth.ts) */
  guard?: onRequestHookHandler;
}

/** POST /v1/traces. Registered on the exporter's server and, with httpPort, on a server of its own. */
export const otlpHttpPlugin: FastifyPluginAsync<OtlpHttpOptions> = async (app: FastifyInstance, { source, guard }) => {
  if (guard) app.addHook('onRequest', guard);
  // only the two OTLP encodings: anything else is a 415 from Fastify, answered below
  app.removeAllContentTypeParsers();
  app.addContentTypeParser([PROTOBUF, JSON_TYPE], { parseAs: 'buffer', bodyLimit: source.config.bodyLimitBytes }, (_req, body, done) => done(null, body));

  app.setErrorHandler(async (err: Error & { code?: string; statusCode?: number }, req, reply) => {
    const ct = contentType(req.headers['content-type']);
    const encoding: Encoding | undefined = ct === PROTOBUF ? 'protobuf' : ct === JSON_TYPE ? 'json' : undefined;
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      const len = req.headers['content-length'] ?? 'unknown';
      await source.refuseBody('too_large', `body of ${len} bytes exceeds ${source.config.bodyLimitBytes}`, '');
      return sendStatus(reply, encoding, 413, `request body exceeds ${source.config.bodyLimitBytes} bytes`);
    }
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return sendStatus(reply, undefined, 415, `content type ${JSON.stringify(ct)} is not OTLP: send ${PROTOBUF} or ${JSON_TYPE}`);
    }
    if ((err.statusCode ?? 500) < 500) return sendStatus(reply, encoding, err.statusCode!, err.message);
    req.log.error({ err }, 'OTLP export failed');
    return sendStatus(reply, encoding, 500, 'internal error');
  });

  app.post(TRACES_PATH, { helmet: false }, async (req, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    const encoding: Encoding = contentType(req.headers['content-type']) === PROTOBUF ? 'protobuf' : 'json';
    let body = (req.body as Buffer | undefined) ?? Buffer.alloc(0);
    try {
      const ce = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
      if (ce === 'gzip') body = await source.inflate(body);
      else if (ce !== 'identity') throw new OtlpRefusal(415, 'unsupported_encoding', `content encoding ${JSON.stringify(ce)} is not supported: send gzip or none`);
      const { response } = await source.export(body, encoding);
      if (encoding === 'protobuf') return reply.code(200).type(PROTOBUF).send(Buffer.from(encodeResponseProtobuf(response)));
      return reply.code(200).type(JSON_TYPE).send(encodeResponseJson(response));
    } catch (err) {
      if (!(err instanceof OtlpRefusal)) throw err;
      return sendStatus(reply, encoding, err.status, err.message, err.retryAfter);
    }
  });
};
