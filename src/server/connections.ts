// What one client may hold of the HTTP server: timeouts, a cap on open connections that closes idle
// ones first, and a reserve so /metrics and health answer while the rest is taken.
import { readFileSync } from 'node:fs';
import type { IncomingMessage, Server, ServerOptions, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { ConnectionCloseReason } from '../metrics/catalog.js';

type ServerConfig = Config['server'];

/** Paths the reserve is for: Prometheus and the kubelet must get through while the rest is taken. */
export const RESERVED_PATHS: ReadonlySet<string> = new Set(['/metrics', '/healthz', '/readyz']);

/** Descriptors kept free under maxConnections for bus clients, files, DNS and the process itself. */
export const FD_HEADROOM = 256;

export interface ServerTimeouts {
  requestTimeout: number;
  connectionTimeout: number;
  keepAliveTimeout: number;
  maxRequestsPerSocket: number;
  http: ServerOptions;
}

/**
 * The timeouts as Fastify and Node options. Node checks the header and request timeouts only every
 * connectionsCheckingInterval (30 s by default, which would let a 10 s timeout run to 40 s); here a
 * quarter of the shorter one, between 100 ms and 5 s.
 */
export function serverTimeouts(cfg: ServerConfig): ServerTimeouts {
  const checkEvery = Math.max(100, Math.min(5000, Math.floor(Math.min(cfg.headersTimeoutMs, cfg.requestTimeoutMs) / 4)));
  return {
    requestTimeout: cfg.requestTimeoutMs,
    connectionTimeout: cfg.connectionTimeoutMs,
    keepAliveTimeout: cfg.keepAliveTimeoutMs,
    maxRequestsPerSocket: cfg.maxRequestsPerSocket,
    http: { headersTimeout: cfg.headersTimeoutMs, requestTimeout: cfg.requestTimeoutMs, connectionsCheckingInterval: checkEvery },
  };
}

/** The soft limit on open files of this process (Linux), undefined where it cannot be read. */
export function openFileLimit(limits = '/proc/self/limits'): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync(limits, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** maxConnections, lowered to fit the open-file limit: past it accept() fails for everyone, health checks included. */
export function effectiveMaxConnections(configured: number, fdLimit: number | undefined): number {
  if (fdLimit === undefined) return configured;
  return Math.max(16, Math.min(configured, fdLimit - FD_HEADROOM));
}

interface Conn {
  /** requests under way on it (HTTP/1.1: one, or a few pipelined) */
  active: number;
  upgraded: boolean;
}

function pathOf(url: string | undefined): string {
  const u = url ?? '/';
  const q = u.indexOf('?');
  return q < 0 ? u : u.slice(0, q);
}

/**
 * Tracks every connection of the server. A connection is idle while no request is under way on it:
 * connected but its headers not yet in (a silent or slow client), or between keep-alive requests.
 * Past maxConnections the one idle longest is closed to admit the new one, so idle connections,
 * however many, never lock anyone out; only when every connection is busy is the new one refused.
 * Requests other than RESERVED_PATHS under way, and WebSocket connections, may take at most
 * maxConnections minus reservedConnections; past that a request or upgrade gets 503, so neither slow
 * bodies nor tail clients can take the connections a scrape needs. Slow clients are ended by the
 * timeouts (serverTimeouts).
 */
export class ConnectionGuard {
  private readonly conns = new Map<Socket, Conn>();
  /** idle connections, the one idle longest first (a Map keeps insertion order) */
  private readonly idle = new Map<Socket, true>();
  private readonly refused = new WeakSet<IncomingMessage>();
  /** requests under way outside the reserve, plus upgraded connections */
  private busy = 0;
  readonly maxConnections: number;
  readonly maxBusy: number;

  constructor(
    server: Server,
    cfg: Pick<ServerConfig, 'maxConnections' | 'reservedConnections'>,
    private readonly count: (reason: ConnectionCloseReason) => void,
    fdLimit = openFileLimit(),
  ) {
    this.maxConnections = effectiveMaxConnections(cfg.maxConnections, fdLimit);
    this.maxBusy = Math.max(1, this.maxConnections - cfg.reservedConnections);
    server.on('connection', (socket: Socket) => this.onConnection(socket));
    // before Fastify's own listeners: the request is counted before any route runs
    server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => this.onRequest(req, res));
    server.prependListener('upgrade', (req: IncomingMessage, socket: Socket) => this.onUpgrade(req, socket));
    // Fastify answers these 408 and closes; counted here as well
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') this.count((this.conns.get(socket)?.active ?? 0) > 0 ? 'request_timeout' : 'headers_timeout');
    });
    // with a listener Node leaves closing to us: keep-alive expiry or connectionTimeout, closed alike
    server.on('timeout', (socket: Socket) => {
      if ((this.conns.get(socket)?.active ?? 0) > 0) this.count('idle_timeout');
      socket.destroy();
    });
  }

  get open(): number {
    return this.conns.size;
  }

  /** True when this request was over the limit and must be answered 503 (the onRequest hook does). */
  isRefused(req: IncomingMessage): boolean {
    return this.refused.has(req);
  }

  private onConnection(socket: Socket): void {
    const c: Conn = { active: 0, upgraded: false };
    this.conns.set(socket, c);
    this.idle.set(socket, true);
    socket.once('close', () => this.forget(socket));
    if (this.conns.size <= this.maxConnections) return;
    const victim = this.idle.keys().next().value;
    if (victim !== undefined && victim !== socket) {
      this.count('evicted_idle');
      this.close(victim);
    } else {
      this.count('max_connections');
      this.close(socket);
    }
  }

  /** Forgotten at once, not at 'close': a burst of connections must see the room already made. */
  private close(socket: Socket): void {
    this.forget(socket);
    socket.destroy();
  }

  private forget(socket: Socket): void {
    this.conns.delete(socket);
    this.idle.delete(socket);
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket;
    const c = this.conns.get(socket);
    if (!c) return;
    c.active++;
    this.idle.delete(socket);
    const counted = !RESERVED_PATHS.has(pathOf(req.url));
    if (counted) {
      this.busy++;
      if (this.busy > this.maxBusy) this.refused.add(req);
    }
    res.once('close', () => {
      if (counted) this.busy--;
      c.active--;
      // idle again: to the back of the line (a socket closing with its response is forgotten already)
      if (c.active === 0 && !c.upgraded && this.conns.has(socket)) {
        this.idle.delete(socket);
        this.idle.set(socket, true);
      }
    });
  }

  private onUpgrade(req: IncomingMessage, socket: Socket): void {
    const c = this.conns.get(socket);
    if (!c || c.upgraded) return;
    c.upgraded = true;
    this.idle.delete(socket);
    // a WebSocket holds its connection for as long as it likes: it counts against the reserve too
    this.busy++;
    if (this.busy > this.maxBusy) this.refused.add(req);
    socket.once('close', () => this.busy--);
  }
}

/**
 * Installs the guard on the app's server: the open-connection gauge, and the 503 for requests over
 * the limit (a root hook, so every route has it; it runs before auth and body parsing).
 */
export function guardConnections(
  app: FastifyInstance,
  cfg: ServerConfig,
  metrics: { httpConnectionsClosed: { labels(reason: string): { inc(): void } }; providers: { httpConnections?: () => number } },
  logger: Logger,
): ConnectionGuard {
  const guard = new ConnectionGuard(app.server, cfg, (reason) => metrics.httpConnectionsClosed.labels(reason).inc());
  if (guard.maxConnections < cfg.maxConnections) {
    logger.warn({ maxConnections: cfg.maxConnections, effective: guard.maxConnections, openFileLimit: openFileLimit() }, 'server.maxConnections lowered to fit the open-file limit');
  }
  metrics.providers.httpConnections = () => guard.open;
  app.addHook('onRequest', (req, reply, done) => {
    if (!guard.isRefused(req.raw)) return done();
    metrics.httpConnectionsClosed.labels('max_requests').inc();
    // a refused WebSocket upgrade has its socket outside the HTTP server's care: close it after the answer
    if (req.raw.headers.upgrade !== undefined) reply.raw.once('finish', () => req.raw.socket.destroy());
    void reply
      .code(503)
      .header('connection', 'close')
      .header('retry-after', '1')
      .send({ error: 'too_many_connections', message: `the server is at its connection limit (${guard.maxBusy} requests under way besides metrics and health); retry` });
  });
  return guard;
}
