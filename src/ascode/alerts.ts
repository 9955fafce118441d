// Alerting rules, each with its promtool cases (fires when it should, stays silent when it should
// not) built from the same thresholds, so a changed threshold changes the rule and its proof together.
import { catalog, type MetricDef } from '../metrics/catalog.js';
import { dashboardUrl, type DashboardKey } from './dashboards/meta.js';
import { foreign, num, rec, sel, type LabelOf, type TargetLabel } from './promql.js';
import { R, type SloWindow } from './recording.js';
import { durationSeconds, goTemplate, type Text, type ValueFormat } from './template.js';
import type { AscodeSettings } from '../config/ascode.js';

export type Severity = 'critical' | 'warning';
export type AlertFile = 'workflow-alerts' | 'exporter-alerts';

export interface AlertRuleSpec {
  severity: Severity;
  expr: string;
  for: string;
}

export interface InputSeries {
  series: string;
  values: string;
}

export interface AlertCase {
  name: string;
  series: InputSeries[];
  /** evaluation time in minutes from the start of the series */
  atMinutes: number;
  /** the alerts of this family firing at that time; empty for a silent case */
  expect: { severity: Severity; labels: Record<string, string>; value: number }[];
}

export interface AlertFamily {
  name: string;
  file: AlertFile;
  group: string;
  /** one rule per severity; two rules share the name so the inhibit rule can pair them */
  rules: AlertRuleSpec[];
  value: ValueFormat;
  summary: Text;
  description: Text;
  dashboard: { key: DashboardKey; vars?: Record<string, string> };
  cases: AlertCase[];
}

export interface RenderedAlertRule {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

// ---------------------------------------------------------------------------------------------
// Input series for promtool, named from the catalog.

function input<D extends MetricDef>(m: D, labels: Partial<Record<LabelOf<D> | TargetLabel, string>>, values: string): InputSeries {
  return { series: sel(m, labels as never), values };
}
function buckets<D extends MetricDef>(m: D, labels: Partial<Record<LabelOf<D>, string>>, le: number, values: string): InputSeries[] {
  return [String(le), '+Inf'].map((b) => ({ series: rec(`${m.name}_bucket`, { ...(labels as Record<string, string>), le: b }), values }));
}
/** a counter rising `perMinute` each minute for `minutes` */
const rising = (perMinute: number, minutes: number) => `0+${perMinute}x${minutes}`;
const flat = (v: number, minutes: number) => `${num(v)}+0x${minutes}`;
const minutesOf = (d: string) => Math.ceil(durationSeconds(d) / 60);

/** Whole counts per minute of failures and successes giving a ratio strictly inside (lo, hi). */
function ratioCounts(target: number): { bad: number; good: number } {
  const bad = Math.max(1, Math.min(1000, Math.round(target * 1000)));
  return { bad, good: 1000 - bad };
}

const WT = 'feature-dev';
const AGENT = 'coder';
const SOURCE = 'nats';

/** Burn-rate pairs of the Google SRE workbook: share of the budget spent in the long window. */
export function burnRates(s: AscodeSettings) {
  const hours = s.slo.windowDays * 24;
  const budget = 1 - s.slo.successRatio;
  const pair = (long: SloWindow, short: SloWindow, budgetShare: number) => {
    const factor = (budgetShare * hours) / (durationSeconds(long) / 3600);
    return { long, short, factor, threshold: factor * budget };
  };
  return {
    budget,
    fast: [pair('1h', '5m', 0.02), pair('6h', '30m', 0.05)],
    slow: [pair('1d', '2h', 0.1), pair('3d', '6h', 0.1)],
  };
}

/** Agent spend over `window` projected to a day, as a multiple of its daily budget. */
function budgetBurn(window: string, factor: number): string {
  return `sum by (agent) (rate(${sel(catalog.agentCost)}[${window}])) * 86400 / max by (agent) (${sel(catalog.agentBudget)}) > ${num(factor)}`;
}

function burnExpr(pairs: ReturnType<typeof burnRates>['fast']): string {
  return pairs.map((p) => `(${rec(R.runsErrorRatio(p.long))} > ${num(p.threshold)} and ${rec(R.runsErrorRatio(p.short))} > ${num(p.threshold)})`).join(' or ');
}

export function alertFamilies(s: AscodeSettings): AlertFamily[] {
  const t = s.thresholds;
  const f = s.for;
  const c = catalog;
  const burn = burnRates(s);
  for (const p of [...burn.fast, ...burn.slow]) {
    if (p.threshold >= 1) {
      throw new Error(
        `ascode.slo: a ${s.slo.successRatio} target over ${s.slo.windowDays}d needs an error ratio above ${num(p.threshold)} over ${p.long} to burn ${num(p.factor)}x, which cannot happen; raise slo.successRatio or slo.windowDays`,
      );
    }
  }
  const pct = (v: number) => `${num(v * 100)}%`;
  const secs = (v: number) => `${num(v)}s`;

  const latencyFor = minutesOf(f.runLatency);
  const errFor = minutesOf(f.errorRatio);
  const silentMin = Math.ceil(t.agentSilentSeconds / 60);
  const errMid = ratioCounts((t.errorRatioWarning + t.errorRatioCritical) / 2);
  const errLow = ratioCounts(t.errorRatioWarning / 2);
  const slowFire = ratioCounts(Math.min(0.999, (burn.slow[0].threshold + Math.min(1, burn.fast[1].threshold)) / 2));
  const sloLow = ratioCounts(burn.slow[1].threshold / 2);
  const rej = Math.max(1, Math.min(1000, Math.round(t.rejectedRatio * 2000)));

  const families: AlertFamily[] = [
    {
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
    },
    {
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
    },
    {
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
    },
    {
      name: 'WorkflowErrorBudgetFastBurn',
      file: 'workflow-alerts',
      group: 'workflow-slo-alerts',
      rules: [{ severity: 'critical', expr: burnExpr(burn.fast), for: f.sloFastBurn }],
      value: 'percent',
      summary: (x) => `${x.label('workflow_type')} is burning its error budget fast`,
      description: (x) =>
        `${x.value} of ${x.label('workflow_type')} runs failed over the alert window: at this rate the ${s.slo.windowDays}-day error budget of the ${pct(s.slo.successRatio)} success SLO is gone within days (fast burn: ${burn.fast.map((p) => `${num(p.factor)}x over ${p.long} and ${p.short}`).join(', or ')}).`,
      dashboard: { key: 'overview', vars: { workflow_type: 'workflow_type' } },
      cases: (() => {
        const at = 70 + minutesOf(f.sloFastBurn);
        return [
          {
            name: 'every run failing for an hour',
            series: [input(c.runsFinished, { workflow_type: WT, outcome: 'failed' }, rising(10, at + 5))],
            atMinutes: at,
            expect: [{ severity: 'critical' as const, labels: { workflow_type: WT }, value: 1 }],
          },
          {
            // the long windows still remember the failures, the short windows show recovery: quiet
            name: 'failures stopped 35 minutes ago',
            series: [
              input(c.runsFinished, { workflow_type: WT, outcome: 'failed' }, `0+10x${at - 35} ${(at - 35) * 10}+0x40`),
              input(c.runsFinished, { workflow_type: WT, outcome: 'completed' }, `0+0x${at - 35} 0+10x40`),
            ],
            atMinutes: at,
            expect: [],
          },
        ];
      })(),
    },
    {
      name: 'WorkflowErrorBudgetSlowBurn',
      file: 'workflow-alerts',
      group: 'workflow-slo-alerts',
      rules: [{ severity: 'warning', expr: burnExpr(burn.slow), for: f.sloSlowBurn }],
      value: 'percent',
      summary: (x) => `${x.label('workflow_type')} is burning its error budget`,
      description: (x) =>
        `${x.value} of ${x.label('workflow_type')} runs failed over the alert window: at this rate the ${s.slo.windowDays}-day error budget of the ${pct(s.slo.successRatio)} success SLO runs out before the period ends (slow burn: ${burn.slow.map((p) => `${num(p.factor)}x over ${p.long} and ${p.short}`).join(', or ')}).`,
      dashboard: { key: 'overview', vars: { workflow_type: 'workflow_type' } },
      cases: (() => {
        const at = 125 + minutesOf(f.sloSlowBurn);
        return [
          {
            name: 'error ratio above the slow-burn rate for two hours',
            series: [
              input(c.runsFinished, { workflow_type: WT, outcome: 'failed' }, rising(slowFire.bad, at + 5)),
              input(c.runsFinished, { workflow_type: WT, outcome: 'completed' }, rising(slowFire.good, at + 5)),
            ],
            atMinutes: at,
            expect: [{ severity: 'warning' as const, labels: { workflow_type: WT }, value: slowFire.bad / 1000 }],
          },
          {
            name: 'error ratio within budget',
            series: [
              input(c.runsFinished, { workflow_type: WT, outcome: 'failed' }, rising(sloLow.bad, at + 5)),
              input(c.runsFinished, { workflow_type: WT, outcome: 'completed' }, rising(sloLow.good, at + 5)),
            ],
            atMinutes: at,
            expect: [],
          },
        ];
      })(),
    },
    {
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
    },
    {
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
    },
    {
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
    },
    {
      name: 'WorkflowExporterDown',
      file: 'exporter-alerts',
      group: 'workflow-exporter-alerts',
      rules: [{ severity: 'critical', expr: `${sel(foreign.up, { job: s.job })} == 0 or absent(${sel(foreign.up, { job: s.job })})`, for: f.exporterDown }],
      value: 'number',
      summary: () => `workflow-exporter ${s.job} cannot be scraped`,
      description: () => `Prometheus has not scraped job ${s.job} for ${f.exporterDown}: workflow metrics and alerts are blind until it is back.`,
      dashboard: { key: 'exporter' },
      cases: (() => {
        const at = minutesOf(f.exporterDown) + 5;
        const inst = 'exporter-0:9477';
        return [
          { name: 'target down', series: [input(foreign.up, { job: s.job, instance: inst }, flat(0, at + 5))], atMinutes: at, expect: [{ severity: 'critical' as const, labels: { job: s.job, instance: inst }, value: 0 }] },
          { name: 'target up', series: [input(foreign.up, { job: s.job, instance: inst }, flat(1, at + 5))], atMinutes: at, expect: [] },
        ];
      })(),
    },
    {
      name: 'WorkflowExporterSourceDown',
      file: 'exporter-alerts',
      group: 'workflow-exporter-alerts',
      rules: [{ severity: 'critical', expr: `${sel(c.sourceUp)} == 0`, for: f.sourceDown }],
      value: 'number',
      summary: (x) => `Source ${x.label('source')} of ${x.label('instance')} is disconnected`,
      description: (x) =>
        `The ${x.label('kind')} source ${x.label('source')} of ${x.label('instance')} has not been connected to its server for ${f.sourceDown}: its events wait in the bus (or are lost, for a non-durable bus).`,
      dashboard: { key: 'exporter' },
      cases: (() => {
        const at = minutesOf(f.sourceDown) + 5;
        const labels = { source: SOURCE, kind: 'nats-jetstream', job: s.job, instance: 'exporter-0:9477' };
        return [
          { name: 'source disconnected', series: [input(c.sourceUp, labels, flat(0, at + 5))], atMinutes: at, expect: [{ severity: 'critical' as const, labels, value: 0 }] },
          { name: 'source connected', series: [input(c.sourceUp, labels, flat(1, at + 5))], atMinutes: at, expect: [] },
        ];
      })(),
    },
    {
      name: 'WorkflowExporterRejectingEvents',
      file: 'exporter-alerts',
      group: 'workflow-exporter-alerts',
      rules: [{ severity: 'warning', expr: `${rec(R.rejectedRatio)} > ${num(t.rejectedRatio)}`, for: f.rejecting }],
      value: 'percent',
      summary: (x) => `Source ${x.label('source')} rejects ${x.value} of messages`,
      description: (x) =>
        `${x.value} of the messages source ${x.label('source')} received in the last 5m were rejected (threshold ${pct(t.rejectedRatio)}) and went to dead letters: a producer likely changed its event shape. GET /api/dead-letters shows them by reason.`,
      dashboard: { key: 'exporter' },
      cases: (() => {
        const at = minutesOf(f.rejecting) + 5;
        return [
          {
            name: 'producer sends bad messages',
            series: [input(c.received, { source: SOURCE }, rising(1000, at + 5)), input(c.rejected, { source: SOURCE, reason: 'invalid_json' }, rising(rej, at + 5))],
            atMinutes: at,
            expect: [{ severity: 'warning' as const, labels: { source: SOURCE }, value: rej / 1000 }],
          },
          {
            name: 'no rejections',
            series: [input(c.received, { source: SOURCE }, rising(1000, at + 5)), input(c.rejected, { source: SOURCE, reason: 'invalid_json' }, flat(0, at + 5))],
            atMinutes: at,
            expect: [],
          },
        ];
      })(),
    },
    {
      name: 'WorkflowExporterSourceLagGrowing',
      file: 'exporter-alerts',
      group: 'workflow-exporter-alerts',
      rules: [
        {
          severity: 'warning',
          expr: `max by (source) (${sel(c.sourcePending)}) > ${num(t.sourcePendingMessages)} and max by (source) (deriv(${sel(c.sourcePending)}[10m])) > 0`,
          for: f.sourceLag,
        },
      ],
      value: 'number',
      summary: (x) => `Source ${x.label('source')} is falling behind: ${x.value} messages pending`,
      description: (x) =>
        `${x.value} messages wait in the bus for source ${x.label('source')} and the backlog has grown for ${f.sourceLag} (threshold ${num(t.sourcePendingMessages)}): add replicas or find the slow sink.`,
      dashboard: { key: 'exporter' },
      cases: (() => {
        const at = 10 + minutesOf(f.sourceLag) + 5;
        const T = Math.ceil(t.sourcePendingMessages);
        return [
          { name: 'backlog growing', series: [input(c.sourcePending, { source: SOURCE }, `${T}+100x${at + 5}`)], atMinutes: at, expect: [{ severity: 'warning' as const, labels: { source: SOURCE }, value: T + 100 * at }] },
          { name: 'backlog large but draining', series: [input(c.sourcePending, { source: SOURCE }, `${T + 100 * (at + 20)}-100x${at + 5}`)], atMinutes: at, expect: [] },
        ];
      })(),
    },
    {
      name: 'WorkflowSourceSilent',
      file: 'exporter-alerts',
      group: 'workflow-exporter-alerts',
      // max_over_time keeps a source that had traffic in the last day in view across exporter restarts
      rules: [{ severity: 'warning', expr: `time() - max by (source) (max_over_time(${sel(c.sourceLastEvent)}[1d])) > ${num(t.sourceSilentSeconds)}`, for: f.sourceSilent }],
      value: 'seconds',
      summary: (x) => `Source ${x.label('source')} has sent nothing for ${x.value}`,
      description: (x) =>
        `The emitting source ${x.label('source')} had traffic in the last day but no event for ${x.value} (threshold ${secs(t.sourceSilentSeconds)}): the producer may be down or cut off from the bus. Dead-man alert on workflow_source_last_event_timestamp_seconds.`,
      dashboard: { key: 'exporter' },
      cases: (() => {
        const quiet = Math.ceil(t.sourceSilentSeconds / 60);
        const at = 5 + quiet + minutesOf(f.sourceSilent) + 2;
        return [
          {
            name: 'source stops after 5 minutes',
            series: [input(c.sourceLastEvent, { source: 'orchestrator' }, `0+60x5 300+0x${at + 5}`)],
            atMinutes: at,
            expect: [{ severity: 'warning' as const, labels: { source: 'orchestrator' }, value: at * 60 - 300 }],
          },
          { name: 'source sending every minute', series: [input(c.sourceLastEvent, { source: 'orchestrator' }, `0+60x${at + 5}`)], atMinutes: at, expect: [] },
        ];
      })(),
    },
    {
      name: 'WorkflowEventLagHigh',
      file: 'exporter-alerts',
      group: 'workflow-exporter-alerts',
      rules: [{ severity: 'warning', expr: `${rec(R.eventLag(0.95))} > ${num(t.eventLagP95Seconds)}`, for: f.eventLag }],
      value: 'seconds',
      summary: (x) => `Events from ${x.label('source')} arrive ${x.value} late`,
      description: (x) =>
        `The p95 delay between event time and ingest for source ${x.label('source')} has been above ${secs(t.eventLagP95Seconds)} for ${f.eventLag} (now ${x.value}): the bus or this exporter is behind, or producer clocks are off.`,
      dashboard: { key: 'exporter' },
      cases: (() => {
        const at = minutesOf(f.eventLag) + 10;
        return [
          {
            name: 'late events',
            series: buckets(c.eventLag, { source: SOURCE }, t.eventLagP95Seconds * 2, rising(100, at + 5)),
            atMinutes: at,
            expect: [{ severity: 'warning' as const, labels: { source: SOURCE }, value: t.eventLagP95Seconds * 1.9 }],
          },
          { name: 'timely events', series: buckets(c.eventLag, { source: SOURCE }, t.eventLagP95Seconds / 2, rising(100, at + 5)), atMinutes: at, expect: [] },
        ];
      })(),
    },
  ];
  return families;
}

/** The rule as Prometheus loads it: labels severity and team, annotations with links. */
export function renderAlertRule(s: AscodeSettings, fam: AlertFamily, rule: AlertRuleSpec): RenderedAlertRule {
  const vars = Object.fromEntries(Object.entries(fam.dashboard.vars ?? {}).map(([v, label]) => [v, `{{ $labels.${label} }}`]));
  return {
    alert: fam.name,
    expr: rule.expr,
    for: rule.for,
    labels: { severity: rule.severity, team: s.team },
    annotations: {
      summary: goTemplate(fam.summary, fam.value),
      description: goTemplate(fam.description, fam.value),
      runbook_url: `${s.runbookUrl}#${fam.name.toLowerCase()}`,
      dashboard: dashboardUrl(s.grafanaUrl, fam.dashboard.key, vars),
    },
  };
}

