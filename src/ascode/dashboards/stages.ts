// Stages: latency percentiles and failures per workflow type and stage.
import { catalog as c } from '../../metrics/catalog.js';
import { increase, rec, sel, sumRate } from '../promql.js';
import { QUANTILES, R } from '../recording.js';
import type { AscodeSettings } from '../../config/ascode.js';
import { v, type DashboardSpec } from './common.js';

const RI = '$__rate_interval';

export function stagesDashboard(_s: AscodeSettings): DashboardSpec {
  const m = { workflow_type: v('workflow_type'), stage: v('stage') };
  return {
    key: 'stages',
    description: 'Each stage of each workflow type: how long it takes and how often it fails.',
    version: 1,
    tags: ['stages'],
    variables: ['workflow_type', 'stage'],
    rows: [
      {
        title: 'Latency',
        panels: [
          ...QUANTILES.map((q) => ({
            kind: 'timeseries' as const,
            title: `Stage duration p${Math.round(q * 100)}`,
            description: `p${Math.round(q * 100)} stage duration over 5 minutes (recording rule).`,
            unit: 's',
            width: 8,
            queries: [{ expr: rec(R.stageDuration(q), m), legend: '{{workflow_type}} / {{stage}}' }],
          })),
          {
            kind: 'heatmap',
            title: 'Stage duration heatmap',
            description: 'Finished stages per duration bucket.',
            unit: 's',
            queries: [{ expr: `sum by (le) (${increase(sel(c.stageDuration, m, '_bucket'), RI)})`, legend: '{{le}}', format: 'heatmap' }],
          },
          {
            kind: 'bargauge',
            title: 'Slowest stages (p95)',
            description: 'The ten stages with the highest p95 duration, now.',
            unit: 's',
            queries: [{ expr: `topk(10, ${rec(R.stageDuration(0.95), m)})`, legend: '{{workflow_type}} / {{stage}}', instant: true }],
          },
        ],
      },
      {
        title: 'Failures',
        panels: [
          {
            kind: 'timeseries',
            title: 'Stage failures',
            description: 'Failed stages per second.',
            unit: 'reqps',
            queries: [{ expr: sumRate(c.stageDuration, ['workflow_type', 'stage'], RI, { ...m, outcome: 'failed' }, '_count'), legend: '{{workflow_type}} / {{stage}}' }],
          },
          {
            kind: 'timeseries',
            title: 'Stage failure ratio',
            description: 'Failed over finished stages, 5 minutes (recording rule).',
            unit: 'percentunit',
            min: 0,
            max: 1,
            queries: [{ expr: rec(R.stagesErrorRatio, m), legend: '{{workflow_type}} / {{stage}}' }],
          },
          {
            kind: 'timeseries',
            title: 'Stages finished by outcome',
            description: 'Finished stages per second by outcome (recording rule).',
            unit: 'reqps',
            stacked: true,
            width: 24,
            queries: [{ expr: `sum by (outcome) (${rec(R.stagesFinished, m)})`, legend: '{{outcome}}' }],
          },
        ],
      },
    ],
  };
}
