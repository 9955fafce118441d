// GET /api/events/stream: the live tail as Server-Sent Events, for curl and proxies that block WebSocket.
import type { FastifyPluginAsync } from 'fastify';
import type { ServerResponse } from 'node:http';
import { type SharedFrames, TailClient } from '../sinks/tail/client.js';
import { FilterError, filterErrorName, filterFromQuery } from '../sinks/tail/filter.js';
import type { TailEntry } from '../sinks/tail/history.js';
import type { TailSink } from '../sinks/tail/tail.js';
import type { Metrics } from '../metrics/registry.js';
import type { Auth } from './auth.js';
import { MAX_AFTER_ID } from './tail-ws.js';

export const SSE_PATH = '/api/events/stream';
export const SSE_RETRY_MS = 2000; // EventSource reconnects after this, sending Last-Event-ID

// an id line may not carry line breaks or NUL; such an event goes out without an id
const UNSAFE_ID = /[\r\n\0]/;

function eventsText(events: TailEntry[]): string {
  let s = '';
  for (const e of events) {
    const id = e.event.id;
    s += UNSAFE_ID.test(id) ? `event: event\ndata: ${e.json()}\n\n` : `id: ${id}\nevent: event\ndata: ${e.json()}\n\n`;
  }
  return s;
}

class SseClient extends TailClient {
  readonly transport = 'sse' as const;

  constructor(readonly res: ServerResponse) {
    super();
  }

  buffered(): number {
    return this.res.writableLength;
  }

  private write(text: string | Buffer): void {
    if (!this.res.writableEnded && !this.res.destroyed) this.res.write(text);
  }

  deliver(events: TailEntry[], dropped: number, _replay = false, shared?: SharedFrames): void {
    const notice = dropped > 0 ? `event: dropped\ndata: {"count":${dropped}}\n\n` : '';
    if (shared && events.length > 0) {
      if (notice) this.write(notice);
      this.write(shared.frame('sse', () => eventsText(events)));
      return;
    }
    const s = notice + eventsText(events);
    if (s) this.write(s);
  }

  sendSnapshot(json: string): void {
    this.write(`event: snapshot\ndata: ${json}\n\n`);
  }

  heartbeat(): void {
    // a comment line: keeps proxies from timing the stream out, and a dead peer fails the write
    this.write(': ping\n\n');
  }

  close(): void {
    this.res.end();
  }

  terminate(): void {
    this.res.destroy();
  }
}

export interface SseOptions {
  tail: TailSink;
  auth: Auth;
  metrics: Metrics;
}

export const sseApiPlugin: FastifyPluginAsync<SseOptions> = async (app, { tail, auth, metrics }) => {
  const cfg = tail.config;
  // EventSource cannot send an Authorization header: this route alone also takes ?access_token=
  app.get(SSE_PATH, { onRequest: auth.require('read', { queryToken: true }) }, async (req, reply) => {
    const query = req.query as Record<string, unknown>;
    let filter;
    try {
      filter = filterFromQuery(query);
    } catch (err) {
      if (!(err instanceof FilterError)) throw err;
      metrics.tailRejected.labels('sse', err.code).inc();
      return reply.code(400).send({ error: filterErrorName(err), message: err.message });
    }
    const replay = query.replay === undefined ? 0 : Number(query.replay);
    if (!Number.isInteger(replay) || replay < 0 || replay > cfg.maxReplay) {
      metrics.tailRejected.labels('sse', 'invalid_message').inc();
      return reply.code(400).send({ error: 'bad_request', message: `replay must be an integer from 0 to ${cfg.maxReplay}` });
    }
    const lastId = req.headers['last-event-id'] ?? (typeof query.after === 'string' ? query.after : undefined);
    const after = typeof lastId === 'string' && lastId.length > 0 && lastId.length <= MAX_AFTER_ID ? lastId : undefined;

    const client = new SseClient(reply.raw);
    if (!tail.add(client)) {
      metrics.tailRejected.labels('sse', 'too_many_clients').inc();
      return reply.code(503).header('retry-after', '5').send({ error: 'too_many_clients', message: `too many clients: at most ${cfg.maxClients}` });
    }
    reply.hijack();
    reply.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no', // nginx would otherwise buffer the stream
    });
    reply.raw.write(`retry: ${SSE_RETRY_MS}\n\n`);
    const done = () => {
      tail.remove(client);
      // a peer that half-closed would otherwise hold the socket (and a graceful shutdown) open
      if (!reply.raw.destroyed) reply.raw.destroy();
    };
    reply.raw.on('close', done);
    reply.raw.on('error', done);
    // an EventSource reconnecting with Last-Event-ID gets what it missed when the history still holds
    // that event, and nothing old otherwise; an explicit replay=N is honoured either way
    // with follow: watched, the history read back from the bus first (add() started it)
    await tail.watchPending()?.catch(() => undefined);
    if (after !== undefined && replay === 0) tail.subscribe(client, filter, cfg.maxReplay, after, true);
    else tail.subscribe(client, filter, replay, after);
    tail
      .snapshotJson()
      .then((json) => client.sendSnapshot(json))
      .catch((err) => req.log.warn({ err }, 'tail snapshot failed'));
  });
};
