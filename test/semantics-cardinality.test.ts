// GET /debug/cardinality: series per metric, top label values, and the guard's overflow counts.
import { afterEach, describe, expect, it } from 'vitest';
import type { CardinalityReport } from '../src/server/debug.js';
import { startApp, type TestApp } from './helpers/app.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe('cardinality report', () => {
  it('counts series and label sets per metric, ranks label values, and shows overflow by kind', async () => {
    t = await startApp({ metrics: { labels: { agent: { maxValues: 2 } } } }, { listen: false });
    const now = new Date().toISOString();
    const hb = (id: string, agent: string, type = 'agent.heartbeat') => ({ id, type, time: now, source: 'gw', agent });
    await t.app.server.inject({
      method: 'POST',
      url: '/api/events',
      payload: [hb('1', 'coder'), hb('2', 'coder'), hb('3', 'planner'), hb('4', 'tester'), hb('5', 'reviewer'), hb('6', 'coder', 'agent.error'), hb('7', 'planner', 'agent.error'), hb('8', 'coder', 'agent.request')],
    });
    const res = await t.app.server.inject({ url: '/debug/cardinality?top=2' });
    expect(res.statusCode).toBe(200);
    const r = res.json() as CardinalityReport;

    const lastSeen = r.metrics.find((m) => m.name === 'workflow_agent_last_seen_timestamp_seconds')!;
    expect(lastSeen).toMatchObject({ type: 'gauge', series: 3, label_sets: 3 });
    expect(lastSeen.labels.agent.distinct).toBe(3);
    expect(lastSeen.labels.agent.top.map((x) => x.value).sort()).toEqual(['__overflow__', 'coder']);

    const events = r.metrics.find((m) => m.name === 'workflow_events_total')!;
    expect(events).toMatchObject({ series: 3, label_sets: 3 });
    expect(events.labels.type).toEqual({ distinct: 3, top: [{ value: 'agent.error', series: 1 }, { value: 'agent.heartbeat', series: 1 }] });
    expect(events.labels.source).toEqual({ distinct: 1, top: [{ value: 'gw', series: 3 }] });

    // a histogram's label set counts once, its samples (buckets, _sum, _count) each
    const lag = r.metrics.find((m) => m.name === 'workflow_event_lag_seconds')!;
    expect(lag.label_sets).toBe(1);
    expect(lag.series).toBe(14 + 1 + 2);

    // tester and reviewer had one event each past the cap of 2
    expect(r.guard.agent).toEqual({ values: 2, max: 2, overflow: { cap: 2 } });
    expect(r.guard.source).toEqual({ values: 1, max: 500, overflow: {} });
    expect(r.total_series).toBe(r.metrics.reduce((s, m) => s + m.series, 0));
    expect((await t.app.server.inject({ url: '/debug/cardinality?top=0' })).statusCode).toBe(400);
  });

  it('needs a read token when tokens are configured', async () => {
    t = await startApp({ auth: { tokens: [{ name: 'ro', role: 'read', token: 'read-only-token-0123456789abcdef' }] } }, { listen: false });
    expect((await t.app.server.inject({ url: '/debug/cardinality' })).statusCode).toBe(401);
    const ok = await t.app.server.inject({ url: '/debug/cardinality', headers: { authorization: 'Bearer read-only-token-0123456789abcdef' } });
    expect(ok.statusCode).toBe(200);
  });
});
