import { execFileSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from '../../test/helpers/app.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe('GET /metrics', () => {
  it('serves OpenMetrics when asked, and Prometheus text before and after it unchanged', async () => {
    t = await startApp({}, { listen: false });
    await t.app.server.inject({ method: 'POST', url: '/api/events', payload: { id: 'e', type: 'agent.heartbeat', time: new Date().toISOString(), source: 's', agent: 'a' } });
    const prom = async () => t!.app.server.inject({ url: '/metrics' });
    const before = await prom();
    expect(before.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(before.body).toContain('# TYPE workflow_events_total counter\n');

    const om = await t.app.server.inject({ url: '/metrics', headers: { accept: 'application/openmetrics-text; version=1.0.0' } });
    expect(om.headers['content-type']).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    expect(om.body).toContain('# TYPE workflow_events counter\n');
    expect(om.body).toContain('workflow_events_total{source="s",type="agent.heartbeat"} 1\n');
    expect(om.body.endsWith('# EOF\n')).toBe(true);

    // prom-client renames counters in place for OpenMetrics; the next Prometheus scrape must not show it
    const after = await prom();
    expect(after.body).toContain('# TYPE workflow_events_total counter\n');
    expect(after.body).not.toContain('# TYPE workflow_events counter');
    execFileSync('promtool', ['check', 'metrics'], { input: after.body });
  });
});
