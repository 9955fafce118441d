// The built exporter as a user runs it (dist/cli.js serve with the demo): the page and its assets come
// from dist/page, live events flow, and SIGTERM closes tail clients with 1001.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { Processes, REPO, until } from './helpers/processes.js';
import { TailTestClient } from './helpers/tail.js';

const procs = new Processes();
afterAll(() => procs.cleanup());

describe('dist/cli.js serve --demo', () => {
  test('serves the page and every asset it references, byte for byte the source files', async () => {
    const e = await procs.exporter({ demo: true, log: { level: 'warn' } });
    const index = await e.get('/');
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(index.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await index.text();
    expect(html).toBe(readFileSync(join(REPO, 'src/page/index.html'), 'utf8'));
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)/); // no inline script: the CSP forbids it
    expect(html).not.toMatch(/\sstyle=/); // nor inline style

    const referenced = new Set([...html.matchAll(/(?:src|href)="\/assets\/([^"]+)"/g)].map((m) => m[1]));
    for (const f of readdirSync(join(REPO, 'src/page'))) if (f.endsWith('.js')) referenced.add(f); // module imports
    expect(referenced.size).toBeGreaterThan(10);
    for (const name of referenced) {
      const res = await e.get(`/assets/${name}`);
      expect(res.status, name).toBe(200);
      expect(Buffer.from(await res.arrayBuffer()).equals(readFileSync(join(REPO, 'src/page', name))), name).toBe(true);
    }
    expect((await e.get('/assets/tsconfig.json')).status).toBe(404);
    expect((await e.get('/assets/..%2Fcli.js')).status).toBe(404);

    const c = await TailTestClient.connect(e.url);
    await c.subscribe({}, 0);
    await c.waitEvents(5, 'demo events over the tail');
    const closed = e.terminate();
    expect(await c.waitClosed()).toEqual({ code: 1001, reason: 'server shutting down' });
    expect((await closed).code).toBe(0);
    await until('exit', () => !e.alive);
  });
});
