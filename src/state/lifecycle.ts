// Lifecycle state: start events matched to their end events, and the open runs behind workflow_runs_active.
import type { WorkflowEvent } from '../events/schema.js';

export type AnomalyKind = 'end_without_start' | 'duplicate_start' | 'end_before_start' | 'evicted' | 'pause_without_start';
export type AnomalyCounter = (kind: AnomalyKind) => void;

export interface OpenRun {
  run: string;
  workflowType: string;
  startMs: number;
  state: 'running' | 'paused';
}

export interface ActiveRuns {
  workflow_type: string;
  state: 'running' | 'paused';
  count: number;
}

/**
 * One lifecycle operation per event, in the order events arrived:
 *   W  workflow start (counts an active run)      X  workflow end (releases it)
 *   P  workflow pause       R  workflow resume
 *   S  stage/task start     E  stage/task end
 */
export type Op = 'W' | 'X' | 'P' | 'R' | 'S' | 'E';

export interface LifecycleOp {
  op: Op;
  key: string;
  /** workflow id (member of the active set) */
  run: string;
  workflowType: string;
  timeMs: number;
  /** set by the store on a matched end: the workflow type recorded at start (ends often omit it) */
  startType?: string;
}

export interface LifecycleStore {
  /**
   * Applies the ops; returns, per op, the matched start time (epoch ms) for end ops, else NaN.
   * Anomalies are counted through the counter given to the store.
   */
  apply(ops: LifecycleOp[]): Promise<number[]> | number[];
  activeRuns(): Promise<ActiveRuns[]> | ActiveRuns[];
  /** open runs started before `beforeMs` (stuck-run detection) */
  openRunsBefore?(beforeMs: number): Promise<OpenRun[]>;
  /** per workflow type, open runs started before cutoff(type); types whose cutoff is undefined are skipped */
  overdueCounts?(cutoff: (workflowType: string) => number | undefined): Promise<{ workflowType: string; count: number }[]>;
  close(): Promise<void>;
}

export const UNKNOWN = 'unknown';

const END_OUTCOME: Record<string, string> = {
  completed: 'completed',
  failed: 'failed',
  cancelled: 'cancelled',
};

/** The op an event implies, or undefined when it has no lifecycle meaning. */
export function opFor(e: WorkflowEvent, timeMs: number): LifecycleOp | undefined {
  const dot = e.type.indexOf('.');
  if (dot < 0) return undefined;
  const kind = e.type.slice(0, dot);
  const verb = e.type.slice(dot + 1);
  const wf = e.workflow;
  const workflowType = wf?.type ?? UNKNOWN;
  if (kind === 'workflow') {
    if (!wf) return undefined;
    const key = `w:${wf.id}`;
    const base = { key, run: wf.id, workflowType, timeMs };
    if (verb === 'started') return { op: 'W', ...base };
    if (END_OUTCOME[verb]) return { op: 'X', ...base };
    if (verb === 'paused') return { op: 'P', ...base };
    if (verb === 'resumed') return { op: 'R', ...base };
    return undefined;
  }
  if (kind === 'stage') {
    if (!e.stage || !wf) return undefined;
    // two ids in one key: JSON keeps them apart where a separator could occur inside an id
    const key = `s:${JSON.stringify([wf.id, e.stage])}`;
    if (verb === 'started') return { op: 'S', key, run: wf.id, workflowType, timeMs };
    if (END_OUTCOME[verb]) return { op: 'E', key, run: wf.id, workflowType, timeMs };
    return undefined;
  }
  if (kind === 'task') {
    if (!e.task) return undefined;
    const key = `t:${JSON.stringify([wf?.id ?? '', e.task.id])}`;
    if (verb === 'started') return { op: 'S', key, run: wf?.id ?? '', workflowType, timeMs };
    if (END_OUTCOME[verb]) return { op: 'E', key, run: wf?.id ?? '', workflowType, timeMs };
  }
  return undefined;
}

/** The outcome label of an end event type (workflow.failed -> failed), or undefined. */
export function outcomeOf(type: string): string | undefined {
  const dot = type.lastIndexOf('.');
  return END_OUTCOME[type.slice(dot + 1)];
}
