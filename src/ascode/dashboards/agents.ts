// Agents: tasks and errors per agent, task latency percentiles, and a last-seen matrix in which a
// silent agent turns red at a glance.
import { catalog as c } from '../../metrics/catalog.js';
import { num, quantile, rec, sel, sumRate } from '../promql.js';
import { QUANTILES, R } from '../recording.js';
import type { AscodeSettings } from '../../config/ascode.js';
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
    description: 'Per agent: work done, failures, latency, when each was last heard from, model spend and tool calls.',
    version: 2,
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
            description: 'From the task duration histogram over the rate interval; the dots are exemplars, each linking to the trace of one task (OTLP sources).',
            unit: 's',
            queries: [{ expr: quantile(0.95, c.taskDuration, ['agent'], RI, ag), legend: '{{agent}}' }],
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
      {
        title: 'Cost, tokens and tools',
        panels: [
          {
            kind: 'timeseries',
            title: 'Tokens per agent',
            description: 'Model tokens per second by agent and direction (in, out).',
            unit: 'short',
            width: 8,
            queries: [{ expr: sumRate(c.agentTokens, ['agent', 'direction'], RI, ag), legend: '{{agent}} {{direction}}' }],
          },
          {
            kind: 'timeseries',
            title: 'Spend per day by model',
            description: 'Model cost in US dollars per day at the current rate, by agent and model.',
            unit: 'currencyUSD',
            width: 8,
            queries: [{ expr: `${sumRate(c.agentCost, ['agent', 'model'], RI, ag)} * 86400`, legend: '{{agent}} {{model}}' }],
          },
          {
            kind: 'timeseries',
            title: 'Budget burn',
            description: 'Spend over the last hour projected to a day, as a multiple of the agent daily budget (agents.budgets); the lines are the alert thresholds.',
            unit: 'short',
            width: 8,
            thresholds: [
              { value: s.thresholds.budgetBurnWarning, color: 'orange' },
              { value: s.thresholds.budgetBurnCritical, color: 'red' },
            ],
            queries: [{ expr: `sum by (agent) (rate(${sel(c.agentCost, ag)}[1h])) * 86400 / max by (agent) (${sel(c.agentBudget, ag)})`, legend: `{{agent}} (x budget, alert at ${num(s.thresholds.budgetBurnWarning)})` }],
          },
          {
            kind: 'timeseries',
            title: 'Tool calls',
            description: 'Tool calls per second by agent, tool and outcome.',
            unit: 'reqps',
            width: 8,
            queries: [{ expr: sumRate(c.toolCalls, ['agent', 'tool', 'outcome'], RI, ag), legend: '{{agent}} {{tool}} {{outcome}}' }],
          },
          {
            kind: 'timeseries',
            title: 'p95 tool latency',
            description: 'From the tool call duration histogram, by agent and tool.',
            unit: 's',
            width: 8,
            queries: [{ expr: quantile(0.95, c.toolDuration, ['agent', 'tool'], RI, ag), legend: '{{agent}} {{tool}}' }],
          },
          {
            kind: 'timeseries',
            title: 'p95 queue wait',
            description: 'Time tasks waited between enqueued and started (task.started with enqueued_at or queue_wait_ms), by agent.',
            unit: 's',
            width: 8,
            queries: [{ expr: quantile(0.95, c.taskQueueWait, ['agent'], RI, ag), legend: '{{agent}}' }],
          },
        ],
      },
    ],
  };
}
