// The http source: POST /api/events with one event, a JSON array, or NDJSON; size-limited.
import { isAscii } from 'node:buffer';
import type { FastifyInstance, FastifyPluginAsync, onRequestHookHandler } from 'fastify';
import type { BatchHandler, BatchResult, Source, SourceStatus } from '../../pipeline/types.js';
import type { RawMessage } from '../../events/raw.js';
import type { Metrics } from '../../metrics/registry.js';
import type { DeadLetters } from '../../pipeline/dead-letters.js';

export const INGEST_PATH = '/api/events';
const NDJSON_TYPES = ['application/x-ndjson', 'application/ndjson', 'application/jsonl', 'application/json-seq'];
const NEWLINE = 0x0a;

export class HttpSource implements Source {
  readonly kind = 'http' as const;
  handler?: BatchHandler;

  constructor(
    readonly name: string,
    readonly bodyLimitBytes: number,
    readonly maxEventsPerRequest: number,
  ) {}

  async start(handler: BatchHandler): Promise<void> {
    this.handler = handler;
  }
  async stop(): Promise<void> {
    this.handler = undefined;
  }
  status(): SourceStatus {
    return { connected: this.handler !== undefined };
  }
}

/**
 * The messages of a body are slices of it. An all-ASCII body (nearly every producer's) is turned into
 * one string and each message is a slice of that: two native calls per body instead of a UTF-8 check
 * and a conversion per message (figures: docs/benchmarks-log.md, "Figures behind code comments"). In ASCII a character
 * is a byte, so the size limit still counts bytes. Any other body gives byte slices, each checked for
 * UTF-8 on its own, so one bad line is one rejection.
 */
function slicer(body: Buffer): (start: number, end: number) => string | Buffer {
  if (isAscii(body)) {
    const text = body.toString('latin1');
    return (start, end) => text.slice(start, end);
  }
  return (start, end) => body.subarray(start, end);
}

/** Splits NDJSON by hand on the raw bytes: cheaper than a JSON-array parse, and keeps bad UTF-8 detectable per line. */
export function splitNdjson(body: Buffer): RawMessage[] {
  const out: RawMessage[] = [];
  const slice = slicer(body);
  let start = 0;
  while (start < body.length) {
    let end = body.indexOf(NEWLINE, start);
    if (end < 0) end = body.length;
    let stop = end;
    if (stop > start && body[stop - 1] === 0x0d) stop--; // CRLF
    if (stop > start) out.push({ data: slice(start, stop) });
    start = end + 1;
  }
  return out;
}

const isSpace = (c: number | undefined) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

/**
 * One event or a JSON array. An array is cut into its top-level elements on the raw bytes (strings
 * and nesting tracked, no recursion), so each element is a message of its own like an NDJSON line:
 * size-checked against `validation.maxMessageBytes`, UTF-8-checked and dead-lettered with its own
 * text. A body that is not a well-formed array at the top level stays one message, counted and
 * dead-lettered as invalid JSON.
 */
export function splitJson(body: Buffer): RawMessage[] {
  let i = 0;
  while (isSpace(body[i])) i++;
  if (body[i] !== 0x5b /* [ */) return [{ data: body }];
  const out: RawMessage[] = [];
  const slice = slicer(body);
  let depth = 0;
  let inString = false;
  let start = -1; // first byte of the current element, -1 before it starts
  let expectElement = true; // after [ or a comma
  const end = (stop: number): boolean => {
    let e = stop;
    while (e > start && isSpace(body[e - 1])) e--;
    if (start < 0 || e === start) return false; // an empty element: [1,,2] or [1,]
    out.push({ data: slice(start, e) });
    start = -1;
    return true;
  };
  for (i++; i < body.length; i++) {
    const c = body[i];
    if (inString) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inString = false;
      continue;
    }
    if (isSpace(c)) continue;
    if (depth === 0) {
      if (c === 0x2c /* , */) {
        if (!end(i)) return [{ data: body }];
        expectElement = true;
        continue;
      }
      if (c === 0x5d /* ] */) {
        if (start >= 0 ? !end(i) : !(expectElement && out.length === 0)) return [{ data: body }];
        let j = i + 1;
        while (isSpace(body[j])) j++;
        return j === body.length ? out : [{ data: body }];
      }
      if (start < 0) {
        if (!expectElement) return [{ data: body }];
        start = i;
        expectElement = false;
      }
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) depth++;
    else if (c === 0x5d || c === 0x7d) {
      if (--depth < 0) return [{ data: body }];
    }
  }
  return [{ data: body }]; // never closed
}

export interface IngestOptions {
  source: HttpSource;
  metrics: Metrics;
  deadLetters: DeadLetters;
  /** an onRequest hook that refuses callers without the ingest role (server/auth.ts) */
  guard?: onRequestHookHandler;
  /** per client address; max 0 is off */
  rateLimit?: { max: number; timeWindowMs: number };
}

export const ingestPlugin: FastifyPluginAsync<IngestOptions> = async (app: FastifyInstance, opts) => {
  const { source, metrics, deadLetters } = opts;
  // both stay inside this plugin: they guard ingest, not the rest of the server
  if (opts.rateLimit && opts.rateLimit.max > 0) {
    // loaded only when a limit is set (off by default)
    const { default: rateLimit } = await import('@fastify/rate-limit');
    await app.register(rateLimit, {
      max: opts.rateLimit.max,
      timeWindow: opts.rateLimit.timeWindowMs,
      onExceeded: () => metrics.authRejected.labels('rate_limited').inc(),
    });
  }
  if (opts.guard) app.addHook('onRequest', opts.guard);
  // Parsers registered here stay inside this plugin: other routes keep Fastify's JSON parser.
  app.addContentTypeParser(
    ['application/json', 'text/plain', 'application/cloudevents+json', 'application/cloudevents-batch+json', ...NDJSON_TYPES],
    { parseAs: 'buffer', bodyLimit: source.bodyLimitBytes },
    (_req, body, done) => done(null, body),
  );

  app.setErrorHandler(async (err: Error & { code?: string; statusCode?: number }, req, reply) => {
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      metrics.received.labels(source.name).inc();
      metrics.rejected.labels(source.name, 'too_large').inc();
      const len = req.headers['content-length'] ?? 'unknown';
      await deadLetters.record([deadLetters.make(source.name, 'too_large', `body of ${len} bytes exceeds ${source.bodyLimitBytes}`, '')]);
      return reply.code(413).send({ error: 'too_large', message: `request body exceeds ${source.bodyLimitBytes} bytes` });
    }
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      // a body nobody reads is still a message refused: counted and kept like any other
      metrics.received.labels(source.name).inc();
      metrics.rejected.labels(source.name, 'unsupported_media_type').inc();
      const type = String(req.headers['content-type'] ?? 'none').slice(0, 128);
      await deadLetters.record([deadLetters.make(source.name, 'unsupported_media_type', `content type ${type} is not read by ingest`, '')]);
      return reply.code(415).send({ error: 'unsupported_media_type', message: `send JSON (application/json, text/plain, application/cloudevents+json) or NDJSON (application/x-ndjson), not ${type}` });
    }
    if ((err.statusCode ?? 500) < 500) return reply.code(err.statusCode!).send({ error: err.code ?? 'bad_request', message: err.message });
    req.log.error({ err }, 'ingest failed');
    return reply.code(500).send({ error: 'internal', message: 'internal error' });
  });

  // helmet's page headers (CSP and a dozen more) cost ingest CPU on every request (docs/benchmarks-log.md)
  // and mean nothing to a machine reading a JSON status; nosniff is the one that matters for a JSON response
  app.post(INGEST_PATH, { helmet: false }, async (req, reply) => {
    reply.header('x-content-type-options', 'nosniff');
    const handler = source.handler;
    if (!handler) return reply.code(503).send({ error: 'not_ready', message: 'http source is stopping' });
    const body = req.body as Buffer | undefined;
    if (!body || body.length === 0) return reply.code(400).send({ error: 'empty', message: 'request body is empty' });
    const ct = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
    const messages = NDJSON_TYPES.includes(ct) ? splitNdjson(body) : splitJson(body);
    if (messages.length > source.maxEventsPerRequest) {
      metrics.received.labels(source.name).inc(messages.length);
      metrics.rejected.labels(source.name, 'too_large').inc(messages.length);
      await deadLetters.record([
        deadLetters.make(source.name, 'too_large', `${messages.length} events exceed ${source.maxEventsPerRequest} per request`, body.subarray(0, 4096)),
      ]);
      return reply.code(413).send({ error: 'too_large', message: `at most ${source.maxEventsPerRequest} events per request` });
    }
    const result: BatchResult = await handler(messages);
    const code = result.accepted === 0 && result.rejected > 0 ? 400 : 202;
    return reply.code(code).send(result);
  });
};
