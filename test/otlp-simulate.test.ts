// simulate --to otlp: demo traffic as GenAI spans through the otlp source gives the runs, tasks,
// tool calls and tokens that the same events give through the HTTP source.
import { afterEach, describe, expect, it } from 'vitest';
import type { CanonicalEventInput } from '../src/events/schema.js';
import { AGENTS, DemoGenerator } from '../src/sources/demo/generator.js';
import { otlpPublisher } from '../src/sources/otlp/from-events.js';
import { startApp, waitFor, type TestApp } from './helpers/app.js';
import { value } from './helpers/metrics.js';

const apps: TestApp[] = [];
afterEach(async () => {
  for (const a of apps.splice(0)) await a.close();
});

/** Ten minutes of demo traffic ending now, in ticks of 100 ms. */
function demoTicks(): CanonicalEventInput[][] {
  const end = Date.now() - 5_000;
  const start = end - 600_000;
  const gen = new DemoGenerator({ rate: 20, seed: 11, timeScale: 20, source: 'simulator' }, start);
  const ticks: CanonicalEventInput[][] = [];
  for (let t = start; t <= end; t += 100) ticks.push(gen.tick(t));
  return ticks;
}

describe('simulate --to otlp', () => {
  it('the spans give the metrics the events give', async () => {
    const ticks = demoTicks();
    const http = await startApp({ http: true });
    const otlp = await startApp({ http: false, sources: [{ kind: 'otlp' }] });
    apps.push(http, otlp);
    const pub = otlpPublisher(`${otlp.url}/v1/traces`);
    for (const events of ticks) {
      if (events.length === 0) continue;
      const r = await fetch(`${http.url}/api/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: events.map((e) => JSON.stringify(e)).join('\n') });
      expect(r.status).toBe(202);
      await pub.publish(events);
    }
    expect(pub.spansSent()).toBeGreaterThan(500);
    const a = await http.scrape();
    const b = await otlp.scrape();
    const v = (t: string, name: string, labels: Record<string, string> = {}) => value(t, name, labels);
    // spans have no cancelled status: a cancelled run ends as a completed span
    expect(v(b, 'workflow_runs_finished_total', { outcome: 'failed' })).toBe(v(a, 'workflow_runs_finished_total', { outcome: 'failed' }));
    expect(v(b, 'workflow_runs_finished_total')).toBe(v(a, 'workflow_runs_finished_total'));
    expect(v(a, 'workflow_runs_finished_total')).toBeGreaterThan(10);
    for (const agent of Object.keys(AGENTS)) {
      for (const outcome of ['completed', 'failed']) expect(v(b, 'workflow_tasks_total', { agent, outcome })).toBe(v(a, 'workflow_tasks_total', { agent, outcome }));
    }
    expect(v(b, 'workflow_tasks_total')).toBe(v(a, 'workflow_tasks_total'));
    expect(v(a, 'workflow_tasks_total', { agent: 'coder' })).toBeGreaterThan(5);
    expect(v(b, 'workflow_tool_calls_total', { outcome: 'failed' })).toBe(v(a, 'workflow_tool_calls_total', { outcome: 'failed' }));
    expect(v(b, 'workflow_tool_calls_total')).toBe(v(a, 'workflow_tool_calls_total'));
    expect(v(b, 'workflow_tool_calls_total', { agent: 'planner' })).toBe(v(a, 'workflow_tool_calls_total', { agent: 'planner' }));
    expect(v(a, 'workflow_tool_calls_total', { agent: 'planner' })).toBeGreaterThan(0);
    expect(v(b, 'workflow_agent_tokens_total')).toBe(v(a, 'workflow_agent_tokens_total'));
    expect(v(b, 'workflow_stage_duration_seconds_count')).toBe(v(a, 'workflow_stage_duration_seconds_count'));
    expect(v(b, 'gen_ai_client_token_usage_count', { gen_ai_provider_name: 'demo' })).toBeGreaterThan(0);
    expect(v(b, 'workflow_exporter_events_rejected_total')).toBe(0);
  });
});

describe('the demo source with spans', () => {
  it('its traffic comes through the otlp mapping: runs, tasks, tokens and cost, trace ids in the tail, exemplars', async () => {
    const t = await startApp({ sources: [{ kind: 'demo', rate: 400, timeScale: 200, seed: 3, spans: true }], http: false });
    apps.push(t);
    await waitFor('finished runs from spans', async () => value(await t.scrape(), 'workflow_runs_finished_total') >= 3, 30_000);
    const text = await t.scrape();
    expect(value(text, 'workflow_tasks_total')).toBeGreaterThan(0);
    expect(value(text, 'workflow_agent_tokens_total')).toBeGreaterThan(0);
    expect(value(text, 'workflow_agent_cost_usd_total')).toBeGreaterThan(0);
    expect(value(text, 'workflow_exporter_events_rejected_total')).toBe(0);
    const page = (await t.app.server.inject({ method: 'GET', url: '/api/events?types=workflow.completed,workflow.failed&limit=5' })).json() as { events: { attributes?: { trace_id?: string } }[] };
    expect(page.events.length).toBeGreaterThan(0);
    for (const e of page.events) expect(e.attributes?.trace_id).toMatch(/^[0-9a-f]{32}$/);
    const open = await t.app.server.inject({ method: 'GET', url: '/metrics', headers: { accept: 'application/openmetrics-text' } });
    expect(open.body).toMatch(/workflow_task_duration_seconds_bucket\{[^}]*\} \d+ # \{trace_id="[0-9a-f]{32}",span_id="[0-9a-f]{16}"\}/);
  });
});
