// Agents: tasks and errors per agent, task latency percentiles, and a last-seen matrix in which a
// silent agent turns red at a glance.
import { catalog as c } from '../../sinks/metrics/catalog.js';
import { rec, sel, sumRate } from '../promql.js';
import { QUANTILES, R } from '../recording.js';
import type { AscodeSettings } from '../thresholds.js';
import { v, type DashboardSpec } from './common.js';

const RI = '$__rate_interval';

export function agentsDashboard(s: AscodeSettings): DashboardSpec {
  const ag = { agent: v('agent') };
  const silent = s.thresholds.agentSilentSeconds;
  const sinceSeen = `time() - max by (agent) (${sel(c.agentLastSeen, ag)})`;
  // yellow after a quarter of the silence threshold: heartbeats are seconds apart
  const seenSteps = [
    { value: Math.round(silent / 4), color: 'yellow' },
    { value: silent, color: 'red' },
  ];
  return {
    key: 'agents',
    description: 'Per agent: work done, failures, latency, and when each was last heard from.',
    version: 1,
    tags: ['agents'],
    variables: ['agent'],
    rows: [
      {
        title: 'Liveness',
        panels: [
          {
            kind: 'statushistory',
            title: 'Last seen (seconds ago)',
            description: `Seconds since an event named the agent; red past the ${silent}s silence alert threshold.`,
            unit: 's',
            width: 16,
            height: 9,
            thresholds: seenSteps,
            queries: [{ expr: sinceSeen, legend: '{{agent}}' }],
          },
          {
            kind: 'bargauge',
            title: 'Silent for',
            description: 'Seconds since each agent was last seen, now.',
            unit: 's',
            width: 8,
            height: 9,
            thresholds: seenSteps,
            queries: [{ expr: sinceSeen, legend: '{{agent}}', instant: true }],
          },
        ],
      },
      {
        title: 'Tasks',
        panels: [
          { kind: 'timeseries', title: 'Tasks per agent', description: 'Finished tasks per second.', unit: 'reqps', queries: [{ expr: sumRate(c.tasksTotal, ['agent'], RI, ag), legend: '{{agent}}' }] },
          {
            kind: 'timeseries',
            title: 'Task errors per agent',
            description: 'Failed tasks per second.',
            unit: 'reqps',
            queries: [{ expr: sumRate(c.tasksTotal, ['agent'], RI, { ...ag, outcome: 'failed' }), legend: '{{agent}}' }],
          },
          {
            kind: 'timeseries',
            title: 'Task error ratio per agent',
            description: 'Failed over finished tasks, 5 minutes (recording rule).',
            unit: 'percentunit',
            min: 0,
            max: 1,
            queries: [{ expr: rec(R.tasksErrorRatio, ag), legend: '{{agent}}' }],
          },
          {
            kind: 'timeseries',
            title: 'p95 task latency per agent',
            description: 'From the task duration histogram, 5 minutes (recording rule).',
            unit: 's',
            queries: [{ expr: rec(R.taskDuration(0.95), ag), legend: '{{agent}}' }],
          },
          {
            kind: 'table',
            title: 'Task latency percentiles',
            description: 'p50, p95 and p99 task latency per agent, now.',
            unit: 's',
            width: 24,
            queries: QUANTILES.map((q) => ({ expr: rec(R.taskDuration(q), ag), legend: `p${Math.round(q * 100)}`, instant: true, format: 'table' as const })),
          },
        ],
      },
    ],
  };
}
