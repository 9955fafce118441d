// Label values taken from hostile strings: a NUL never splits a series into made-up labels, lone
// surrogates never render distinct series as identical lines, truncation never splits a pair.
import { afterEach, describe, expect, it } from 'vitest';
import { parsePrometheusText, value } from './helpers/metrics.js';
import { startApp, type TestApp } from './helpers/app.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

async function post(events: unknown[]): Promise<void> {
  const res = await t!.app.server.inject({ method: 'POST', url: '/api/events', payload: events });
  expect(res.statusCode).toBe(202);
}

describe('label values from hostile strings', () => {
  it('a NUL inside a workflow type stays inside it: no workflow_runs_active series with a made-up state', async () => {
    t = await startApp({}, { listen: false });
    const now = new Date().toISOString();
    await post(Array.from({ length: 20 }, (_, i) => ({ id: `n${i}`, type: 'workflow.started', time: now, source: 's', workflow: { id: `wf-${i}`, type: `x\u0000state-${i}` } })));
    const active = parsePrometheusText(await t.scrape()).filter((s) => s.name === 'workflow_runs_active');
    expect(active.map((s) => s.labels.state)).toEqual(Array(20).fill('running'));
    expect(active.map((s) => s.labels.workflow_type).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `x\u0000state-${i}`).sort());
    expect(active.map((s) => s.value)).toEqual(Array(20).fill(1));
  });

  it('three agents that differ only in a lone surrogate are one series with every task counted, and the replacement is counted', async () => {
    t = await startApp({}, { listen: false });
    const now = new Date().toISOString();
    const task = (id: string, agent: string) => ({ id, type: 'task.completed', time: now, source: 's', agent, task: { id } });
    // JSON escapes: the body is valid UTF-8, the decoded strings hold lone surrogates
    await post([task('1', 'a\ud800'), task('2', 'a\ud800'), task('3', 'a\udc00'), task('4', 'a\ud801')]);
    const text = await t.scrape();
    const lines = parsePrometheusText(text).filter((s) => s.name === 'workflow_tasks_total');
    expect(lines).toEqual([{ name: 'workflow_tasks_total', labels: { agent: 'a\ufffd', outcome: 'completed' }, value: 4 }]);
    // counted per use of the value, as every guard outcome: last-seen and the task counter, per event
    expect(value(text, 'workflow_exporter_label_overflow_total', { label: 'agent', kind: 'malformed' })).toBe(8);
  });

  it('truncation to maxLabelLength never splits a surrogate pair', async () => {
    t = await startApp({ metrics: { maxLabelLength: 16 } }, { listen: false });
    const now = new Date().toISOString();
    // 15 code units, then U+1F600 (two code units) across the cut at 16
    await post([{ id: 'p', type: 'workflow.started', time: now, source: 's', workflow: { id: 'wf', type: `${'w'.repeat(15)}\u{1f600}-rest` } }]);
    const text = await t.scrape();
    const started = parsePrometheusText(text).filter((s) => s.name === 'workflow_runs_started_total');
    expect(started.map((s) => s.labels.workflow_type)).toEqual(['w'.repeat(15)]);
    expect(value(text, 'workflow_exporter_label_overflow_total', { label: 'workflow_type', kind: 'truncated' })).toBe(1);
  });
});
