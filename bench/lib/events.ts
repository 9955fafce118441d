// The bench workload: one deterministic mix of canonical events, rendered as NDJSON bodies, bus
// messages and log lines, so every subject (exporter, references, mtail) sees the same events.

/** A workflow run as the exporter's users emit it: 10 events touching every metric family. */
const RUN_SHAPE: { type: string; extra: Record<string, unknown> }[] = [
  { type: 'workflow.started', extra: {} },
  { type: 'stage.started', extra: { stage: 'coding' } },
  { type: 'task.started', extra: { stage: 'coding', task: { id: 't1', name: 'write-code' }, agent: 'coder' } },
  { type: 'agent.request', extra: { agent: 'coder', model: 'model-a', tokens_in: 1200 } },
  { type: 'agent.response', extra: { agent: 'coder', model: 'model-a', tokens_out: 350, duration_ms: 840 } },
  { type: 'task.completed', extra: { stage: 'coding', task: { id: 't1', name: 'write-code' }, agent: 'coder', duration_ms: 1840 } },
  { type: 'stage.completed', extra: { stage: 'coding' } },
  { type: 'queue.depth', extra: { queue: { name: 'tasks', depth: 12 } } },
  { type: 'agent.heartbeat', extra: { agent: 'coder' } },
  { type: 'workflow.completed', extra: { attributes: { repo: 'web', pr: 4211 } } },
];
export const EVENTS_PER_RUN = RUN_SHAPE.length;

const WORKFLOW_TYPES = ['feature-dev', 'bug-fix', 'code-review', 'release'];
const PRIORITIES = ['low', 'normal', 'high', 'critical'];

/**
 * A placeholder replaced by a per-body sequence number: every body has run ids of its own. Plain
 * ASCII, so JSON.stringify leaves it as is (a control character would be escaped and never found).
 */
export const SEQ = '~SEQ~';

export interface CanonicalLike {
  id: string;
  type: string;
  time: string;
  source: string;
  workflow: { id: string; type: string };
  priority: string;
  [k: string]: unknown;
}

/** The events of run `r` (ids contain SEQ until rendered). */
export function runEvents(r: number, timeIso: string, seq: string = SEQ): CanonicalLike[] {
  const wf = `wf-${seq}-${r}`;
  const workflow = { id: wf, type: WORKFLOW_TYPES[r % WORKFLOW_TYPES.length] };
  return RUN_SHAPE.map((s, i) => ({
    id: `${wf}-${i}`,
    type: s.type,
    time: timeIso,
    source: 'orchestrator',
    workflow,
    priority: PRIORITIES[(r + i) % PRIORITIES.length],
    ...s.extra,
  }));
}

/**
 * NDJSON bodies of `perBody` events, pre-rendered around SEQ: render(k) costs one join, so the
 * load generator spends its CPU on sending, not on building JSON.
 */
export function ndjsonTemplate(perBody: number, timeIso: string, stamp = false): { render(seq: number): string } {
  const lines: string[] = [];
  for (let r = 0; lines.length < perBody; r++) {
    for (const e of runEvents(r, timeIso)) {
      // a sent_ms slot in every event, filled per body by the load generator (tail latency)
      if (stamp) e.attributes = { sent_ms: 0, ...(e.attributes as object | undefined) };
      if (lines.length < perBody) lines.push(JSON.stringify(e));
    }
  }
  const parts = lines.join('\n').split(SEQ);
  return { render: (seq) => parts.join(String(seq)) };
}

/** Single events as strings, for bus publishers: run ids unique per `seq` block of 10 runs. */
export function eventStrings(count: number, timeIso: string): string[] {
  const out: string[] = [];
  for (let b = 0; out.length < count; b++) {
    for (let r = 0; r < 10 && out.length < count; r++) {
      for (const e of runEvents(r, timeIso, String(b))) if (out.length < count) out.push(JSON.stringify(e));
    }
  }
  return out;
}

/** The same event as a log line for mtail: the fields its program reads, key=value. */
export function logLine(e: CanonicalLike): string {
  const parts = [e.time, `id=${e.id}`, `type=${e.type}`, `source=${e.source}`, `workflow_type=${e.workflow.type}`, `workflow_id=${e.workflow.id}`];
  if (typeof e.agent === 'string') parts.push(`agent=${e.agent}`);
  if (typeof e.stage === 'string') parts.push(`stage=${e.stage}`);
  if (typeof e.duration_ms === 'number') parts.push(`duration_ms=${e.duration_ms}`);
  parts.push(`priority=${e.priority}`);
  return parts.join(' ');
}

export function logLines(count: number, timeIso: string): string[] {
  const out: string[] = [];
  for (let b = 0; out.length < count; b++) {
    for (let r = 0; r < 10 && out.length < count; r++) {
      for (const e of runEvents(r, timeIso, String(b))) if (out.length < count) out.push(logLine(e));
    }
  }
  return out;
}

/**
 * Events spreading label values so the exporter holds about `series` time series: stage and task
 * histograms across many workflow types, stages and agents (each histogram series is ~16 lines).
 */
export function seriesSpread(workflowTypes: number, stages: number, agents: number, timeIso: string): string[] {
  const out: string[] = [];
  let n = 0;
  for (let w = 0; w < workflowTypes; w++) {
    for (let s = 0; s < stages; s++) {
      for (const outcome of ['completed', 'failed']) {
        const base = { time: timeIso, source: 'orchestrator', workflow: { id: `spread-${n}`, type: `wt-${w}` }, stage: `st-${s}`, priority: 'normal' };
        out.push(JSON.stringify({ ...base, id: `spread-${n++}`, type: `stage.${outcome}`, duration_ms: 1000 + s }));
      }
    }
  }
  for (let a = 0; a < agents; a++) {
    for (const outcome of ['completed', 'failed']) {
      out.push(
        JSON.stringify({
          id: `spread-${n++}`,
          type: `task.${outcome}`,
          time: timeIso,
          source: 'orchestrator',
          workflow: { id: `spread-a${a}`, type: 'feature-dev' },
          task: { id: `t-${a}` },
          agent: `ag-${a}`,
          duration_ms: 500 + a,
          priority: 'normal',
        }),
      );
    }
  }
  return out;
}
