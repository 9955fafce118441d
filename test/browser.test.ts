// The live page in headless Chromium (Debian's chromium, driven by playwright-core): it connects,
// shows events published over HTTP, filters, reconnects after a server restart without duplicates,
// virtualizes 10,000 rows, asks for a token, and is screenshotted in both themes.
import { existsSync, mkdirSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import type { WebSocketServer } from 'ws';
import { startApp, waitFor, type TestApp } from './helpers/app.js';
import { connState as state, eventCount as count, launchChromium, rowIds as rows } from './helpers/browser.js';
import { publish, tailEvent } from './helpers/tail.js';

export const SCREENSHOTS = 'test-output/screenshots';

let browser: Browser;
const apps: TestApp[] = [];
const pages: Page[] = [];

beforeAll(async () => {
  browser = await launchChromium();
  mkdirSync(SCREENSHOTS, { recursive: true });
});
afterAll(async () => {
  await browser?.close();
});
afterEach(async () => {
  for (const p of pages.splice(0)) await p.close();
  for (const a of apps.splice(0)) await a.close();
});

/** An exporter listening on `port` (0: any); a restart passes the port it had. */
async function serve(config: Record<string, unknown>, port = 0): Promise<{ app: TestApp; url: string; port: number }> {
  const app = await startApp(config, { listen: false });
  apps.push(app);
  const url = await app.app.server.listen({ port, host: '127.0.0.1' });
  return { app, url, port: Number(new URL(url).port) };
}

interface PageProblems {
  errors: string[];
}
async function open(url: string): Promise<{ page: Page; problems: PageProblems }> {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  pages.push(page);
  const problems: PageProblems = { errors: [] };
  page.on('pageerror', (e) => problems.errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    // while the server is down the browser reports the failed socket; anything else is a defect
    if (m.type() === 'error' && !/WebSocket connection to .* failed|Failed to load resource/.test(m.text())) problems.errors.push(m.text());
  });
  await page.goto(url);
  return { page, problems };
}

/** the id of the row at the top of the scrolled view */
const topRow = (page: Page) =>
  page.$eval('#list', (list) => {
    const top = Math.floor(list.scrollTop / 28) * 28;
    const row = Array.from(list.querySelectorAll('.row:not([hidden])')).find((e) => new DOMMatrix(getComputedStyle(e).transform).m42 === top);
    return (row as HTMLElement | undefined)?.dataset.id;
  });
async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  await waitFor(what, fn, timeoutMs, 50);
}

const SET = [
  tailEvent('e1', { type: 'task.completed', agent: 'coder', workflow: { id: 'wf-1', type: 'feature-dev' }, duration_ms: 1200 }),
  tailEvent('e2', { type: 'task.failed', agent: 'reviewer', workflow: { id: 'wf-2', type: 'bug-fix' }, priority: 'high' }),
  tailEvent('e3', { type: 'workflow.started', workflow: { id: 'wf-3', type: 'feature-dev' } }),
  tailEvent('e4', { type: 'agent.heartbeat', agent: 'coder' }),
  tailEvent('e5', { type: 'workflow.failed', workflow: { id: 'wf-1', type: 'feature-dev' } }),
  tailEvent('e6', { type: 'task.started', agent: 'coder', workflow: { id: 'wf-2', type: 'bug-fix' } }),
];

describe('the live page', () => {
  test('connects, shows events, filters, and resumes without duplicates after a reconnect and a restart', async () => {
    const config = { tail: { snapshotIntervalMs: 300 } };
    let s = await serve(config);
    const { page, problems } = await open(s.url);
    await until('connected', async () => (await state(page)) === 'connected');

    await publish(s.url, SET);
    await until('6 rows', async () => (await count(page)) === 6);
    expect(await rows(page)).toEqual(['e6', 'e5', 'e4', 'e3', 'e2', 'e1']);
    await until('snapshot cards', async () => (await page.textContent('#c-err')) === '66.7%');
    expect(await page.textContent('#c-rate-sub')).toMatch(/6 since start$/);

    // the detail view of one event
    await page.click('#list .row[data-id="e2"]');
    expect(await page.isVisible('#detail')).toBe(true);
    expect(await page.textContent('#detail-title')).toBe('e2');
    expect(JSON.parse((await page.textContent('#detail-json'))!)).toMatchObject({ id: 'e2', type: 'task.failed', agent: 'reviewer', priority: 'high' });
    await page.keyboard.press('Escape');
    expect(await page.isVisible('#detail')).toBe(false);

    // a filter applies to the history (replayed) and to what follows
    await page.fill('#f-types', 'task.*');
    await until('filtered rows', async () => (await count(page)) === 3);
    expect(await rows(page)).toEqual(['e6', 'e2', 'e1']);
    expect(new URL(page.url()).hash).toBe('#types=task.*');
    await publish(s.url, [tailEvent('t7', { type: 'task.completed' }), tailEvent('w8', { type: 'workflow.completed' })]);
    await until('4 rows', async () => (await count(page)) === 4);
    expect((await rows(page))[0]).toBe('t7');

    // the server drops the socket: the page reconnects and gets what it missed, once
    const wss = (s.app.app.server as unknown as { websocketServer: WebSocketServer }).websocketServer;
    for (const c of wss.clients) c.terminate();
    await until('reconnecting', async () => (await state(page)) !== 'connected');
    await publish(s.url, [tailEvent('t9', { type: 'task.failed' }), tailEvent('w10', { type: 'workflow.started' }), tailEvent('t11', { type: 'task.started' })]);
    await until('connected again', async () => (await state(page)) === 'connected');
    await until('6 rows', async () => (await count(page)) === 6);
    expect(await rows(page)).toEqual(['t11', 't9', 't7', 'e6', 'e2', 'e1']);

    // the exporter stops and a new one starts on the same port: the page finds it again
    await s.app.close();
    apps.splice(apps.indexOf(s.app), 1);
    await until('reconnecting after stop', async () => (await state(page)) === 'reconnecting');
    s = await serve(config, s.port);
    await until('connected to the new exporter', async () => (await state(page)) === 'connected', 30_000);
    await publish(s.url, [tailEvent('t12', { type: 'task.completed' }), tailEvent('w13', { type: 'workflow.failed' }), tailEvent('t14', { type: 'task.completed' })]);
    await until('8 rows', async () => (await count(page)) === 8);
    const ids = await rows(page);
    expect(ids).toEqual(['t14', 't12', 't11', 't9', 't7', 'e6', 'e2', 'e1']);
    expect(problems.errors).toEqual([]);
  });

  test('10,000 rows stay a few dozen DOM nodes; pause holds new events until resumed', async () => {
    const { url } = await serve({ tail: { historySize: 10_000 } });
    const { page, problems } = await open(url);
    await until('connected', async () => (await state(page)) === 'connected');
    for (let k = 0; k < 10; k++) await publish(url, Array.from({ length: 1000 }, (_, i) => tailEvent(`v${k}-${i}`, { type: i % 10 ? 'task.completed' : 'task.failed', agent: `agent-${i % 7}` })));
    await until('10,000 rows', async () => (await count(page)) === 10_000);
    const drawn = await page.$$eval('#list .row', (els) => els.length);
    expect(drawn).toBeLessThan(80);
    expect((await rows(page))[0]).toBe('v9-999');

    await page.$eval('#list', (el) => el.scrollTo(0, el.scrollHeight));
    await until('oldest row drawn', async () => (await rows(page)).at(-1) === 'v0-0');

    // scrolled into the past, new rows arrive above without moving what the reader looks at
    await page.$eval('#list', (el) => el.scrollTo(0, 5000 * 28));
    await until('row 5000 at the top', async () => (await topRow(page)) === 'v4-999');
    await publish(url, [tailEvent('n1'), tailEvent('n2')]);
    await until('the view kept its place', async () => (await page.$eval('#list', (el) => el.scrollTop)) === 5002 * 28);
    expect(await topRow(page)).toBe('v4-999');
    expect(await count(page)).toBe(10_000); // bounded: the two oldest made room
    expect(await page.$eval('#list', (el) => el.scrollHeight)).toBe(10_000 * 28);
    await page.$eval('#list', (el) => el.scrollTo(0, 0));
    await until('newest on top', async () => (await topRow(page)) === 'n2');

    await page.click('#pause');
    await publish(url, [tailEvent('p1'), tailEvent('p2'), tailEvent('p3')]);
    await until('paused note', async () => (await page.textContent('#paused-note')) === 'paused · 3 new');
    expect(await topRow(page)).toBe('n2');
    await page.click('#pause');
    await until('resumed', async () => (await rows(page))[0] === 'p3');
    expect(await page.isVisible('#paused-note')).toBe(false);
    expect(problems.errors).toEqual([]);
  });

  test('asks for the token when one is configured and connects with it', async () => {
    const token = 'browser-read-token-0123456789';
    const operator = 'browser-operator-token-0123456789';
    const { url } = await serve({
      auth: {
        tokens: [
          { name: 'viewer', role: 'read', token },
          { name: 'publisher', role: 'operator', token: operator },
        ],
      },
    });
    const { page, problems } = await open(url);
    await until('token dialog', async () => (await state(page)) === 'unauthorized' && (await page.isVisible('#token-dialog')));
    await page.fill('#token-input', token);
    await page.click('#token-dialog button[type="submit"]');
    await until('connected with the token', async () => (await state(page)) === 'connected');
    await publish(url, [tailEvent('secret-1')], operator);
    await until('row', async () => (await rows(page))[0] === 'secret-1');
    expect(problems.errors.filter((e) => !e.includes('401'))).toEqual([]);
  });

  test('screenshots in the light and dark themes with demo traffic', async () => {
    const { url } = await serve({
      demo: true,
      sources: [{ kind: 'demo', rate: 60, seed: 7, timeScale: 30 }],
      // a Grafana link appears in the bar when its URL is configured
      tail: { snapshotIntervalMs: 500, grafanaUrl: 'https://grafana.example.com', grafanaDashboards: [{ title: 'Workflows overview', uid: 'wfx-overview' }] },
    });
    const { page, problems } = await open(url);
    await page.evaluate(() => localStorage.setItem('wfx-theme', 'light'));
    await page.reload();
    await until('connected', async () => (await state(page)) === 'connected');
    await until('a screenful of events and finished runs', async () => (await count(page)) >= 150 && (await page.$$eval('#lat-wf tbody tr td:not(.empty)', (e) => e.length)) > 0, 40_000);
    expect(await page.getAttribute('#links a', 'href')).toBe('https://grafana.example.com/d/wfx-overview');
    await page.click('#list .row >> nth=3');
    await page.screenshot({ path: `${SCREENSHOTS}/tail-light.png` });
    expect(await page.getAttribute('html', 'data-theme')).toBe('light');
    await page.click('#theme');
    expect(await page.getAttribute('html', 'data-theme')).toBe('dark');
    await page.waitForTimeout(300);
    await page.screenshot({ path: `${SCREENSHOTS}/tail-dark.png` });
    expect(existsSync(`${SCREENSHOTS}/tail-light.png`) && existsSync(`${SCREENSHOTS}/tail-dark.png`)).toBe(true);
    expect(problems.errors).toEqual([]);
  });
});
