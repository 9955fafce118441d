// Unit tests of the sliding-window statistics, with a controlled clock.
import { describe, expect, test } from 'vitest';
import type { WorkflowEvent } from '../../events/schema.js';
import { outcomeClass, percentile, WindowStats } from './stats.js';

const e = (type: string, extra: Partial<WorkflowEvent> = {}): WorkflowEvent =>
  ({ id: 'x', type, time: '2026-01-01T00:00:00.000Z', source: 's', priority: 'normal', ...extra }) as WorkflowEvent;

describe('WindowStats', () => {
  test('nearest-rank percentiles', () => {
    const v = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(v, 50)).toBe(50);
    expect(percentile(v, 95)).toBe(95);
    expect(percentile(v, 99)).toBe(99);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
  });

  test('outcome classes', () => {
    expect(['task.failed', 'agent.error', 'workflow.completed', 'agent.response', 'task.started', 'queue.depth'].map(outcomeClass)).toEqual([
      'error',
      'error',
      'success',
      'success',
      undefined,
      undefined,
    ]);
  });

  test('counts, rates, error ratio and percentiles over the window; old seconds fall out', () => {
    let now = 1_000_000_000_000; // a whole second
    const s = new WindowStats(10, () => now);
    for (let i = 1; i <= 20; i++) s.add(e('workflow.completed', { workflow: { id: `w${i}`, type: 'feature-dev' } }), i);
    s.add(e('workflow.failed', { workflow: { id: 'wx', type: 'feature-dev' } }), 100);
    s.add(e('task.completed', { agent: 'coder' }), 2);
    s.add(e('task.failed', { agent: 'coder' }), NaN); // no duration: counted, not sampled
    s.add(e('agent.heartbeat', { agent: 'coder' }), NaN);
    now += 3000;
    s.add(e('task.completed', { agent: 'tester' }), 0.5);

    let w = s.snapshot();
    expect(w.events).toBe(25);
    expect(w.rate_per_second).toBe(25 / 4); // four seconds since the stats began
    expect(w.outcomes).toBe(24);
    expect(w.errors).toBe(2);
    expect(w.error_ratio).toBe(2 / 24);
    expect(w.by_type).toEqual({ 'workflow.completed': 20, 'task.completed': 2, 'agent.heartbeat': 1, 'task.failed': 1, 'workflow.failed': 1 });
    expect(w.latency_seconds.workflow_type['feature-dev']).toEqual({ count: 21, p50: 11, p95: 20, p99: 100 });
    expect(w.latency_seconds.agent).toEqual({ coder: { count: 1, p50: 2, p95: 2, p99: 2 }, tester: { count: 1, p50: 0.5, p95: 0.5, p99: 0.5 } });
    expect(w.series.events.slice(-4)).toEqual([24, 0, 0, 1]);
    expect(w.series.errors.slice(-4)).toEqual([2, 0, 0, 0]);
    expect(w.series.start).toBe(now / 1000 - 9);

    now += 8000; // the first second is now 11 s old, outside the 10 s window
    w = s.snapshot();
    expect(w.events).toBe(1);
    expect(w.rate_per_second).toBe(1 / 10);
    expect(w.error_ratio).toBe(0);
    expect(Object.keys(w.latency_seconds.workflow_type)).toEqual([]);
  });
});
