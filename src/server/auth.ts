// Bearer tokens with roles (read, operator) compared in constant time, and an Origin allow-list;
// any route takes `auth.require(role)` as a hook. Tokens are never logged or echoed.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config/schema.js';
import { ConfigError } from '../errors.js';

export type Role = 'read' | 'ingest' | 'operator';
// operator may do everything; read and ingest only their own, so a producer's token cannot read the tail
const allows = (have: Role, need: Role) => have === 'operator' || have === need;

export interface Principal {
  /** the configured name of the token holder (never the token) */
  name: string;
  role: Role;
}

/** When no token is configured everything is open: the caller acts with every role. */
export const ANONYMOUS: Principal = { name: 'anonymous', role: 'operator' };

/** The closed set of reasons a request is refused; label values of the auth rejection counter. */
export const AUTH_FAILURES = ['missing_token', 'invalid_token', 'insufficient_role', 'origin_not_allowed', 'host_not_allowed', 'rate_limited'] as const;
export type AuthFailure = (typeof AUTH_FAILURES)[number];

/** Browsers cannot set headers on a WebSocket: the token rides as the subprotocol `bearer.<token>`. */
export const WS_TOKEN_PROTOCOL_PREFIX = 'bearer.';

/**
 * The subprotocol the server answers with: the first one offered that is not a token, never a
 * `bearer.` one, since the answer is a response header that proxies and browser tools show and log.
 * A client offering only the token gets none (see tokenOnlyProtocols, refused before the upgrade).
 */
export function selectProtocol(offered: Set<string>): string | false {
  for (const p of offered) if (!p.startsWith(WS_TOKEN_PROTOCOL_PREFIX)) return p;
  return false;
}

/**
 * True when a WebSocket upgrade offers subprotocols and all of them carry a token: the server cannot
 * pick one without echoing the token, and browsers fail a handshake whose answer names none, so it is
 * refused with a 400 that says what to send (the page offers `wfx.v1` beside the token).
 */
export function tokenOnlyProtocols(req: FastifyRequest): boolean {
  const header = req.headers['sec-websocket-protocol'];
  if (!header) return false;
  const offered = header.split(',').map((p) => p.trim()).filter((p) => p !== '');
  return offered.length > 0 && offered.every((p) => p.startsWith(WS_TOKEN_PROTOCOL_PREFIX));
}

/**
 * Nor on an EventSource: routes that opt in (the SSE tail only) take `?access_token=<token>`. It is
 * cut from the request URL before anything can log it.
 */
export const QUERY_TOKEN_PARAM = 'access_token';

/**
 * Removes the query token from the URL that Fastify's request logs and errors show. Run for every
 * request (an onRequest hook of the app), not only where the token is taken: a token sent to a wrong
 * path must not be logged either. The parsed `req.query` keeps it for the routes that read it.
 */
export function stripQueryToken(req: FastifyRequest): void {
  const url = req.raw.url ?? '';
  const q = url.indexOf('?');
  if (q < 0 || !url.includes(QUERY_TOKEN_PARAM, q)) return;
  const params = new URLSearchParams(url.slice(q + 1));
  params.delete(QUERY_TOKEN_PARAM);
  const rest = params.toString();
  req.raw.url = url.slice(0, q) + (rest ? `?${rest}` : '');
}

/** The name of a Host header without its port, lower case, brackets of IPv6 removed; undefined when absent. */
function hostName(host: string): string | undefined {
  const h = host.trim().toLowerCase();
  if (h === '') return undefined;
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    return end < 0 ? h : h.slice(1, end);
  }
  const colon = h.lastIndexOf(':');
  return (colon < 0 ? h : h.slice(0, colon)).replace(/\.$/, '');
}

export type AuthResult =
  | { ok: true; principal: Principal }
  | { ok: false; status: 401 | 403; reason: AuthFailure; message: string };

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Reads the tokens of a file: one per line (several allow rotation), blank lines and # comments ignored. */
export function readTokenFile(path: string, where: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (cause) {
    throw new ConfigError(`${where}: cannot read token file ${path}: ${(cause as Error).message}`, [{ path: where, message: 'unreadable' }], { cause });
  }
  const tokens = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0 && !l.startsWith('#'));
  if (tokens.length === 0) throw new ConfigError(`${where}: token file ${path} holds no token`, [{ path: where, message: 'empty' }]);
  for (const t of tokens) {
    if (t.length < 16) throw new ConfigError(`${where}: a token in ${path} is shorter than 16 characters`, [{ path: where, message: 'too short' }]);
  }
  return tokens;
}

export class Auth {
  private readonly keys: { hash: Buffer; principal: Principal }[] = [];
  private readonly origins: Set<string>;
  private readonly anyOrigin: boolean;
  private readonly hosts: Set<string>;
  private readonly principals = new WeakMap<FastifyRequest, Principal>();

  constructor(
    cfg: Config['auth'],
    private readonly onReject: (reason: AuthFailure) => void = () => {},
  ) {
    cfg.tokens.forEach((t, i) => {
      const list = t.tokenFile !== undefined ? readTokenFile(t.tokenFile, `auth.tokens.${i}.tokenFile`) : [t.token!];
      // only hashes are kept: equal length for timingSafeEqual whatever the token length
      for (const token of list) this.keys.push({ hash: sha256(token), principal: { name: t.name, role: t.role } });
    });
    this.anyOrigin = cfg.allowedOrigins.includes('*');
    this.hosts = new Set(cfg.allowedHosts.map((h) => h.toLowerCase()));
    this.origins = new Set(cfg.allowedOrigins.map((o) => o.replace(/\/+$/, '').toLowerCase()));
  }

  /** true when tokens are configured and requests must carry one */
  get enabled(): boolean {
    return this.keys.length > 0;
  }

  /** The holder of `token`; compares against every key, so timing tells nothing about which matched. */
  authenticate(token: string): Principal | undefined {
    const h = sha256(token);
    let found: Principal | undefined;
    for (const k of this.keys) {
      if (timingSafeEqual(h, k.hash) && !found) found = k.principal;
    }
    return found;
  }

  /**
   * The token of a request: `Authorization: Bearer <t>`, else a `bearer.<t>` WebSocket subprotocol,
   * else (only with `queryToken`) the access_token query parameter.
   */
  tokenFrom(req: FastifyRequest, queryToken = false): string | undefined {
    const h = req.headers.authorization;
    if (h !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
      return m ? m[1] : '';
    }
    const protocols = req.headers['sec-websocket-protocol'];
    if (protocols) {
      for (const p of protocols.split(',')) {
        const v = p.trim();
        if (v.startsWith(WS_TOKEN_PROTOCOL_PREFIX)) return v.slice(WS_TOKEN_PROTOCOL_PREFIX.length);
      }
    }
    if (queryToken) {
      const t = (req.query as Record<string, unknown> | undefined)?.[QUERY_TOKEN_PARAM];
      if (t !== undefined) return typeof t === 'string' ? t : ''; // given twice: not a token
    }
    return undefined;
  }

  /**
   * Requests without Origin (curl, servers) pass; a browser's Origin must be this server's own
   * (the Host it asked for) or on the allow-list, which stops other sites from reading the tail
   * through a visitor's browser (WebSocket has no CORS).
   */
  originAllowed(req: FastifyRequest): boolean {
    const origin = req.headers.origin;
    if (origin === undefined || this.anyOrigin) return true;
    const o = origin.toLowerCase();
    if (this.origins.has(o)) return true;
    try {
      return new URL(o).host === (req.headers.host ?? '').toLowerCase();
    } catch {
      return false; // "null" and other opaque origins
    }
  }

  /**
   * DNS rebinding: a page of evil.example whose name is made to resolve to this exporter is, to the
   * browser, same-origin with it; its requests carry `Host: evil.example` and, for GETs, no Origin at
   * all. Without tokens nothing else stops it reading the tail, so a browser's request (one with
   * Origin or Sec-Fetch-Site, which browsers send and servers do not) must name this exporter by an
   * IP address, a localhost name or an entry of auth.allowedHosts; with tokens the rebound page has
   * none, and the check applies only when allowedHosts is set. Prometheus, producers and curl send
   * neither header and are never refused by it.
   */
  hostAllowed(req: FastifyRequest): boolean {
    if (this.enabled && this.hosts.size === 0) return true;
    if (req.headers.origin === undefined && req.headers['sec-fetch-site'] === undefined) return true;
    const name = hostName(req.headers.host ?? '');
    return name === undefined || isIP(name) !== 0 || name === 'localhost' || name.endsWith('.localhost') || this.hosts.has(name);
  }

  check(req: FastifyRequest, role: Role, queryToken = false): AuthResult {
    if (!this.originAllowed(req)) {
      return { ok: false, status: 403, reason: 'origin_not_allowed', message: `origin ${req.headers.origin} is not allowed; add it to auth.allowedOrigins` };
    }
    if (!this.hostAllowed(req)) {
      const name = hostName(req.headers.host ?? '') ?? '';
      return { ok: false, status: 403, reason: 'host_not_allowed', message: `host ${name.slice(0, 253)} is not allowed for browsers; add it to auth.allowedHosts, or configure auth.tokens` };
    }
    return this.checkToken(this.tokenFrom(req, queryToken), role);
  }

  /** The token alone (gRPC metadata, where there is no HTTP request and no Origin). */
  checkToken(token: string | undefined, role: Role): AuthResult {
    if (!this.enabled) return { ok: true, principal: ANONYMOUS };
    if (token === undefined || token === '') {
      return { ok: false, status: 401, reason: 'missing_token', message: 'a bearer token is required (Authorization: Bearer <token>)' };
    }
    const p = this.authenticate(token);
    if (!p) return { ok: false, status: 401, reason: 'invalid_token', message: 'the bearer token is not valid' };
    if (!allows(p.role, role)) return { ok: false, status: 403, reason: 'insufficient_role', message: `this needs the ${role} role` };
    return { ok: true, principal: p };
  }

  /**
   * A route hook (onRequest or preHandler) that answers 401/403 unless the request may act with
   * `role`; with `queryToken` the token may come as ?access_token= (for EventSource).
   */
  require(role: Role, opts: { queryToken?: boolean } = {}) {
    const queryToken = opts.queryToken === true;
    return async (req: FastifyRequest, reply: FastifyReply): Promise<void> => {
      if (queryToken) stripQueryToken(req);
      const r = this.check(req, role, queryToken);
      if (r.ok) {
        this.principals.set(req, r.principal);
        return;
      }
      this.onReject(r.reason);
      if (r.status === 401) reply.header('www-authenticate', 'Bearer realm="workflow-exporter"');
      await reply.code(r.status).send({ error: r.status === 401 ? 'unauthorized' : 'forbidden', message: r.message });
    };
  }

  /** Who passed `require` on this request (for audit entries). */
  principal(req: FastifyRequest): Principal | undefined {
    return this.principals.get(req);
  }
}

/** GET /api/whoami: whether tokens are required and the role of the caller's token, so the page can show what it may do. */
export const authPlugin: FastifyPluginAsync<{ auth: Auth }> = async (app, { auth }) => {
  app.get('/api/whoami', { onRequest: auth.require('read') }, async (req) => {
    const p = auth.principal(req)!;
    return { auth_required: auth.enabled, name: p.name, role: p.role };
  });
};
