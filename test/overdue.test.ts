// Stuck runs: workflow_runs_overdue and the overdue list from per-type deadlines, in memory and in
// Redis, where the state survives a restart of the exporter.
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CanonicalEventInput } from '../src/events/schema.js';
import { startApp, type TestApp } from './helpers/app.js';
import { redisUrl, uniqueName } from './helpers/brokers.js';
import { parsePrometheusText, value } from './helpers/metrics.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

const MIN = 60_000;
const iso = (ms: number) => new Date(ms).toISOString();
const runs = { deadlines: { 'feature-dev': 3600, 'bug-fix': 1800 } };

/** Four runs: two feature-dev past the hour (one paused), one feature-dev within it, one release (no deadline). */
function events(now: number, tag: string): CanonicalEventInput[] {
  const start = (id: string, type: string, agoMs: number): CanonicalEventInput => ({ id: `${tag}-${id}`, type: 'workflow.started', time: iso(now - agoMs), source: 'o', workflow: { id: `${tag}-${id}`, type } });
  return [
    start('a', 'feature-dev', 120 * MIN),
    start('b', 'feature-dev', 10 * MIN),
    start('c', 'release', 300 * MIN),
    start('d', 'feature-dev', 180 * MIN),
    { id: `${tag}-d-p`, type: 'workflow.paused', time: iso(now - 170 * MIN), source: 'o', workflow: { id: `${tag}-d`, type: 'feature-dev' } },
  ];
}

async function post(app: TestApp, payload: CanonicalEventInput[]) {
  const res = await app.app.server.inject({ method: 'POST', url: '/api/events', payload });
  expect(res.statusCode).toBe(202);
}

async function overdueApi(app: TestApp) {
  const res = await app.app.server.inject({ method: 'GET', url: '/api/runs/overdue' });
  expect(res.statusCode).toBe(200);
  return res.json() as { enabled: boolean; items: { workflow_id: string; workflow_type: string; state: string; deadline_seconds: number; overdue_seconds: number }[] };
}

describe('overdue runs (memory state)', () => {
  it('counts open runs past their type deadline, lists them most overdue first, and drops them on their end event', async () => {
    const now = Date.now();
    t = await startApp({ runs }, { listen: false, now: () => now });
    await post(t, events(now, 'm'));
    let text = await t.scrape();
    expect(value(text, 'workflow_runs_overdue', { workflow_type: 'feature-dev' })).toBe(2);
    // a type with a deadline and no runs reads 0, and so does a known type without a deadline
    expect(value(text, 'workflow_runs_overdue', { workflow_type: 'bug-fix' })).toBe(0);
    expect(text).toContain('workflow_runs_overdue{workflow_type="bug-fix"} 0');
    expect(text).toContain('workflow_runs_overdue{workflow_type="release"} 0');

    const list = await overdueApi(t);
    expect(list.enabled).toBe(true);
    expect(list.items.map((r) => [r.workflow_id, r.state, r.deadline_seconds, r.overdue_seconds])).toEqual([
      ['m-d', 'paused', 3600, 120 * 60],
      ['m-a', 'running', 3600, 60 * 60],
    ]);

    await post(t, [{ id: 'm-a-end', type: 'workflow.failed', time: iso(now), source: 'o', workflow: { id: 'm-a', type: 'feature-dev' } }]);
    text = await t.scrape();
    expect(value(text, 'workflow_runs_overdue', { workflow_type: 'feature-dev' })).toBe(1);
    expect((await overdueApi(t)).items.map((r) => r.workflow_id)).toEqual(['m-d']);
  });

  it('applies the default deadline to types not listed', async () => {
    const now = Date.now();
    t = await startApp({ runs: { ...runs, defaultDeadlineSeconds: 4 * 3600 } }, { listen: false, now: () => now });
    await post(t, events(now, 'x'));
    const text = await t.scrape();
    expect(value(text, 'workflow_runs_overdue', { workflow_type: 'release' })).toBe(1);
    expect(value(text, 'workflow_runs_overdue', { workflow_type: 'feature-dev' })).toBe(2);
  });

  it('exports 0 for every known workflow type when no deadline is configured, from its first event on', async () => {
    t = await startApp({}, { listen: false });
    const overdue = async () => parsePrometheusText(await t!.scrape()).filter((s) => s.name === 'workflow_runs_overdue').map((s) => [s.labels.workflow_type, s.value]);
    expect(await overdue()).toEqual([]);
    await post(t, events(Date.now(), 'n'));
    expect(await overdue()).toEqual([
      ['feature-dev', 0],
      ['release', 0],
    ]);
    // a type stays known after its runs end, and one seen only by its end event becomes known too
    const end = (id: string, type: string): CanonicalEventInput => ({ id: `n-${id}-end`, type: 'workflow.completed', time: iso(Date.now()), source: 'o', workflow: { id: `n-${id}`, type } });
    await post(t, [end('a', 'feature-dev'), end('b', 'feature-dev'), end('d', 'feature-dev'), end('z', 'bug-fix')]);
    expect(await overdue()).toEqual([
      ['feature-dev', 0],
      ['release', 0],
      ['bug-fix', 0],
    ]);
    expect(await overdueApi(t)).toEqual({ enabled: false, items: [] });
  });
});

describe('overdue runs (Redis state)', () => {
  let url: string;
  const prefixes: string[] = [];
  beforeAll(async () => {
    url = await redisUrl();
  });
  afterAll(async () => {
    const r = new Redis(url);
    for (const p of prefixes) {
      const keys = await r.keys(`${p}:*`);
      if (keys.length > 0) await r.del(...keys);
    }
    await r.quit();
  });

  it('finds the same overdue runs after a restart, and forgets one that ends after it', async () => {
    const prefix = uniqueName('wfx-overdue');
    prefixes.push(prefix);
    const state = { backend: 'redis', redisUrl: url, prefix };
    const now = Date.now();
    t = await startApp({ runs, state }, { listen: false, now: () => now });
    await post(t, events(now, 'r'));
    expect(value(await t.scrape(), 'workflow_runs_overdue', { workflow_type: 'feature-dev' })).toBe(2);
    await t.close();

    // a new process (or another replica) reads the open runs and their start times from Redis
    const later = now + 30 * MIN;
    t = await startApp({ runs, state }, { listen: false, now: () => later });
    let text = await t.scrape();
    expect(value(text, 'workflow_runs_overdue', { workflow_type: 'feature-dev' })).toBe(2);
    expect(value(text, 'workflow_runs_active', { workflow_type: 'feature-dev' })).toBe(3);
    expect((await overdueApi(t)).items.map((r) => [r.workflow_id, r.state, r.overdue_seconds])).toEqual([
      ['r-d', 'paused', 150 * 60],
      ['r-a', 'running', 90 * 60],
    ]);

    await post(t, [{ id: 'r-d-end', type: 'workflow.cancelled', time: iso(later), source: 'o', workflow: { id: 'r-d', type: 'feature-dev' } }]);
    text = await t.scrape();
    expect(value(text, 'workflow_runs_overdue', { workflow_type: 'feature-dev' })).toBe(1);
    expect(value(text, 'workflow_run_duration_seconds_sum', { workflow_type: 'feature-dev', outcome: 'cancelled' })).toBe(210 * 60);
  });
});
