// The built-in live page: static files from src/page (dist/page once built) held in memory, served
// with a strict Content-Security-Policy (no inline script or style), and the page's settings.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config/schema.js';
import { VERSION } from '../metrics/registry.js';

/** Beside this module: src/server -> src/page when run from source, dist/server -> dist/page when built. */
export const PAGE_DIR = fileURLToPath(new URL('../page/', import.meta.url));

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'", // same-origin fetch, WebSocket and EventSource
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** A policy such as "default-src 'none'; script-src 'self'" as helmet's directives object. */
export function cspDirectives(policy: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const d of policy.split(';')) {
    const [name, ...values] = d.trim().split(/\s+/);
    if (name) out[name] = values;
  }
  return out;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/** Every servable file of the page folder, read once; nothing outside this list can be asked for. */
export function loadAssets(dir = PAGE_DIR): Map<string, Asset> {
  if (!existsSync(join(dir, 'index.html'))) {
    throw new Error(`the live page is missing at ${dir}: build with npm run build, which copies src/page to dist/page`);
  }
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    const path = join(dir, name);
    if (!type || !statSync(path).isFile()) continue;
    const body = readFileSync(path);
    assets.set(name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` });
  }
  return assets;
}

export interface PageOptions {
  tail: Config['tail'];
  authRequired: boolean;
}

export const pagePlugin: FastifyPluginAsync<PageOptions> = async (app, opts) => {
  const assets = loadAssets();

  const serve = (name: string) => async (req: FastifyRequest, reply: FastifyReply) => {
    const a = assets.get(name);
    if (!a) return reply.code(404).send({ error: 'not_found', message: `no page asset ${name}` });
    reply
      .header('content-security-policy', CONTENT_SECURITY_POLICY)
      .header('x-content-type-options', 'nosniff')
      .header('referrer-policy', 'no-referrer')
      .header('x-frame-options', 'DENY')
      .header('cross-origin-opener-policy', 'same-origin')
      .header('cache-control', 'no-cache')
      .header('etag', a.etag);
    if (req.headers['if-none-match'] === a.etag) return reply.code(304).send();
    return reply.type(a.type).send(a.body);
  };

  app.get('/', serve('index.html'));
  app.get('/assets/:name', async (req, reply) => serve((req.params as { name: string }).name)(req, reply));

  // not secret and needed before any token is known: the page asks here whether to prompt for one
  app.get('/api/page-config', async () => ({
    version: VERSION,
    auth_required: opts.authRequired,
    history_size: opts.tail.historySize,
    max_replay: opts.tail.maxReplay,
    snapshot_interval_ms: opts.tail.snapshotIntervalMs,
    grafana: opts.tail.grafanaUrl
      ? {
          url: opts.tail.grafanaUrl.replace(/\/+$/, ''),
          dashboards: opts.tail.grafanaDashboards,
        }
      : null,
  }));
};
