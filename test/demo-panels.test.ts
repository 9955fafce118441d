// The embedded default (`npm start`: serve --demo) fills every series a generated dashboard panel or
// rule selects within a minute of demo traffic: the names come from the generators, not a list here.
import { afterEach, describe, expect, it } from 'vitest';
import { checkGenerated } from '../src/ascode/generate.js';
import { foreign, FOREIGN_METRICS } from '../src/ascode/promql.js';
import { ALL_METRICS, seriesNames } from '../src/metrics/catalog.js';
import { startApp, type TestApp } from './helpers/app.js';
import { parsePrometheusText, value } from './helpers/metrics.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

// The exporter's clock runs this many times real time, so a minute of demo traffic takes 3 s.
const SPEED = 20;
const MINUTE_MS = 60_000;

/**
 * Metrics only a bus source can have: the demo runs none, and a zero for a loss that cannot happen
 * (no HTTP or in-memory message is ever trimmed) would say nothing. Each starts at zero on the
 * source kind that can produce it (test/sources-redis.test.ts reads that).
 */
const BUS_ONLY = new Set(['workflow_exporter_events_lost_total']);

/**
 * Series names the generated rules and panels select that the exporter itself must expose: catalog
 * series and the process metrics, not recording-rule outputs (their inputs are in the set) and not
 * `up`, which Prometheus writes per target.
 */
function exportedNamesInUse(): Map<string, string[]> {
  const exported = new Set([...ALL_METRICS, ...FOREIGN_METRICS].filter((d) => d !== foreign.up && !BUS_ONLY.has(d.name)).flatMap(seriesNames));
  const { selected, problems } = checkGenerated();
  expect(problems).toEqual([]);
  return new Map([...selected].filter(([name]) => exported.has(name)));
}

describe('demo traffic fills every generated panel and rule', () => {
  it('takes its names from the generated rules and dashboards', () => {
    const names = [...exportedNamesInUse().keys()];
    // the series the first-run report found empty are among them, so the derivation covers them
    for (const n of ['workflow_tool_calls_total', 'workflow_tool_call_duration_seconds_bucket', 'workflow_agent_cost_usd_total', 'workflow_agent_daily_budget_usd', 'workflow_task_queue_wait_seconds_bucket', 'workflow_runs_overdue']) {
      expect(names).toContain(n);
    }
  });

  it('exposes a sample of each on /metrics within a minute of demo traffic, with the default demo settings', async () => {
    const t0 = Date.now();
    const now = () => t0 + (Date.now() - t0) * SPEED;
    t = await startApp({ demo: true, http: false }, { listen: false, now });
    const wanted = exportedNamesInUse();
    let missing: string[] = [...wanted.keys()];
    let simulatedMs = 0;
    // bounded by simulated time (what the demo has delivered) and, should the pipeline stall, by count
    for (let i = 0; i < 300 && simulatedMs < MINUTE_MS && missing.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const text = await t.scrape();
      const present = new Set(parsePrometheusText(text).map((s) => s.name));
      missing = missing.filter((n) => !present.has(n));
      simulatedMs = value(text, 'workflow_source_last_event_timestamp_seconds', { source: 'demo-orchestrator' }) * 1000 - t0;
    }
    expect(missing.map((n) => `${n} (${wanted.get(n)!.slice(0, 2).join('; ')})`)).toEqual([]);
    expect(simulatedMs).toBeLessThan(MINUTE_MS);
  });

  it('sends a share of its runs as GenAI spans through the otlp mapping, with the default demo settings', async () => {
    const t0 = Date.now();
    const now = () => t0 + (Date.now() - t0) * SPEED;
    t = await startApp({ demo: true, http: false }, { listen: false, now });
    // model calls come only from the spans (the plain demo events carry tokens on tasks), and name their provider
    const spanTokens = (text: string) => value(text, 'gen_ai_client_token_usage_count', { gen_ai_provider_name: 'demo' });
    let text = '';
    let simulatedMs = 0;
    for (let i = 0; i < 300 && simulatedMs < MINUTE_MS && spanTokens(text) === 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      text = await t.scrape();
      simulatedMs = value(text, 'workflow_source_last_event_timestamp_seconds', { source: 'demo-orchestrator' }) * 1000 - t0;
    }
    expect(spanTokens(text)).toBeGreaterThan(0);
    expect(simulatedMs).toBeLessThan(MINUTE_MS);
    // span-derived runs are named by their spans, never `unknown`
    expect(parsePrometheusText(text).filter((s) => s.name === 'workflow_runs_started_total' && s.labels.workflow_type === 'unknown')).toEqual([]);
    // the otlp mapping gave trace ids, so exemplars are on (metrics.exemplars: auto) and OpenMetrics carries them
    const open = await t.app.server.inject({ method: 'GET', url: '/metrics', headers: { accept: 'application/openmetrics-text' } });
    expect(open.body).toMatch(/# \{trace_id="[0-9a-f]{32}",span_id="[0-9a-f]{16}"\}/);
  });

  it('gives the demo agents a daily budget sized to the demo rate, and configured budgets win', async () => {
    t = await startApp({ demo: true, http: false, agents: { budgets: { coder: 50 } }, sources: [{ kind: 'demo', rate: 10 }] }, { listen: false });
    const budgets = parsePrometheusText(await t.scrape())
      .filter((s) => s.name === 'workflow_agent_daily_budget_usd')
      .map((s) => [s.labels.agent, s.value]);
    expect(budgets).toEqual([
      ['planner', 52],
      ['researcher', 1150],
      ['coder', 50],
      ['tester', 110],
      ['reviewer', 100],
      ['deployer', 28],
    ]);
  });
});
