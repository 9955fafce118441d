// The live page when WebSocket is blocked (a proxy that passes HTTP only): it falls back to the SSE
// stream with the same filters, shows the transport, and with auth sends its token as the query
// parameter that only the SSE route accepts and that never reaches a log.
import pino from 'pino';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { createApp, type App } from '../src/app.js';
import { configFrom } from '../src/config/load.js';
import { waitFor } from './helpers/app.js';
import { connState as state, eventCount as count, launchChromium, rowIds as rows } from './helpers/browser.js';
import { value } from './helpers/metrics.js';
import { publish, tailEvent } from './helpers/tail.js';

const READ_TOKEN = 'fallback-read-token-0123456789';
const OPERATOR_TOKEN = 'fallback-operator-token-0123456789';
const AUTH = {
  tokens: [
    { name: 'viewer', role: 'read', token: READ_TOKEN },
    { name: 'publisher', role: 'operator', token: OPERATOR_TOKEN },
  ],
};

let browser: Browser;
const apps: App[] = [];
const pages: Page[] = [];

beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});
afterEach(async () => {
  for (const p of pages.splice(0)) await p.close();
  for (const a of apps.splice(0)) await a.close();
});

/** An exporter whose every log line (trace level) is kept, to show what it logged. */
async function serve(config: Record<string, unknown>): Promise<{ app: App; url: string; logs: string[] }> {
  const logs: string[] = [];
  const logger = pino({ level: 'trace' }, { write: (line: string) => void logs.push(line) });
  const app = createApp(configFrom({ ...config, server: { host: '127.0.0.1', port: 0 } }), { logger });
  apps.push(app);
  await app.start();
  const url = await app.server.listen({ port: 0, host: '127.0.0.1' });
  return { app, url, logs };
}

/** A page whose WebSocket to /ws/events is accepted by the "proxy" and cut at once, as some proxies do. */
async function openBlocked(url: string): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage();
  pages.push(page);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  await page.routeWebSocket(/\/ws\/events$/, (ws) => {
    void ws.close({ code: 1011, reason: 'blocked by proxy' });
  });
  await page.goto(url);
  return { page, errors };
}

const transport = (page: Page) => page.getAttribute('#conn', 'data-transport');
const until = (what: string, fn: () => Promise<boolean>, timeoutMs = 20_000) => waitFor(what, fn, timeoutMs, 50);

describe('the live page without WebSocket', () => {
  test('falls back to SSE: history, live events, filters and the transport shown', async () => {
    const { app, url } = await serve({ tail: { snapshotIntervalMs: 300 } });
    await publish(url, [tailEvent('h1', { type: 'task.completed' }), tailEvent('h2', { type: 'workflow.started' })]);
    const { page, errors } = await openBlocked(url);
    await until('connected over SSE', async () => (await state(page)) === 'connected' && (await transport(page)) === 'sse');
    expect(await page.textContent('#conn-text')).toBe('live · SSE (WebSocket unavailable)');
    // the replay on connect, as over WebSocket
    await until('2 rows', async () => (await count(page)) === 2);
    expect(await rows(page)).toEqual(['h2', 'h1']);
    // the snapshot cards fill from the stream's snapshot messages
    await until('snapshot cards', async () => /2 since start$/.test((await page.textContent('#c-rate-sub')) ?? ''));

    await publish(url, [tailEvent('l3', { type: 'task.failed' }), tailEvent('l4', { type: 'agent.heartbeat' }), tailEvent('l5', { type: 'task.started' })]);
    await until('5 rows', async () => (await count(page)) === 5);
    expect(await rows(page)).toEqual(['l5', 'l4', 'l3', 'h2', 'h1']);
    expect(value(await (await app.server.inject({ url: '/metrics' })).body, 'workflow_exporter_tail_clients', { transport: 'sse' })).toBe(1);

    // a filter opens a new stream with it: the history replayed through it, then what follows
    await page.fill('#f-types', 'task.*');
    await until('filtered rows', async () => (await count(page)) === 3);
    expect(await rows(page)).toEqual(['l5', 'l3', 'h1']);
    await publish(url, [tailEvent('l6', { type: 'task.completed' }), tailEvent('l7', { type: 'workflow.completed' })]);
    await until('4 rows', async () => (await count(page)) === 4);
    expect(await rows(page)).toEqual(['l6', 'l5', 'l3', 'h1']);
    // the old stream was closed: one SSE client, no WebSocket client ever registered
    await until('one SSE client', async () => value(await (await app.server.inject({ url: '/metrics' })).body, 'workflow_exporter_tail_clients', { transport: 'sse' }) === 1);
    expect(value(await (await app.server.inject({ url: '/metrics' })).body, 'workflow_exporter_tail_clients', { transport: 'websocket' })).toBe(0);
    expect(errors).toEqual([]);
  });

  test('with a token: the page sends it as access_token to the SSE stream, and no log line holds it', async () => {
    const { url, logs } = await serve({ auth: AUTH });
    const { page, errors } = await openBlocked(url);
    await until('token dialog', async () => (await state(page)) === 'unauthorized' && (await page.isVisible('#token-dialog')));
    await page.fill('#token-input', READ_TOKEN);
    await page.click('#token-dialog button[type="submit"]');
    await until('connected over SSE with the token', async () => (await state(page)) === 'connected' && (await transport(page)) === 'sse');
    await publish(url, [tailEvent('s1'), tailEvent('s2')], OPERATOR_TOKEN);
    await until('2 rows', async () => (await count(page)) === 2);
    expect(await rows(page)).toEqual(['s2', 's1']);
    expect(errors).toEqual([]);
    expect(logs.length).toBeGreaterThan(0);
    expect(logs.filter((l) => l.includes(READ_TOKEN))).toEqual([]);
  });
});

describe('the access_token query parameter', () => {
  test('is taken by the SSE stream only, checked like the header, and cut from the URL before anything logs it', async () => {
    const { app, url, logs } = await serve({ auth: AUTH });
    const status = async (path: string) => {
      const ac = new AbortController();
      const res = await fetch(`${url}${path}`, { signal: ac.signal });
      ac.abort(); // an SSE stream stays open; the status is what counts
      return res.status;
    };
    expect(await status(`/api/events/stream?access_token=${READ_TOKEN}`)).toBe(200);
    expect(await status(`/api/events/stream?types=task.*&access_token=${OPERATOR_TOKEN}`)).toBe(200);
    expect(await status(`/api/events/stream?access_token=not-a-valid-token-at-all`)).toBe(401);
    expect(await status(`/api/events/stream?access_token=${READ_TOKEN}&access_token=${READ_TOKEN}`)).toBe(401);
    expect(await status('/api/events/stream')).toBe(401);
    // every other route refuses it: a token in a URL ends up in proxy logs and browser history
    for (const path of ['/api/events', '/api/events/export?format=ndjson', '/api/snapshot', '/api/whoami', '/api/dead-letters']) {
      expect(await status(`${path}${path.includes('?') ? '&' : '?'}access_token=${READ_TOKEN}`), path).toBe(401);
    }
    const metrics = (await app.server.inject({ url: '/metrics' })).body;
    expect(value(metrics, 'workflow_exporter_auth_rejected_total', { reason: 'invalid_token' })).toBe(1);
    expect(value(metrics, 'workflow_exporter_auth_rejected_total', { reason: 'missing_token' })).toBe(7);

    // what a request log or an error log would show as the URL: the rest of the query, no token
    const seen: string[] = [];
    const probe = createApp(configFrom({ auth: AUTH, http: false }), { logger: pino({ level: 'silent' }) });
    apps.push(probe);
    probe.server.get('/probe', { onRequest: probe.auth.require('read', { queryToken: true }) }, async (req) => {
      seen.push(req.url, req.raw.url ?? '');
      return { ok: true };
    });
    await probe.start();
    const res = await probe.server.inject({ url: `/probe?types=task.*&access_token=${READ_TOKEN}&replay=5` });
    expect(res.statusCode).toBe(200);
    expect(seen).toEqual(['/probe?types=task.*&replay=5', '/probe?types=task.*&replay=5']);
    expect(logs.filter((l) => l.includes(READ_TOKEN) || l.includes(OPERATOR_TOKEN))).toEqual([]);
  });
});
