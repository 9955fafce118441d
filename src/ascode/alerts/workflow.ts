// The workflow-alerts group: run latency, error ratio, silent agents, overdue runs, agent spend and
// queue depth, each with its promtool cases.
import { catalog } from '../../metrics/catalog.js';
import { num, rec, sel } from '../promql.js';
import { R } from '../recording.js';
import { AGENT, buckets, flat, input, minutesOf, ratioCounts, rising, WT, type AlertContext, type AlertFamily } from './common.js';

/** Agent spend over `window` projected to a day, as a multiple of its daily budget. */
function budgetBurn(window: string, factor: number): string {
  return `sum by (agent) (rate(${sel(catalog.agentCost)}[${window}])) * 86400 / max by (agent) (${sel(catalog.agentBudget)}) > ${num(factor)}`;
}


export function runLatencyHigh({ t, f, c, secs }: AlertContext): AlertFamily {
  const latencyFor = minutesOf(f.runLatency);
  return {
    name: 'WorkflowRunLatencyHigh',
    file: 'workflow-alerts',
    group: 'workflow-alerts',
    rules: [{ severity: 'warning', expr: `${rec(R.runDuration(0.95))} > ${num(t.runLatencyP95Seconds)}`, for: f.runLatency }],
    value: 'seconds',
    summary: (x) => `p95 run duration of ${x.label('workflow_type')} is ${x.value}`,
    description: (x) =>
      `95% of ${x.label('workflow_type')} runs that finished in the last 5m took up to ${x.value}, above the ${secs(t.runLatencyP95Seconds)} threshold for ${f.runLatency}. Look for a slow stage or agent.`,
    dashboard: { key: 'overview', vars: { workflow_type: 'workflow_type' } },
    cases: [
      {
        name: 'runs slower than the threshold',
        series: buckets(c.runDuration, { workflow_type: WT, outcome: 'completed' }, t.runLatencyP95Seconds * 2, rising(10, latencyFor + 20)),
        atMinutes: latencyFor + 10,
        // every run lands in (0, 2T]: histogram_quantile interpolates p95 to 1.9T
        expect: [{ severity: 'warning', labels: { workflow_type: WT }, value: t.runLatencyP95Seconds * 1.9 }],
      },
      {
        name: 'runs faster than the threshold',
        series: buckets(c.runDuration, { workflow_type: WT, outcome: 'completed' }, t.runLatencyP95Seconds / 2, rising(10, latencyFor + 20)),
        atMinutes: latencyFor + 10,
        expect: [],
      },
    ],
  };
}

export function errorRatioHigh({ t, f, c, pct }: AlertContext): AlertFamily {
  const errFor = minutesOf(f.errorRatio);
  const errMid = ratioCounts((t.errorRatioWarning + t.errorRatioCritical) / 2);
  const errLow = ratioCounts(t.errorRatioWarning / 2);
  return {
    name: 'WorkflowErrorRatioHigh',
    file: 'workflow-alerts',
    group: 'workflow-alerts',
    rules: [
      { severity: 'warning', expr: `${rec(R.runsErrorRatio('5m'))} > ${num(t.errorRatioWarning)}`, for: f.errorRatio },
      { severity: 'critical', expr: `${rec(R.runsErrorRatio('5m'))} > ${num(t.errorRatioCritical)}`, for: f.errorRatio },
    ],
    value: 'percent',
    summary: (x) => `${x.value} of ${x.label('workflow_type')} runs are failing`,
    description: (x) =>
      `${x.value} of ${x.label('workflow_type')} runs that finished in the last 5m failed (warning above ${pct(t.errorRatioWarning)}, critical above ${pct(t.errorRatioCritical)}). Check the failing stages and agents.`,
    dashboard: { key: 'overview', vars: { workflow_type: 'workflow_type' } },
    cases: [
      {
        name: 'ratio between the warning and critical thresholds',
        series: [
          input(c.runsFinished, { workflow_type: WT, outcome: 'failed' }, rising(errMid.bad, errFor + 20)),
          input(c.runsFinished, { workflow_type: WT, outcome: 'completed' }, rising(errMid.good, errFor + 20)),
        ],
        atMinutes: errFor + 10,
        expect: [{ severity: 'warning', labels: { workflow_type: WT }, value: errMid.bad / 1000 }],
      },
      {
        name: 'every run failing',
        series: [input(c.runsFinished, { workflow_type: WT, outcome: 'failed' }, rising(10, errFor + 20))],
        atMinutes: errFor + 10,
        expect: [
          { severity: 'warning', labels: { workflow_type: WT }, value: 1 },
          { severity: 'critical', labels: { workflow_type: WT }, value: 1 },
        ],
      },
      {
        name: 'ratio below the warning threshold',
        series: [
          input(c.runsFinished, { workflow_type: WT, outcome: 'failed' }, rising(errLow.bad, errFor + 20)),
          input(c.runsFinished, { workflow_type: WT, outcome: 'completed' }, rising(errLow.good, errFor + 20)),
        ],
        atMinutes: errFor + 10,
        expect: [],
      },
    ],
  };
}

export function agentSilent({ t, f, c, secs }: AlertContext): AlertFamily {
  const silentMin = Math.ceil(t.agentSilentSeconds / 60);
  return {
    name: 'WorkflowAgentSilent',
    file: 'workflow-alerts',
    group: 'workflow-alerts',
    rules: [{ severity: 'warning', expr: `time() - max by (agent) (${sel(c.agentLastSeen)}) > ${num(t.agentSilentSeconds)}`, for: f.agentSilent }],
    value: 'seconds',
    summary: (x) => `Agent ${x.label('agent')} has been silent for ${x.value}`,
    description: (x) =>
      `No event has named agent ${x.label('agent')} for ${x.value} (threshold ${secs(t.agentSilentSeconds)}): it may be down, stuck or cut off from the bus, and its tasks wait.`,
    dashboard: { key: 'agents', vars: { agent: 'agent' } },
    cases: (() => {
      const at = 5 + silentMin + minutesOf(f.agentSilent) + 2;
      return [
        {
          name: 'agent stops after 5 minutes',
          series: [input(c.agentLastSeen, { agent: AGENT }, `0+60x5 300+0x${at + 5}`)],
          atMinutes: at,
          expect: [{ severity: 'warning' as const, labels: { agent: AGENT }, value: at * 60 - 300 }],
        },
        { name: 'agent reporting every minute', series: [input(c.agentLastSeen, { agent: AGENT }, `0+60x${at + 5}`)], atMinutes: at, expect: [] },
      ];
    })(),
  };
}

export function runsOverdue({ f, c }: AlertContext): AlertFamily {
  return {
    name: 'WorkflowRunsOverdue',
    file: 'workflow-alerts',
    group: 'workflow-alerts',
    rules: [{ severity: 'warning', expr: `max by (workflow_type) (${sel(c.runsOverdue)}) > 0`, for: f.runsOverdue }],
    value: 'number',
    summary: (x) => `${x.value} ${x.label('workflow_type')} runs are past their deadline`,
    description: (x) =>
      `${x.value} ${x.label('workflow_type')} runs have been open longer than the deadline configured for their type (runs.deadlines) with no end event. GET /api/runs/overdue on the exporter lists them; pause or cancel them from the live page.`,
    dashboard: { key: 'overview', vars: { workflow_type: 'workflow_type' } },
    cases: (() => {
      const at = minutesOf(f.runsOverdue) + 5;
      return [
        { name: 'runs stuck past the deadline', series: [input(c.runsOverdue, { workflow_type: WT }, flat(3, at + 5))], atMinutes: at, expect: [{ severity: 'warning' as const, labels: { workflow_type: WT }, value: 3 }] },
        { name: 'no run past the deadline', series: [input(c.runsOverdue, { workflow_type: WT }, flat(0, at + 5))], atMinutes: at, expect: [] },
      ];
    })(),
  };
}

export function agentBudgetBurn({ t, f, c }: AlertContext): AlertFamily {
  return {
    name: 'WorkflowAgentBudgetBurn',
    file: 'workflow-alerts',
    group: 'workflow-alerts',
    rules: [
      { severity: 'warning', expr: budgetBurn('6h', t.budgetBurnWarning), for: f.budgetBurn },
      { severity: 'critical', expr: budgetBurn('1h', t.budgetBurnCritical), for: f.budgetBurn },
    ],
    value: 'number',
    summary: (x) => `Agent ${x.label('agent')} spends at ${x.value}x its daily budget`,
    description: (x) =>
      `Model spend of agent ${x.label('agent')}, projected to a day, is ${x.value}x its daily budget (agents.budgets; warning at ${num(t.budgetBurnWarning)}x over 6h, critical at ${num(t.budgetBurnCritical)}x over 1h). Look for a retry loop or a prompt that grew.`,
    dashboard: { key: 'agents', vars: { agent: 'agent' } },
    cases: (() => {
      const at = 360 + minutesOf(f.budgetBurn) + 5;
      // 1 USD a minute is 1,440 a day: a budget of 288 burns at 5x, of 1,440 at 1x
      return [
        {
          name: 'agent spending at 5x its budget',
          series: [input(c.agentCost, { agent: AGENT, model: 'big' }, rising(1, at + 5)), input(c.agentBudget, { agent: AGENT }, flat(288, at + 5))],
          atMinutes: at,
          expect: [
            { severity: 'warning' as const, labels: { agent: AGENT }, value: 5 },
            { severity: 'critical' as const, labels: { agent: AGENT }, value: 5 },
          ],
        },
        {
          name: 'agent spending at half its budget',
          series: [input(c.agentCost, { agent: AGENT, model: 'big' }, rising(1, at + 5)), input(c.agentBudget, { agent: AGENT }, flat(2880, at + 5))],
          atMinutes: at,
          expect: [],
        },
      ];
    })(),
  };
}

export function queueDepthHigh({ t, f, c }: AlertContext): AlertFamily {
  return {
    name: 'WorkflowQueueDepthHigh',
    file: 'workflow-alerts',
    group: 'workflow-alerts',
    rules: [{ severity: 'warning', expr: `max by (queue) (${sel(c.queueDepth)}) > ${num(t.queueDepth)}`, for: f.queueDepth }],
    value: 'number',
    summary: (x) => `Queue ${x.label('queue')} holds ${x.value} items`,
    description: (x) =>
      `Queue ${x.label('queue')} has held more than ${num(t.queueDepth)} items for ${f.queueDepth} (now ${x.value}): agents are not keeping up, or one is down.`,
    dashboard: { key: 'overview' },
    cases: (() => {
      const at = minutesOf(f.queueDepth) + 5;
      const deep = Math.ceil(t.queueDepth * 2);
      return [
        { name: 'queue above the threshold', series: [input(c.queueDepth, { queue: 'tasks' }, flat(deep, at + 5))], atMinutes: at, expect: [{ severity: 'warning' as const, labels: { queue: 'tasks' }, value: deep }] },
        { name: 'queue below the threshold', series: [input(c.queueDepth, { queue: 'tasks' }, flat(Math.floor(t.queueDepth / 2), at + 5))], atMinutes: at, expect: [] },
      ];
    })(),
  };
}
