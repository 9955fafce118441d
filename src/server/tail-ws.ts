// GET /ws/events: the live tail over WebSocket; subscribe with a filter and a replay, get batched frames.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { RawData, WebSocket as Socket } from 'ws';
import { droppedFrame, eventsFrame, type SharedFrames, TailClient } from '../sinks/tail/client.js';
import { FilterError, parseFilter } from '../sinks/tail/filter.js';
import type { TailEntry } from '../sinks/tail/history.js';
import type { TailSink } from '../sinks/tail/tail.js';
import type { Metrics } from '../metrics/registry.js';
import { tokenOnlyProtocols, type Auth } from './auth.js';
import { requireCjs } from '../util/cjs.js';

// required, not imported: see util/cjs.ts
const { OPEN } = requireCjs('ws') as typeof Socket;

export const WS_PATH = '/ws/events';
export const MAX_AFTER_ID = 256; // an event id, as the canonical schema bounds it

/** Close codes (RFC 6455) with the reason text the client sees. */
export const CLOSE = {
  goingAway: 1001, // server shutting down
  policy: 1008, // message rate exceeded
  tooBig: 1009, // client message over tail.maxMessageBytes
  tryAgainLater: 1013, // client limit reached
} as const;

export type TailRejectReason = 'invalid_json' | 'invalid_message' | 'invalid_filter' | 'filter_limit' | 'replay_limited' | 'too_large' | 'rate_limited' | 'too_many_clients';

/** a text frame, uncompressed (the server offers no permessage-deflate), also for UTF-8 bytes */
const TEXT = { binary: false, compress: false } as const;

/** the last snapshot frame: the periodic push hands every client the same text, so it is encoded once */
let lastSnapshot: { json: string; frame: Buffer } | undefined;

function snapshotFrame(json: string): Buffer {
  if (lastSnapshot?.json !== json) lastSnapshot = { json, frame: Buffer.from(`{"type":"snapshot","data":${json}}`, 'utf8') };
  return lastSnapshot.frame;
}

class WsClient extends TailClient {
  readonly transport = 'websocket' as const;
  alive = true;

  constructor(readonly ws: Socket) {
    super();
    ws.on('pong', () => {
      this.alive = true;
    });
  }

  buffered(): number {
    return this.ws.bufferedAmount;
  }

  /** a text frame, also when handed the UTF-8 bytes of a shared frame */
  send(text: string | Buffer): void {
    if (this.ws.readyState === OPEN) this.ws.send(text, TEXT);
  }

  deliver(events: TailEntry[], dropped: number, replay = false, shared?: SharedFrames): void {
    if (dropped > 0) this.send(droppedFrame(dropped));
    if (events.length === 0) return;
    this.send(shared && !replay ? shared.frame('ws', () => eventsFrame(events)) : eventsFrame(events, replay));
  }

  sendSnapshot(json: string): void {
    this.send(snapshotFrame(json));
  }

  heartbeat(): void {
    if (!this.alive) {
      // no pong since the last ping: the peer or the path to it is gone
      this.ws.terminate();
      return;
    }
    this.alive = false;
    if (this.ws.readyState === OPEN) this.ws.ping();
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }

  terminate(): void {
    this.ws.terminate();
  }
}

function sizeOf(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0);
  return data instanceof ArrayBuffer ? data.byteLength : data.length;
}

function textOf(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data as ArrayBuffer).toString('utf8');
}

export interface TailWsOptions {
  tail: TailSink;
  auth: Auth;
  metrics: Metrics;
}

/** The subprotocol of the tail; the page offers it beside `bearer.<token>` and gets it back. */
export const TAIL_PROTOCOL = 'wfx.v1';

export const tailWsPlugin: FastifyPluginAsync<TailWsOptions> = async (app, { tail, auth, metrics }) => {
  const cfg = tail.config;
  const reject = (reason: TailRejectReason) => metrics.tailRejected.labels('websocket', reason).inc();

  const noTokenOnly = async (req: FastifyRequest, reply: FastifyReply) => {
    if (tokenOnlyProtocols(req)) {
      await reply.code(400).send({ error: 'bad_request', message: `offer a subprotocol such as ${TAIL_PROTOCOL} beside bearer.<token>: the token is never echoed back` });
    }
  };
  app.get(WS_PATH, { websocket: true, onRequest: [auth.require('read'), noTokenOnly] }, (ws, req) => {
    const client = new WsClient(ws);
    if (!tail.add(client)) {
      reject('too_many_clients');
      ws.close(CLOSE.tryAgainLater, `too many clients: at most ${cfg.maxClients}`);
      return;
    }
    ws.on('close', () => tail.remove(client));
    ws.on('error', (err) => req.log.debug({ err }, 'tail websocket error'));

    const error = (code: TailRejectReason, message: string) => {
      reject(code);
      client.send(JSON.stringify({ type: 'error', code, message }));
    };

    ws.on('message', (data) => {
      const size = sizeOf(data);
      if (size > cfg.maxMessageBytes) {
        reject('too_large');
        ws.close(CLOSE.tooBig, `message of ${size} bytes exceeds ${cfg.maxMessageBytes}`);
        return;
      }
      // every message takes a token: a client cannot flood us with subscribes or with garbage
      if (!tail.allowMessage(client)) {
        reject('rate_limited');
        ws.close(CLOSE.policy, `message rate exceeded: at most ${cfg.subscribeRate}/s, bursts of ${cfg.subscribeBurst}`);
        return;
      }
      let msg: unknown;
      try {
        msg = JSON.parse(textOf(data));
      } catch (err) {
        error('invalid_json', `message is not JSON: ${(err as Error).message}`);
        return;
      }
      if (msg === null || typeof msg !== 'object' || Array.isArray(msg) || typeof (msg as { type?: unknown }).type !== 'string') {
        error('invalid_message', 'expected an object with a type, e.g. {"type":"subscribe","filter":{},"replay":100}');
        return;
      }
      const m = msg as { type: string; filter?: unknown; replay?: unknown; after?: unknown };
      switch (m.type) {
        case 'subscribe': {
          const replay = m.replay ?? 0;
          if (typeof replay !== 'number' || !Number.isInteger(replay) || replay < 0 || replay > cfg.maxReplay) {
            error('invalid_message', `replay must be an integer from 0 to ${cfg.maxReplay}`);
            return;
          }
          if (m.after !== undefined && (typeof m.after !== 'string' || m.after.length === 0 || m.after.length > MAX_AFTER_ID)) {
            error('invalid_message', `after must be an event id (1 to ${MAX_AFTER_ID} characters)`);
            return;
          }
          let filter;
          try {
            filter = parseFilter(m.filter);
          } catch (err) {
            if (!(err instanceof FilterError)) throw err;
            error(err.code, err.message);
            return;
          }
          const subscribe = () => {
            const r = tail.subscribe(client, filter, replay, m.after as string | undefined);
            // limited: the replay stopped at the budget all replays share (tail.replayScanPerSecond); asking again later gets more
            client.send(JSON.stringify({ type: 'subscribed', filter, replayed: r.replayed, resumed: r.resumed, ...(r.limited ? { limited: true } : {}) }));
          };
          // with follow: watched and the follower not reading yet, the history read back from the bus first
          const pending = tail.watchPending();
          if (!pending) subscribe();
          else
            void pending
              .catch((err: unknown) => req.log.warn({ err }, 'tail follower did not start; replaying what this replica holds'))
              .then(() => {
                if (ws.readyState === ws.OPEN) subscribe();
              });
          return;
        }
        case 'ping':
          // browsers cannot send protocol pings; this lets a page check the path end to end
          client.send('{"type":"pong"}');
          return;
        default:
          error('invalid_message', `unknown message type ${JSON.stringify(m.type.slice(0, 64))}; expected subscribe or ping`);
      }
    });

    // the cards fill at once instead of after the first snapshot interval
    tail
      .snapshotJson()
      .then((json) => client.sendSnapshot(json))
      .catch((err) => req.log.warn({ err }, 'tail snapshot failed'));
  });

  app.addHook('preClose', async () => {
    await tail.closeClients(CLOSE.goingAway, 'server shutting down');
  });
};
