// Workflows overview: throughput, success and error ratio, active runs, run duration percentiles
// and heatmap, the workflow types failing most, and queue depth.
import { catalog as c } from '../../metrics/catalog.js';
import { increase, rec, sel, sumRate } from '../promql.js';
import { QUANTILES, R } from '../recording.js';
import type { AscodeSettings } from '../../config/ascode.js';
import { v, type DashboardSpec } from './common.js';

const RI = '$__rate_interval';

export function overviewDashboard(s: AscodeSettings): DashboardSpec {
  const wt = { workflow_type: v('workflow_type') };
  const t = s.thresholds;
  return {
    key: 'overview',
    description: 'Workflow runs across every workflow type: how many, how well, how long.',
    version: 2,
    tags: ['workflows'],
    variables: ['workflow_type'],
    rows: [
      {
        title: 'Runs',
        panels: [
          { kind: 'stat', title: 'Runs started', description: 'Runs started per second.', unit: 'reqps', width: 6, height: 5, queries: [{ expr: sumRate(c.runsStarted, [], RI, wt) }] },
          {
            kind: 'stat',
            title: 'Success ratio',
            description: 'Completed runs over finished runs (completed, failed, cancelled).',
            unit: 'percentunit',
            width: 6,
            height: 5,
            min: 0,
            max: 1,
            thresholds: [],
            queries: [{ expr: `${sumRate(c.runsFinished, [], RI, { ...wt, outcome: 'completed' })} / ${sumRate(c.runsFinished, [], RI, wt)}` }],
          },
          {
            kind: 'stat',
            title: 'Error ratio',
            description: 'Failed runs over finished runs; the alert thresholds colour it.',
            unit: 'percentunit',
            width: 6,
            height: 5,
            min: 0,
            max: 1,
            thresholds: [
              { value: t.errorRatioWarning, color: 'orange' },
              { value: t.errorRatioCritical, color: 'red' },
            ],
            queries: [{ expr: `${sumRate(c.runsFinished, [], RI, { ...wt, outcome: 'failed' })} / ${sumRate(c.runsFinished, [], RI, wt)}` }],
          },
          {
            kind: 'stat',
            title: 'Active runs',
            description: 'Runs started and not finished. Replicas sharing state report the same count, so it is max per type and state, then summed.',
            unit: 'short',
            width: 6,
            height: 5,
            queries: [{ expr: `sum(max by (workflow_type, state) (${sel(c.runsActive, wt)}))` }],
          },
          {
            kind: 'timeseries',
            title: 'Throughput',
            description: 'Runs started per workflow type, and finished runs by outcome.',
            unit: 'reqps',
            queries: [
              { expr: sumRate(c.runsStarted, ['workflow_type'], RI, wt), legend: 'started {{workflow_type}}' },
              { expr: sumRate(c.runsFinished, ['outcome'], RI, wt), legend: '{{outcome}}' },
            ],
          },
          {
            kind: 'timeseries',
            title: 'Success and error ratio',
            description: 'Per workflow type, over 5 minutes (recording rules).',
            unit: 'percentunit',
            min: 0,
            max: 1,
            thresholds: [{ value: t.errorRatioWarning, color: 'orange' }, { value: t.errorRatioCritical, color: 'red' }],
            queries: [
              { expr: rec(R.runsErrorRatio('5m'), wt), legend: 'errors {{workflow_type}}' },
              { expr: rec(R.runsSuccessRatio, wt), legend: 'success {{workflow_type}}' },
            ],
          },
          {
            kind: 'timeseries',
            title: 'Active runs',
            description: 'Running and paused runs per workflow type.',
            unit: 'short',
            stacked: true,
            queries: [{ expr: rec(R.runsActive, wt), legend: '{{workflow_type}} {{state}}' }],
          },
          {
            kind: 'timeseries',
            title: 'Events by type',
            description: 'Accepted events per second by event type.',
            unit: 'reqps',
            queries: [{ expr: sumRate(c.eventsTotal, ['type'], RI), legend: '{{type}}' }],
          },
        ],
      },
      {
        title: 'Run duration',
        panels: [
          {
            kind: 'timeseries',
            title: 'Run duration p50 / p95 / p99',
            description: 'Percentiles from the run duration histogram over 5 minutes; the dashed line is the p95 alert threshold.',
            unit: 's',
            thresholds: [{ value: t.runLatencyP95Seconds, color: 'red' }],
            queries: QUANTILES.map((q) => ({ expr: rec(R.runDuration(q), wt), legend: `p${Math.round(q * 100)} {{workflow_type}}` })),
          },
          {
            kind: 'heatmap',
            title: 'Run duration heatmap',
            description: 'Finished runs per duration bucket.',
            unit: 's',
            queries: [{ expr: `sum by (le) (${increase(sel(c.runDuration, wt, '_bucket'), RI)})`, legend: '{{le}}', format: 'heatmap' }],
          },
        ],
      },
      {
        title: 'Failures and queues',
        panels: [
          {
            kind: 'bargauge',
            title: 'Top failing workflow types',
            description: 'Failed runs over the dashboard time range, most first.',
            unit: 'short',
            width: 8,
            queries: [{ expr: `topk(10, sum by (workflow_type) (${increase(sel(c.runsFinished, { ...wt, outcome: 'failed' }), '$__range')}))`, legend: '{{workflow_type}}', instant: true }],
          },
          {
            kind: 'timeseries',
            title: 'Failed runs',
            description: 'Failed runs per second by workflow type.',
            unit: 'reqps',
            width: 8,
            queries: [{ expr: sumRate(c.runsFinished, ['workflow_type'], RI, { ...wt, outcome: 'failed' }), legend: '{{workflow_type}}' }],
          },
          {
            kind: 'timeseries',
            title: 'Queue depth',
            description: 'Latest reported depth per queue; the dashed line is the alert threshold.',
            unit: 'short',
            width: 8,
            thresholds: [{ value: t.queueDepth, color: 'red' }],
            queries: [{ expr: `max by (queue) (${sel(c.queueDepth)})`, legend: '{{queue}}' }],
          },
        ],
      },
      {
        title: 'Stuck runs',
        panels: [
          {
            kind: 'timeseries',
            title: 'Overdue runs',
            description: 'Open runs past the deadline of their workflow type (runs.deadlines), with no end event; the exporter lists them at /api/runs/overdue. Replicas sharing state report the same count: max.',
            unit: 'short',
            width: 24,
            thresholds: [{ value: 1, color: 'orange' }],
            queries: [{ expr: `max by (workflow_type) (${sel(c.runsOverdue, wt)})`, legend: '{{workflow_type}}' }],
          },
        ],
      },
    ],
  };
}
