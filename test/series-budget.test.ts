// Series budgets per metric family and the cap on all series: a product of labels that passes every
// per-label cap still cannot grow /metrics past them, nothing is lost, and the report names the offenders.
import { afterEach, describe, expect, it } from 'vitest';
import type { CardinalityReport } from '../src/server/debug.js';
import { parsePrometheusText, value } from './helpers/metrics.js';
import { startApp, type TestApp } from './helpers/app.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

async function post(events: unknown[]): Promise<void> {
  for (let i = 0; i < events.length; i += 5000) {
    const res = await t!.app.server.inject({ method: 'POST', url: '/api/events', payload: events.slice(i, i + 5000) });
    expect(res.statusCode).toBe(202);
  }
}

/** agents × tools tool.called events, one each, 100 ms apiece */
function flood(agents: number, tools: number): unknown[] {
  const now = new Date().toISOString();
  const out: unknown[] = [];
  for (let a = 0; a < agents; a++) for (let k = 0; k < tools; k++) out.push({ id: `f-${a}-${k}`, type: 'tool.called', time: now, source: 'gw', agent: `agent-${a}`, tool: `tool-${k}`, duration_ms: 100 });
  return out;
}

const labelSets = (text: string, name: string) => parsePrometheusText(text).filter((s) => s.name === name);

describe('series budgets', () => {
  it('folds label combinations past a family budget into one __overflow__ series, counts them by metric, and loses no event', async () => {
    // 40 agents × 40 tools pass the per-label cap (500) and make 1,600 combinations
    t = await startApp({ metrics: { seriesBudgets: { workflow_tool_calls_total: 100, workflow_tool_call_duration_seconds: 17 * 10 } } }, { listen: false });
    await post(flood(40, 40));
    const text = await t.scrape();

    const calls = labelSets(text, 'workflow_tool_calls_total');
    expect(calls.length).toBe(101);
    expect(calls.filter((s) => s.labels.agent === '__overflow__').map((s) => s.labels)).toEqual([{ agent: '__overflow__', tool: '__overflow__', outcome: '__overflow__' }]);
    expect(value(text, 'workflow_tool_calls_total')).toBe(1600);
    expect(value(text, 'workflow_tool_calls_total', { agent: '__overflow__' })).toBe(1500);

    // the histogram's budget is in series: 10 label sets of 17 series, plus the overflow set
    expect(labelSets(text, 'workflow_tool_call_duration_seconds_count').length).toBe(11);
    expect(value(text, 'workflow_tool_call_duration_seconds_count')).toBe(1600);
    expect(value(text, 'workflow_tool_call_duration_seconds_sum', { tool: '__overflow__' })).toBeCloseTo(1590 * 0.1, 6);

    expect(value(text, 'workflow_exporter_series_overflow_total', { metric: 'workflow_tool_calls_total', limit: 'metric' })).toBe(1500);
    expect(value(text, 'workflow_exporter_series_overflow_total', { metric: 'workflow_tool_call_duration_seconds', limit: 'metric' })).toBe(1590);
    // every per-label cap held: no label overflow at all
    expect(value(text, 'workflow_exporter_label_overflow_total')).toBe(0);

    const r = (await t.app.server.inject({ url: '/debug/cardinality?top=2' })).json() as CardinalityReport;
    const calls2 = r.budgets.metrics.find((m) => m.name === 'workflow_tool_calls_total')!;
    // 100 label sets admitted (agents 0 and 1 with every tool, agent 2 with tools 0-19), then the
    // overflow set; agents 3-39 were refused with all 40 tools, tools 20-39 with 38 agents
    expect(calls2).toEqual({
      name: 'workflow_tool_calls_total',
      series: 101,
      budget: 100,
      label_sets: 101,
      refused: 1500,
      top_offenders: {
        agent: [{ value: 'agent-10', refused: 40 }, { value: 'agent-11', refused: 40 }],
        tool: [{ value: 'tool-20', refused: 38 }, { value: 'tool-21', refused: 38 }],
        outcome: [{ value: 'ok', refused: 1500 }],
      },
    });
    expect(r.budgets.metrics[0].name).toBe('workflow_tool_call_duration_seconds'); // most refused first
    expect(r.budgets.max_series).toBe(50_000);
  });

  it('keeps the series of every budgeted family together under metrics.maxSeries, counted as limit total', async () => {
    t = await startApp({ metrics: { maxSeries: 400 } }, { listen: false });
    await post(flood(30, 30));
    const text = await t.scrape();
    const r = (await t.app.server.inject({ url: '/debug/cardinality' })).json() as CardinalityReport;
    // the cap holds but for one overflow label set per family that needed one (each past it by its own size)
    const overflowSets = r.budgets.metrics.filter((m) => m.refused > 0);
    const overflowSeries = overflowSets.reduce((s, m) => s + (m.name === 'workflow_tool_call_duration_seconds' ? 17 : 1), 0);
    expect(r.budgets.series).toBeLessThanOrEqual(400 + overflowSeries);
    expect(r.budgets.series).toBeGreaterThan(400 - 17);
    const refusedTotal = value(text, 'workflow_exporter_series_overflow_total', { limit: 'total' });
    expect(refusedTotal).toBe(r.budgets.metrics.reduce((s, m) => s + m.refused, 0));
    expect(refusedTotal).toBeGreaterThan(0);
    expect(value(text, 'workflow_tool_calls_total')).toBe(900);
    expect(value(text, 'workflow_tool_call_duration_seconds_count')).toBe(900);
    // what /metrics exposes of the budgeted families is what the budgets account for
    const budgeted = new Set(r.budgets.metrics.map((m) => m.name));
    const exposed = r.metrics.filter((m) => budgeted.has(m.name)).reduce((s, m) => s + m.series, 0);
    expect(exposed).toBe(r.budgets.series);
  });

  it('folds workflow_runs_active rows past its budget at scrape time, the largest kept, the rest summed', async () => {
    t = await startApp({ metrics: { seriesBudgets: { workflow_runs_active: 3 } } }, { listen: false });
    const now = new Date().toISOString();
    const starts: unknown[] = [];
    // type-i has i + 1 open runs
    for (let i = 0; i < 6; i++) for (let n = 0; n <= i; n++) starts.push({ id: `s-${i}-${n}`, type: 'workflow.started', time: now, source: 's', workflow: { id: `wf-${i}-${n}`, type: `type-${i}` } });
    await post(starts);
    const text = await t.scrape();
    expect(labelSets(text, 'workflow_runs_active').map((s) => [s.labels.workflow_type, s.labels.state, s.value])).toEqual([
      ['type-5', 'running', 6],
      ['type-4', 'running', 5],
      ['type-3', 'running', 4],
      ['__overflow__', '__overflow__', 3 + 2 + 1],
    ]);
    // counted when the gauge is read, so the counter on a scrape shows the reads before it: 3 rows folded once
    expect(value(await t.scrape(), 'workflow_exporter_series_overflow_total', { metric: 'workflow_runs_active', limit: 'metric' })).toBe(3);
  });

  it('budgets the error type of gen_ai_client_operation_duration_seconds like its other labels', async () => {
    // 14 buckets: 17 series a label set, a budget of 3 label sets
    t = await startApp({ metrics: { seriesBudgets: { gen_ai_client_operation_duration_seconds: 17 * 3 } } }, { listen: false });
    const now = new Date().toISOString();
    await post(Array.from({ length: 10 }, (_, i) => ({ id: `e${i}`, type: 'agent.error', time: now, source: 'gw', agent: 'coder', model: 'm1', duration_ms: 500, attributes: { error_type: `err-${i}` } })));
    const text = await t.scrape();
    const sets = labelSets(text, 'gen_ai_client_operation_duration_seconds_count');
    expect(sets.map((s) => s.labels.error_type)).toEqual(['err-0', 'err-1', 'err-2', '__overflow__']);
    expect(value(text, 'gen_ai_client_operation_duration_seconds_count')).toBe(10);
    expect(value(text, 'workflow_exporter_series_overflow_total', { metric: 'gen_ai_client_operation_duration_seconds', limit: 'metric' })).toBe(7);
  });

  it('refuses a seriesBudgets entry that names no metric of the catalog', async () => {
    await expect(startApp({ metrics: { seriesBudgets: { workflow_tool_calls: 10 } } }, { listen: false })).rejects.toThrow(/unknown metric workflow_tool_calls/);
  });
});
