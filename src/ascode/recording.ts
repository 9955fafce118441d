// Recording rules: rates, ratios and p50/p95/p99 per workflow type, stage, agent and source,
// named level:metric:operation (workflow:run_duration_seconds:p95_5m) so dashboards and alerts share them.
import { catalog } from '../metrics/catalog.js';
import { quantile, sel, sumRate } from './promql.js';

export interface RecordingRule {
  record: string;
  expr: string;
}
export interface RuleGroupSpec<R> {
  name: string;
  rules: R[];
}

/** The rate window of the rules dashboards and most alerts read; the names carry it (…_5m). */
export const WINDOW = '5m';
/** Windows of the SLO error ratio: the short and long windows of the burn-rate alerts. */
export const SLO_WINDOWS = ['5m', '30m', '1h', '2h', '6h', '1d', '3d'] as const;
export type SloWindow = (typeof SLO_WINDOWS)[number];
export const QUANTILES = [0.5, 0.95, 0.99] as const;

const c = catalog;

/** Names of the recorded series, so dashboards and alerts never spell them twice. */
export const R = {
  runsStarted: 'workflow:runs_started:rate5m',
  runsFinished: 'workflow:runs_finished:rate5m',
  runsErrorRatio: (w: SloWindow = '5m') => `workflow:runs_error_ratio:rate${w}`,
  runsSuccessRatio: 'workflow:runs_success_ratio:rate5m',
  runsActive: 'workflow:runs_active:max',
  runDuration: (q: number) => `workflow:run_duration_seconds:p${Math.round(q * 100)}_5m`,
  stagesFinished: 'workflow:stages_finished:rate5m',
  stagesErrorRatio: 'workflow:stages_error_ratio:rate5m',
  stageDuration: (q: number) => `workflow:stage_duration_seconds:p${Math.round(q * 100)}_5m`,
  tasks: 'workflow:tasks:rate5m',
  tasksErrorRatio: 'workflow:tasks_error_ratio:rate5m',
  taskDuration: (q: number) => `workflow:task_duration_seconds:p${Math.round(q * 100)}_5m`,
  events: 'workflow:events:rate5m',
  eventLag: (q: number) => `workflow:event_lag_seconds:p${Math.round(q * 100)}_5m`,
  received: 'workflow_exporter:events_received:rate5m',
  rejected: 'workflow_exporter:events_rejected:rate5m',
  rejectedRatio: 'workflow_exporter:events_rejected:ratio_rate5m',
} as const;

/** failed / finished runs per workflow type over a window; cancelled runs count as finished, not failed. */
function runErrorRatio(w: string): string {
  return `${sumRate(c.runsFinished, ['workflow_type'], w, { outcome: 'failed' })} / ${sumRate(c.runsFinished, ['workflow_type'], w)}`;
}

export function workflowRecordingGroups(): RuleGroupSpec<RecordingRule>[] {
  const W = WINDOW;
  return [
    {
      name: 'workflow-runs',
      rules: [
        { record: R.runsStarted, expr: sumRate(c.runsStarted, ['workflow_type'], W) },
        { record: R.runsFinished, expr: sumRate(c.runsFinished, ['workflow_type', 'outcome'], W) },
        { record: R.runsErrorRatio('5m'), expr: runErrorRatio(W) },
        {
          record: R.runsSuccessRatio,
          expr: `${sumRate(c.runsFinished, ['workflow_type'], W, { outcome: 'completed' })} / ${sumRate(c.runsFinished, ['workflow_type'], W)}`,
        },
        // replicas that share lifecycle state in Redis all report the same count: max, never sum
        { record: R.runsActive, expr: `max by (workflow_type, state) (${sel(c.runsActive)})` },
        ...QUANTILES.map((q) => ({ record: R.runDuration(q), expr: quantile(q, c.runDuration, ['workflow_type'], W) })),
      ],
    },
    {
      name: 'workflow-stages',
      rules: [
        { record: R.stagesFinished, expr: sumRate(c.stageDuration, ['workflow_type', 'stage', 'outcome'], W, {}, '_count') },
        {
          record: R.stagesErrorRatio,
          expr: `${sumRate(c.stageDuration, ['workflow_type', 'stage'], W, { outcome: 'failed' }, '_count')} / ${sumRate(c.stageDuration, ['workflow_type', 'stage'], W, {}, '_count')}`,
        },
        ...QUANTILES.map((q) => ({ record: R.stageDuration(q), expr: quantile(q, c.stageDuration, ['workflow_type', 'stage'], W) })),
      ],
    },
    {
      name: 'workflow-agents',
      rules: [
        { record: R.tasks, expr: sumRate(c.tasksTotal, ['agent', 'outcome'], W) },
        { record: R.tasksErrorRatio, expr: `${sumRate(c.tasksTotal, ['agent'], W, { outcome: 'failed' })} / ${sumRate(c.tasksTotal, ['agent'], W)}` },
        ...QUANTILES.map((q) => ({ record: R.taskDuration(q), expr: quantile(q, c.taskDuration, ['agent'], W) })),
      ],
    },
    {
      // the long windows are costly; recorded once, read by the burn-rate alerts
      name: 'workflow-slo',
      rules: SLO_WINDOWS.filter((w) => w !== '5m').map((w) => ({ record: R.runsErrorRatio(w), expr: runErrorRatio(w) })),
    },
  ];
}

export function exporterRecordingGroups(): RuleGroupSpec<RecordingRule>[] {
  const W = WINDOW;
  return [
    {
      name: 'workflow-exporter',
      rules: [
        { record: R.events, expr: sumRate(c.eventsTotal, ['source', 'type'], W) },
        ...QUANTILES.map((q) => ({ record: R.eventLag(q), expr: quantile(q, c.eventLag, ['source'], W) })),
        { record: R.received, expr: sumRate(c.received, ['source'], W) },
        { record: R.rejected, expr: sumRate(c.rejected, ['source', 'reason'], W) },
        { record: R.rejectedRatio, expr: `${sumRate(c.rejected, ['source'], W)} / ${sumRate(c.received, ['source'], W)}` },
      ],
    },
  ];
}
