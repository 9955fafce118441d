import { describe, expect, it } from 'vitest';
import { MemoryLifecycleStore } from './memory.js';
import { opFor, outcomeOf, type LifecycleOp } from './lifecycle.js';
import type { WorkflowEvent } from '../events/schema.js';

function ev(type: string, extra: Partial<WorkflowEvent> = {}): WorkflowEvent {
  return { id: `${type}-${Math.random()}`, type, time: '2026-11-20T10:00:00Z', source: 's', priority: 'normal', ...extra };
}

function store(max = 100) {
  const anomalies: string[] = [];
  return { s: new MemoryLifecycleStore(max, (k) => anomalies.push(k)), anomalies };
}

const wf = { id: 'wf-1', type: 'feature-dev' };

describe('opFor', () => {
  it('maps lifecycle events to ops keyed by their ids', () => {
    expect(opFor(ev('workflow.started', { workflow: wf }), 5)).toEqual({ op: 'W', key: 'w:wf-1', run: 'wf-1', workflowType: 'feature-dev', timeMs: 5 });
    expect(opFor(ev('workflow.cancelled', { workflow: wf }), 5)?.op).toBe('X');
    expect(opFor(ev('workflow.paused', { workflow: wf }), 5)?.op).toBe('P');
    expect(opFor(ev('stage.started', { workflow: wf, stage: 'plan' }), 5)?.key).toBe('s:["wf-1","plan"]');
    // ids that contain the old separator no longer meet: a:b + c is not a + b:c
    const k1 = opFor(ev('stage.started', { workflow: { id: 'a:b', type: 'x' }, stage: 'c' }), 5)?.key;
    const k2 = opFor(ev('stage.started', { workflow: { id: 'a', type: 'x' }, stage: 'b:c' }), 5)?.key;
    expect(k1).not.toBe(k2);
    expect(opFor(ev('task.failed', { task: { id: 't1' } }), 5)).toMatchObject({ op: 'E', key: 't:["","t1"]' });
    // no id to match on, or not a lifecycle event: no op
    expect(opFor(ev('workflow.started'), 5)).toBeUndefined();
    expect(opFor(ev('stage.started', { workflow: wf }), 5)).toBeUndefined();
    expect(opFor(ev('agent.heartbeat', { agent: 'a' }), 5)).toBeUndefined();
    expect(outcomeOf('workflow.failed')).toBe('failed');
    expect(outcomeOf('workflow.started')).toBeUndefined();
  });
});

describe('MemoryLifecycleStore', () => {
  const W = (key: string, t: number, op: LifecycleOp['op'] = 'W'): LifecycleOp => ({ op, key: `w:${key}`, run: key, workflowType: 'ft', timeMs: t });

  it('matches a start to its end and tracks active runs by state', () => {
    const { s, anomalies } = store();
    expect(s.apply([W('a', 1000), W('b', 2000)])).toEqual([NaN, NaN]);
    expect(s.activeRuns()).toEqual([{ workflow_type: 'ft', state: 'running', count: 2 }]);
    s.apply([W('a', 3000, 'P')]);
    expect(s.activeRuns()).toEqual([
      { workflow_type: 'ft', state: 'running', count: 1 },
      { workflow_type: 'ft', state: 'paused', count: 1 },
    ]);
    const end = W('a', 9000, 'X');
    expect(s.apply([end])).toEqual([1000]);
    expect(end.startType).toBe('ft');
    // a state whose count is back to 0 is gone, not a 0 kept forever
    expect(s.activeRuns()).toEqual([{ workflow_type: 'ft', state: 'running', count: 1 }]);
    expect(anomalies).toEqual([]);
  });

  it('counts a redelivered start once and an end without start as an anomaly, never going negative', () => {
    const { s, anomalies } = store();
    s.apply([W('a', 1000), W('a', 1000)]);
    expect(s.activeRuns()).toEqual([{ workflow_type: 'ft', state: 'running', count: 1 }]);
    expect(s.apply([W('a', 2000, 'X'), W('a', 2000, 'X')])).toEqual([1000, NaN]);
    expect(s.activeRuns()).toEqual([]);
    expect(anomalies).toEqual(['duplicate_start', 'end_without_start']);
  });

  it('evicts in start order, skipping entries that ended or restarted since', () => {
    const { s, anomalies } = store(2);
    s.apply([W('a', 1), W('b', 2), W('a', 3, 'X'), W('a', 4), W('c', 5)]);
    // 'a' ended and started again after 'b': 'b' is now the oldest open entry
    expect(anomalies).toEqual(['evicted']);
    expect(s.apply([W('b', 6, 'X'), W('a', 7, 'X'), W('c', 8, 'X')])).toEqual([NaN, 4, 5]);
    // long churn keeps the queue compacted and the order right
    for (let i = 0; i < 20_000; i++) s.apply([W(`k${i}`, 10 + i), W(`k${i}`, 10 + i, 'X')]);
    s.apply([W('x', 1e6), W('y', 1e6 + 1), W('z', 1e6 + 2)]);
    expect(s.apply([W('x', 2e6, 'X'), W('y', 2e6, 'X')])).toEqual([NaN, 1e6 + 1]);
  });

  it('keeps the eviction queue near the open count when entries end long before maxEntries (no growth toward 2x maxEntries)', () => {
    const { s } = store(200_000);
    const queued = () => {
      const q = s as unknown as { order: unknown[]; head: number };
      return q.order.length - q.head;
    };
    for (let i = 0; i < 10; i++) s.apply([W(`open${i}`, i)]);
    let most = 0;
    for (let i = 0; i < 100_000; i++) {
      s.apply([W(`k${i}`, 100 + i), W(`k${i}`, 100 + i, 'X')]);
      most = Math.max(most, queued());
    }
    expect(most).toBe(2 * 11 + 1024); // 11 open while a k entry is started: compacted past that
    // start order still right after all that compaction
    expect(s.apply([W('open0', 1e6, 'X'), W('open9', 1e6, 'X')])).toEqual([0, 9]);
  });

  it('evicts the oldest open entry past maxEntries and releases its active count', () => {
    const { s, anomalies } = store(2);
    s.apply([W('a', 1), W('b', 2), W('c', 3)]);
    expect(anomalies).toEqual(['evicted']);
    expect(s.activeRuns()).toEqual([{ workflow_type: 'ft', state: 'running', count: 2 }]);
    expect(s.apply([W('a', 4, 'X')])).toEqual([NaN]);
  });

  it('keeps a workflow type with a NUL (or any separator) whole: no made-up state label', () => {
    const { s } = store();
    const t = (type: string, key: string, op: LifecycleOp['op'] = 'W'): LifecycleOp => ({ op, key: `w:${key}`, run: key, workflowType: type, timeMs: 1 });
    s.apply([t('x\u0000state-1', 'a'), t('x\u0000state-2', 'b'), t('x', 'c'), t('x', 'c', 'P')]);
    expect(s.activeRuns()).toEqual([
      { workflow_type: 'x\u0000state-1', state: 'running', count: 1 },
      { workflow_type: 'x\u0000state-2', state: 'running', count: 1 },
      { workflow_type: 'x', state: 'paused', count: 1 },
    ]);
  });

  it('forgets workflow types whose runs all finished: 100,000 finished types leave nothing behind', () => {
    const { s } = store();
    s.apply([{ op: 'W', key: 'w:open', run: 'open', workflowType: 'still-open', timeMs: 1 }]);
    for (let i = 0; i < 100_000; i++) {
      const o = { key: `w:r${i}`, run: `r${i}`, workflowType: `type-${i}`, timeMs: 2 };
      s.apply([{ op: 'W', ...o }, { op: 'P', ...o }, { op: 'X', ...o }]);
    }
    expect(s.activeRuns()).toEqual([{ workflow_type: 'still-open', state: 'running', count: 1 }]);
    expect((s as unknown as { active: Map<string, unknown> }).active.size).toBe(1);
  });
});
