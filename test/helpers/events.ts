// Known event sets with known durations, so tests can assert exact counter and histogram values.
import type { CanonicalEventInput } from '../../src/events/schema.js';

export interface KnownSet {
  events: CanonicalEventInput[];
  /** expected values */
  runs: number;
  completed: number;
  failed: number;
  runSecondsSum: number;
  tasks: number;
  taskSecondsSum: number;
}

/**
 * `n` runs of workflow type `type`; run i starts at base + i s, has one stage with one task by agent
 * `coder` lasting 2 s (derived from start/end), and ends after 10 s (completed) or 4 s (failed, every
 * third run). Every event id is unique to `tag`.
 */
export function knownRuns(tag: string, n: number, type = 'feature-dev', baseMs = Date.now() - 120_000): KnownSet {
  const events: CanonicalEventInput[] = [];
  let completed = 0;
  let failed = 0;
  let runSecondsSum = 0;
  const iso = (ms: number) => new Date(ms).toISOString();
  for (let i = 0; i < n; i++) {
    const t0 = baseMs + i * 1000;
    const workflow = { id: `${tag}-wf-${i}`, type };
    const task = { id: `${tag}-t-${i}`, name: 'write-tests' };
    const fails = i % 3 === 2;
    const e = (k: string, type2: string, dt: number, extra: Partial<CanonicalEventInput> = {}) =>
      events.push({ id: `${tag}-${i}-${k}`, type: type2, time: iso(t0 + dt), source: 'orchestrator', workflow, ...extra });
    e('ws', 'workflow.started', 0);
    e('ss', 'stage.started', 500, { stage: 'coding' });
    e('ts', 'task.started', 1000, { stage: 'coding', task, agent: 'coder' });
    e('te', 'task.completed', 3000, { stage: 'coding', task, agent: 'coder' });
    e('se', fails ? 'stage.failed' : 'stage.completed', 3500, { stage: 'coding' });
    e('we', fails ? 'workflow.failed' : 'workflow.completed', fails ? 4000 : 10_000);
    if (fails) {
      failed++;
      runSecondsSum += 4;
    } else {
      completed++;
      runSecondsSum += 10;
    }
  }
  return { events, runs: n, completed, failed, runSecondsSum, tasks: n, taskSecondsSum: 2 * n };
}
