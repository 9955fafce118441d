// Auth: bearer tokens with roles from files or config, the WebSocket subprotocol, the Origin
// allow-list, counted refusals, and tokens that never reach the logs.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import pino from 'pino';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { createApp, type App } from '../src/app.js';
import { configFrom } from '../src/config/load.js';
import { ConfigError } from '../src/errors.js';
import { Auth } from '../src/server/auth.js';
import { startApp, type TestApp } from './helpers/app.js';
import { value } from './helpers/metrics.js';
import { publish, TailTestClient, tailEvent } from './helpers/tail.js';

const dir = mkdtempSync(join(tmpdir(), 'wfx-auth-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const READ_1 = 'read-token-aaaaaaaaaaaa-1';
const READ_2 = 'read-token-bbbbbbbbbbbb-2'; // the second line: a rotation in progress
const OPERATOR = 'operator-token-cccccccccccc';
const readFile = join(dir, 'read.token');
writeFileSync(readFile, `# rotated 2026-11\n${READ_1}\n\n${READ_2}\n`);

const authConfig = (extra: Record<string, unknown> = {}) => ({
  auth: {
    tokens: [
      { name: 'dashboards', role: 'read', tokenFile: readFile },
      { name: 'oncall', role: 'operator', token: OPERATOR },
    ],
    ...extra,
  },
});

const apps: TestApp[] = [];
const clients: TailTestClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const a of apps.splice(0)) await a.close();
});
async function app(config: Record<string, unknown>): Promise<TestApp> {
  const a = await startApp(config);
  apps.push(a);
  return a;
}
const get = (a: TestApp, path: string, headers: Record<string, string> = {}) => fetch(`${a.url}${path}`, { headers });
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

describe('bearer tokens', () => {
  test('the tail, history, export, snapshot and SSE need a read token; the page does not', async () => {
    const a = await app(authConfig());
    for (const path of ['/api/events', '/api/events/export?format=csv', '/api/snapshot', '/api/events/stream', '/api/whoami']) {
      const none = await get(a, path);
      expect(none.status, path).toBe(401);
      expect(none.headers.get('www-authenticate')).toBe('Bearer realm="workflow-exporter"');
      expect(await none.json()).toEqual({ error: 'unauthorized', message: 'a bearer token is required (Authorization: Bearer <token>)' });
      const wrong = await get(a, path, bearer('not-the-token-at-all'));
      expect(wrong.status, path).toBe(401);
      expect(((await wrong.json()) as { message: string }).message).toBe('the bearer token is not valid');
      if (path === '/api/events/stream') continue; // a stream that would stay open
      for (const t of [READ_1, READ_2, OPERATOR]) expect((await get(a, path, bearer(t))).status, `${path} ${t}`).toBe(200);
    }
    expect((await get(a, '/')).status).toBe(200);
    expect(await (await get(a, '/api/page-config')).json()).toMatchObject({ auth_required: true });
    expect(await (await get(a, '/api/whoami', bearer(READ_2))).json()).toEqual({ auth_required: true, name: 'dashboards', role: 'read' });
    expect(await (await get(a, '/api/whoami', bearer(OPERATOR))).json()).toEqual({ auth_required: true, name: 'oncall', role: 'operator' });

    const text = await a.scrape();
    expect(value(text, 'workflow_exporter_auth_rejected_total', { reason: 'missing_token' })).toBe(5);
    expect(value(text, 'workflow_exporter_auth_rejected_total', { reason: 'invalid_token' })).toBe(5);
  });

  test('WebSocket: refused without a token, accepted with the bearer subprotocol', async () => {
    const a = await app(authConfig());
    const none = await TailTestClient.connect(a.url);
    clients.push(none);
    expect(none.httpStatus).toBe(401);
    const wrong = await TailTestClient.connect(a.url, { protocols: ['wfx.v1', 'bearer.nope-nope-nope-nope'] });
    clients.push(wrong);
    expect(wrong.httpStatus).toBe(401);
    const ok = await TailTestClient.connect(a.url, { protocols: ['wfx.v1', `bearer.${READ_1}`] });
    clients.push(ok);
    expect(ok.opened).toBe(true);
    expect(ok.ws.protocol).toBe('wfx.v1'); // the token is not echoed back
    await ok.subscribe({});
    await publish(a.url, [tailEvent('authed')], OPERATOR);
    await ok.waitEvents(1);
    expect(ok.ids()).toEqual(['authed']);
    const header = await TailTestClient.connect(a.url, { headers: bearer(OPERATOR) });
    clients.push(header);
    expect(header.opened).toBe(true);
  });

  test('roles: a read token cannot pass an operator route; no tokens configured means open', async () => {
    const auth = new Auth(configFrom(authConfig()).auth);
    const f = Fastify();
    f.get('/op', { onRequest: auth.require('operator') }, async (req) => ({ who: auth.principal(req) }));
    f.get('/read', { onRequest: auth.require('read') }, async (req) => ({ who: auth.principal(req) }));
    const op = (t: string) => f.inject({ url: '/op', headers: bearer(t) });
    expect((await op(READ_1)).statusCode).toBe(403);
    expect((await op(READ_1)).json()).toEqual({ error: 'forbidden', message: 'this needs the operator role' });
    expect((await op(OPERATOR)).json()).toEqual({ who: { name: 'oncall', role: 'operator' } });
    expect((await f.inject({ url: '/read', headers: bearer(OPERATOR) })).statusCode).toBe(200);
    expect((await f.inject({ url: '/read', headers: { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` } })).statusCode).toBe(401);

    const open = new Auth(configFrom({}).auth);
    expect(open.enabled).toBe(false);
    const g = Fastify();
    g.get('/op', { onRequest: open.require('operator') }, async (req) => ({ who: open.principal(req) }));
    expect((await g.inject({ url: '/op' })).json()).toEqual({ who: { name: 'anonymous', role: 'operator' } });
    await f.close();
    await g.close();
  });

  test('bad token configuration fails at start, naming the setting', () => {
    const bad = (tokens: unknown[]) => () => new Auth(configFrom({ auth: { tokens } }).auth);
    expect(bad([{ name: 'x', role: 'read', tokenFile: join(dir, 'missing') }])).toThrow(ConfigError);
    expect(bad([{ name: 'x', role: 'read', tokenFile: join(dir, 'missing') }])).toThrow(/^auth\.tokens\.0\.tokenFile: cannot read token file /);
    const empty = join(dir, 'empty');
    writeFileSync(empty, '# nothing yet\n\n');
    expect(bad([{ name: 'x', role: 'read', tokenFile: empty }])).toThrow(/^auth\.tokens\.0\.tokenFile: token file .* holds no token$/);
    const short = join(dir, 'short');
    writeFileSync(short, 'abc\n');
    expect(bad([{ name: 'x', role: 'read', tokenFile: short }])).toThrow(/shorter than 16 characters/);
    expect(() => configFrom({ auth: { tokens: [{ name: 'x', role: 'read', token: 'y'.repeat(20), tokenFile: readFile }] } })).toThrow(/exactly one of token and tokenFile/);
    expect(() => configFrom({ auth: { tokens: [{ name: 'x', role: 'admin', token: 'y'.repeat(20) }] } })).toThrow(/auth\.tokens\.0\.role/);
  });

  test('tokens never reach the logs, whatever the log level', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'trace' }, { write: (l: string) => void lines.push(l) });
    const cfg = configFrom({ ...authConfig(), log: { level: 'trace' }, server: { host: '127.0.0.1', port: 0 } });
    const a: App = createApp(cfg, { logger });
    await a.start();
    const url = await a.server.listen({ port: 0, host: '127.0.0.1' });
    try {
      await fetch(`${url}/api/events`, { headers: bearer(READ_1) });
      await fetch(`${url}/api/events`, { headers: bearer('a-wrong-token-that-is-long') });
      const c = await TailTestClient.connect(url, { protocols: ['wfx.v1', `bearer.${OPERATOR}`] });
      await c.subscribe({});
      c.close();
      const bad = await TailTestClient.connect(url, { protocols: [`bearer.${READ_2}x`] });
      bad.close();
    } finally {
      await a.close();
    }
    const all = lines.join('\n');
    expect(lines.length).toBeGreaterThan(0);
    for (const t of [READ_1, READ_2, OPERATOR, 'a-wrong-token-that-is-long']) expect(all.includes(t), t).toBe(false);
  });
});

describe('Origin', () => {
  test('same origin and no Origin pass; other sites are refused unless allowed', async () => {
    const a = await app({ auth: { allowedOrigins: ['https://ops.example.com'] } });
    const host = new URL(a.url).host;
    expect((await get(a, '/api/events', { origin: `http://${host}` })).status).toBe(200);
    expect((await get(a, '/api/events', { origin: 'https://ops.example.com' })).status).toBe(200);
    expect((await get(a, '/api/events')).status).toBe(200);
    const evil = await get(a, '/api/events', { origin: 'https://evil.example' });
    expect(evil.status).toBe(403);
    expect(await evil.json()).toEqual({ error: 'forbidden', message: 'origin https://evil.example is not allowed; add it to auth.allowedOrigins' });

    const ws = await TailTestClient.connect(a.url, { origin: 'https://evil.example' });
    clients.push(ws);
    expect(ws.httpStatus).toBe(403);
    const nullOrigin = await TailTestClient.connect(a.url, { origin: 'null' });
    clients.push(nullOrigin);
    expect(nullOrigin.httpStatus).toBe(403);
    const same = await TailTestClient.connect(a.url, { origin: `http://${host}` });
    clients.push(same);
    expect(same.opened).toBe(true);
    expect(value(await a.scrape(), 'workflow_exporter_auth_rejected_total', { reason: 'origin_not_allowed' })).toBe(3);

    const any = await app({ auth: { allowedOrigins: ['*'] } });
    expect((await get(any, '/api/events', { origin: 'https://evil.example' })).status).toBe(200);
  });

  test('DNS rebinding: without tokens a browser must name the exporter by IP, localhost or an allowed host (issue 14 item 10)', async () => {
    const a = await app({});
    const status = async (t: TestApp, host: string, headers: Record<string, string> = {}) => {
      const r = await t.app.server.inject({ url: '/api/events?limit=1', headers: { host, ...headers } });
      return r.statusCode;
    };
    // a rebound page: same origin to the browser, evil.example to us; GETs carry Sec-Fetch-Site, not Origin
    expect.soft(await status(a, 'evil.example:9477', { origin: 'http://evil.example:9477' })).toBe(403);
    expect.soft(await status(a, 'evil.example:9477', { 'sec-fetch-site': 'same-origin' })).toBe(403);
    const refused = await a.app.server.inject({ url: '/api/events', headers: { host: 'evil.example:9477', 'sec-fetch-site': 'same-origin' } });
    expect.soft(refused.json()).toEqual({ error: 'forbidden', message: 'host evil.example is not allowed for browsers; add it to auth.allowedHosts, or configure auth.tokens' });
    // the names a rebinding attack cannot use, and clients that are not browsers
    expect.soft(await status(a, '127.0.0.1:9477', { origin: 'http://127.0.0.1:9477' })).toBe(200);
    expect.soft(await status(a, '[::1]:9477', { 'sec-fetch-site': 'same-origin' })).toBe(200);
    expect.soft(await status(a, 'localhost:9477', { origin: 'http://localhost:9477' })).toBe(200);
    expect.soft(await status(a, 'evil.example:9477')).toBe(200); // curl, Prometheus, a producer
    expect.soft(value(await a.scrape(), 'workflow_exporter_auth_rejected_total', { reason: 'host_not_allowed' })).toBe(3);

    const named = await app({ auth: { allowedHosts: ['exporter.internal'] } });
    expect.soft(await status(named, 'exporter.internal:9477', { origin: 'http://exporter.internal:9477' })).toBe(200);
    expect.soft(await status(named, 'evil.example', { 'sec-fetch-site': 'same-origin' })).toBe(403);
    // with tokens the rebound page has none to send: the Host is not checked unless allowedHosts says so
    const tokens = await app(authConfig());
    expect.soft(await status(tokens, 'exporter.example', { origin: 'http://exporter.example', ...bearer(READ_1) })).toBe(200);
  });
});
