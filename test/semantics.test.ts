// Workflow-platform semantics end to end through the HTTP source: tokens, cost, budgets, tool calls,
// queue wait, per-source last event, and event-time accounting (duplicates, late, out of order).
import { afterEach, describe, expect, it } from 'vitest';
import type { CanonicalEventInput } from '../src/events/schema.js';
import { startApp, type TestApp } from './helpers/app.js';
import { value } from './helpers/metrics.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

const iso = (ms: number) => new Date(ms).toISOString();

async function post(events: CanonicalEventInput[]) {
  const res = await t!.app.server.inject({ method: 'POST', url: '/api/events', payload: events });
  expect(res.statusCode).toBe(202);
  return res.json() as { accepted: number; rejected: number };
}

describe('agent semantics', () => {
  it('counts tokens by direction and cost by agent and model, and exports the configured budgets', async () => {
    t = await startApp({ agents: { budgets: { coder: 20, planner: 2.5 } } }, { listen: false });
    const now = Date.now();
    await post([
      { id: 'r1', type: 'agent.response', time: iso(now), source: 'gw', agent: 'coder', model: 'big', tokens_in: 1200, tokens_out: 300, cost_usd: 0.125 },
      { id: 'r2', type: 'agent.response', time: iso(now), source: 'gw', agent: 'coder', model: 'big', tokens_in: 800, tokens_out: 200, cost_usd: 0.375 },
      { id: 'r3', type: 'task.completed', time: iso(now), source: 'gw', agent: 'coder', model: 'small', task: { id: 't1' }, tokens_out: 7, cost_usd: 0.25 },
      // no model: the series says unknown rather than dropping the spend
      { id: 'r4', type: 'agent.request', time: iso(now), source: 'gw', agent: 'planner', tokens_in: 50 },
    ]);
    const text = await t.scrape();
    expect(value(text, 'workflow_agent_tokens_total', { agent: 'coder', model: 'big', direction: 'in' })).toBe(2000);
    expect(value(text, 'workflow_agent_tokens_total', { agent: 'coder', model: 'big', direction: 'out' })).toBe(500);
    expect(value(text, 'workflow_agent_tokens_total', { agent: 'coder', model: 'small', direction: 'out' })).toBe(7);
    expect(value(text, 'workflow_agent_tokens_total', { agent: 'coder', model: 'small', direction: 'in' })).toBe(0);
    expect(value(text, 'workflow_agent_tokens_total', { agent: 'planner', model: 'unknown', direction: 'in' })).toBe(50);
    expect(value(text, 'workflow_agent_cost_usd_total', { agent: 'coder', model: 'big' })).toBe(0.5);
    expect(value(text, 'workflow_agent_cost_usd_total', { agent: 'coder', model: 'small' })).toBe(0.25);
    expect(value(text, 'workflow_agent_daily_budget_usd', { agent: 'coder' })).toBe(20);
    expect(value(text, 'workflow_agent_daily_budget_usd', { agent: 'planner' })).toBe(2.5);
  });

  it('counts tool calls by outcome and observes their latency', async () => {
    t = await startApp({}, { listen: false });
    const now = Date.now();
    await post([
      { id: 'c1', type: 'tool.called', time: iso(now), source: 'gw', agent: 'researcher', tool: 'web-search', duration_ms: 250 },
      { id: 'c2', type: 'tool.called', time: iso(now), source: 'gw', agent: 'researcher', tool: 'web-search', duration_ms: 750 },
      { id: 'c3', type: 'tool.failed', time: iso(now), source: 'gw', agent: 'researcher', tool: 'web-search', duration_ms: 4000 },
      { id: 'c4', type: 'tool.called', time: iso(now), source: 'gw', agent: 'coder', tool: 'shell' },
    ]);
    const text = await t.scrape();
    expect(value(text, 'workflow_tool_calls_total', { agent: 'researcher', tool: 'web-search', outcome: 'ok' })).toBe(2);
    expect(value(text, 'workflow_tool_calls_total', { agent: 'researcher', tool: 'web-search', outcome: 'failed' })).toBe(1);
    expect(value(text, 'workflow_tool_calls_total', { agent: 'coder', tool: 'shell', outcome: 'ok' })).toBe(1);
    expect(value(text, 'workflow_tool_call_duration_seconds_count', { agent: 'researcher', tool: 'web-search', outcome: 'ok' })).toBe(2);
    expect(value(text, 'workflow_tool_call_duration_seconds_sum', { agent: 'researcher', tool: 'web-search', outcome: 'ok' })).toBe(1);
    expect(value(text, 'workflow_tool_call_duration_seconds_bucket', { agent: 'researcher', outcome: 'ok', le: '0.5' })).toBe(1);
    expect(value(text, 'workflow_tool_call_duration_seconds_sum', { outcome: 'failed' })).toBe(4);
    // a call without duration_ms is counted, never observed as zero
    expect(value(text, 'workflow_tool_call_duration_seconds_count', { agent: 'coder' })).toBe(0);
  });

  it('observes queue wait from queue_wait_ms or enqueued_at and never records a negative wait', async () => {
    t = await startApp({}, { listen: false });
    const now = Date.now();
    await post([
      { id: 'q1', type: 'task.started', time: iso(now), source: 'o', agent: 'coder', task: { id: 'a' }, queue_wait_ms: 1500 },
      { id: 'q2', type: 'task.started', time: iso(now), source: 'o', agent: 'coder', task: { id: 'b' }, enqueued_at: iso(now - 2500) },
      { id: 'q3', type: 'task.started', time: iso(now), source: 'o', agent: 'coder', task: { id: 'c' }, enqueued_at: now - 60_000 },
      // enqueued after it started: clock skew, counted and not observed
      { id: 'q4', type: 'task.started', time: iso(now), source: 'o', agent: 'coder', task: { id: 'd' }, enqueued_at: iso(now + 5000) },
      { id: 'q5', type: 'task.started', time: iso(now), source: 'o', agent: 'coder', task: { id: 'e' }, queue_wait_ms: -3 },
      { id: 'q6', type: 'task.started', time: iso(now), source: 'o', agent: 'coder', task: { id: 'f' }, enqueued_at: 'yesterday' },
      // only task.started carries queue wait
      { id: 'q7', type: 'task.completed', time: iso(now), source: 'o', agent: 'coder', task: { id: 'a' }, queue_wait_ms: 99 },
    ]);
    const text = await t.scrape();
    expect(value(text, 'workflow_task_queue_wait_seconds_count', { agent: 'coder' })).toBe(3);
    expect(value(text, 'workflow_task_queue_wait_seconds_sum', { agent: 'coder' })).toBe(64);
    expect(value(text, 'workflow_task_queue_wait_seconds_bucket', { agent: 'coder', le: '5' })).toBe(2);
    expect(value(text, 'workflow_exporter_lifecycle_anomalies_total', { kind: 'invalid_queue_wait' })).toBe(3);
  });

  it('keeps the latest event time per source, never moved back by a late event', async () => {
    t = await startApp({}, { listen: false });
    const now = Math.floor(Date.now() / 1000) * 1000;
    await post([
      { id: 'l1', type: 'agent.heartbeat', time: iso(now - 2000), source: 'orchestrator', agent: 'coder' },
      { id: 'l2', type: 'agent.heartbeat', time: iso(now), source: 'orchestrator', agent: 'coder' },
      { id: 'l3', type: 'agent.heartbeat', time: iso(now - 1000), source: 'orchestrator', agent: 'coder' },
      { id: 'l4', type: 'agent.heartbeat', time: iso(now - 7000), source: 'planner-svc', agent: 'planner' },
    ]);
    const text = await t.scrape();
    expect(value(text, 'workflow_source_last_event_timestamp_seconds', { source: 'orchestrator' })).toBe(now / 1000);
    expect(value(text, 'workflow_source_last_event_timestamp_seconds', { source: 'planner-svc' })).toBe(now / 1000 - 7);
  });
});

describe('event-time accounting', () => {
  it('drops duplicate ids within the window from every metric and counts them', async () => {
    t = await startApp({}, { listen: false });
    const now = Date.now();
    const wf = { id: 'wf-dup', type: 'bug-fix' };
    const start = { id: 'd1', type: 'workflow.started', time: iso(now - 4000), source: 'o', workflow: wf };
    const end = { id: 'd2', type: 'workflow.completed', time: iso(now), source: 'o', workflow: wf };
    expect(await post([start, start])).toEqual({ accepted: 1, rejected: 0, errors: [] });
    await post([end, start, end]);
    const text = await t.scrape();
    expect(value(text, 'workflow_events_total')).toBe(2);
    expect(value(text, 'workflow_runs_started_total', { workflow_type: 'bug-fix' })).toBe(1);
    expect(value(text, 'workflow_run_duration_seconds_count')).toBe(1);
    expect(value(text, 'workflow_run_duration_seconds_sum')).toBe(4);
    expect(value(text, 'workflow_runs_active')).toBe(0);
    expect(value(text, 'workflow_exporter_lifecycle_anomalies_total', { kind: 'duplicate_id' })).toBe(3);
    // a redelivered start no longer opens a second run, so there is no duplicate_start either
    expect(value(text, 'workflow_exporter_lifecycle_anomalies_total', { kind: 'duplicate_start' })).toBe(0);
    expect(value(text, 'workflow_exporter_lifecycle_anomalies_total', { kind: 'end_without_start' })).toBe(0);
  });

  it('only counts duplicates when dropDuplicates is off, forgets ids after the window, and bounds memory', async () => {
    let clock = Date.now();
    t = await startApp({ accounting: { dropDuplicates: false, dedupeWindowSeconds: 10, dedupeMaxIds: 3 } }, { listen: false, now: () => clock });
    const hb = (id: string) => ({ id, type: 'agent.heartbeat', time: iso(clock), source: 'o', agent: 'coder' });
    await post([hb('x'), hb('x')]);
    let text = await t.scrape();
    expect(value(text, 'workflow_events_total')).toBe(2);
    expect(value(text, 'workflow_exporter_lifecycle_anomalies_total', { kind: 'duplicate_id' })).toBe(1);

    clock += 11_000; // past the window: x is new again
    await post([hb('x')]);
    // a, b, c push x out of the 3 ids remembered
    await post([hb('a'), hb('b'), hb('c')]);
    expect(t.app.accounting.size).toBe(3);
    await post([hb('x'), hb('c')]);
    text = await t.scrape();
    expect(value(text, 'workflow_events_total')).toBe(8);
    expect(value(text, 'workflow_exporter_lifecycle_anomalies_total', { kind: 'duplicate_id' })).toBe(2);
  });

  it('forgets the ids of a batch that failed in a sink, so its redelivery counts', async () => {
    t = await startApp({}, { listen: false });
    let failures = 1;
    t.app.pipeline.addSink({ name: 'flaky', write: () => (failures-- > 0 ? Promise.reject(new Error('sink down')) : undefined) });
    const batch = [
      { id: 'f1', type: 'agent.heartbeat', time: iso(Date.now()), source: 'o', agent: 'coder' },
      { id: 'f2', type: 'agent.heartbeat', time: iso(Date.now()), source: 'o', agent: 'coder' },
    ];
    const first = await t.app.server.inject({ method: 'POST', url: '/api/events', payload: batch });
    expect(first.statusCode).toBeGreaterThanOrEqual(500);
    expect(await post(batch)).toEqual({ accepted: 2, rejected: 0, errors: [] });
    const text = await t.scrape();
    expect(value(text, 'workflow_exporter_lifecycle_anomalies_total', { kind: 'duplicate_id' })).toBe(0);
    expect(t.app.accounting.size).toBe(2);
  });

  it('counts late events (still processed) past the configured horizon', async () => {
    t = await startApp({ accounting: { lateAfterSeconds: 60 } }, { listen: false });
    const now = Date.now();
    await post([
      { id: 'a', type: 'agent.heartbeat', time: iso(now - 30_000), source: 'o', agent: 'coder' },
      { id: 'b', type: 'agent.heartbeat', time: iso(now - 120_000), source: 'o', agent: 'coder' },
      { id: 'c', type: 'agent.heartbeat', time: iso(now - 3_600_000), source: 'o', agent: 'coder' },
    ]);
    const text = await t.scrape();
    expect(value(text, 'workflow_events_total')).toBe(3);
    expect(value(text, 'workflow_exporter_lifecycle_anomalies_total', { kind: 'late' })).toBe(2);
  });

  it('does not open a run whose end arrived before its start, and keeps a retried task working', async () => {
    t = await startApp({}, { listen: false });
    const now = Date.now();
    const wf = { id: 'wf-ooo', type: 'release' };
    const task = { id: 'build-1' };
    // arrival order: end, then start (out of order); the run must not stay active
    await post([{ id: 'o1', type: 'workflow.completed', time: iso(now - 1000), source: 'o', workflow: wf }]);
    await post([{ id: 'o2', type: 'workflow.started', time: iso(now - 9000), source: 'o', workflow: wf }]);
    // a task whose start was lost failed; its retry under the same task id comes later
    await post([{ id: 'o3', type: 'task.failed', time: iso(now - 7000), source: 'o', workflow: wf, task, agent: 'deployer' }]);
    await post([{ id: 'o5', type: 'task.completed', time: iso(now - 2000), source: 'o', workflow: wf, task: { id: 'build-2' }, agent: 'deployer' }]);
    await post([{ id: 'o6', type: 'task.started', time: iso(now - 3000), source: 'o', workflow: wf, task: { id: 'build-2' }, agent: 'deployer' }]);
    let text = await t.scrape();
    expect(value(text, 'workflow_runs_active')).toBe(0);
    expect(value(text, 'workflow_exporter_lifecycle_anomalies_total', { kind: 'end_without_start' })).toBe(3);
    expect(value(text, 'workflow_exporter_lifecycle_anomalies_total', { kind: 'out_of_order' })).toBe(2);
    expect(value(text, 'workflow_runs_started_total', { workflow_type: 'release' })).toBe(1);
    expect(value(text, 'workflow_runs_finished_total', { workflow_type: 'release', outcome: 'completed' })).toBe(1);

    // the retry of build-1 starts after the orphan end: a new attempt, not a late start
    await post([
      { id: 'o7', type: 'task.started', time: iso(now - 6000), source: 'o', workflow: wf, task, agent: 'deployer' },
      { id: 'o8', type: 'task.completed', time: iso(now - 4500), source: 'o', workflow: wf, task, agent: 'deployer' },
    ]);
    text = await t.scrape();
    expect(value(text, 'workflow_task_duration_seconds_count', { agent: 'deployer', outcome: 'failed' })).toBe(0);
    expect(value(text, 'workflow_task_duration_seconds_count', { agent: 'deployer', outcome: 'completed' })).toBe(1);
    expect(value(text, 'workflow_task_duration_seconds_sum', { agent: 'deployer', outcome: 'completed' })).toBe(1.5);
    expect(value(text, 'workflow_exporter_lifecycle_anomalies_total', { kind: 'out_of_order' })).toBe(2);
  });

  it('never observes a negative duration or leaves a negative gauge when an end is earlier than its start', async () => {
    t = await startApp({}, { listen: false });
    const now = Date.now();
    const wf = { id: 'wf-neg', type: 'release' };
    await post([
      { id: 'n1', type: 'workflow.started', time: iso(now - 1000), source: 'o', workflow: wf },
      { id: 'n2', type: 'workflow.completed', time: iso(now - 5000), source: 'o', workflow: wf },
      { id: 'n3', type: 'workflow.completed', time: iso(now), source: 'o', workflow: wf },
    ]);
    const text = await t.scrape();
    expect(value(text, 'workflow_exporter_lifecycle_anomalies_total', { kind: 'end_before_start' })).toBe(1);
    expect(value(text, 'workflow_run_duration_seconds_count')).toBe(0);
    expect(value(text, 'workflow_runs_active', { workflow_type: 'release', state: 'running' })).toBe(0);
    for (const line of text.split('\n')) if (line.startsWith('workflow_')) expect(line).not.toMatch(/ -\d/);
  });
});
