// Shared dashboard pieces: the datasource and template variables, panel factories, and the one
// function that turns a small dashboard spec into Grafana JSON through the foundation SDK.
import * as bargauge from '@grafana/grafana-foundation-sdk/bargauge';
import * as common from '@grafana/grafana-foundation-sdk/common';
import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import * as dash from '@grafana/grafana-foundation-sdk/dashboard';
import * as heatmap from '@grafana/grafana-foundation-sdk/heatmap';
import * as prometheus from '@grafana/grafana-foundation-sdk/prometheus';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as statushistory from '@grafana/grafana-foundation-sdk/statushistory';
import * as table from '@grafana/grafana-foundation-sdk/table';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { catalog, type MetricDef } from '../../metrics/catalog.js';
import { HEADER } from '../files.js';
import type { LabelOf } from '../promql.js';
import type { AscodeSettings } from '../../config/ascode.js';
import { DASHBOARDS, type DashboardKey } from './meta.js';

/** Every panel queries the data source the `datasource` variable picks. */
export const DS: common.DataSourceRef = { type: 'prometheus', uid: '${datasource}' };

/** A template variable: the label whose values it lists, read from one catalog metric. */
function labelVariable<D extends MetricDef>(name: LabelOf<D>, label: string, m: D, suffix = '') {
  return { name, label, query: `label_values(${m.name}${suffix}, ${name})` };
}
export const VARIABLES = {
  workflow_type: labelVariable('workflow_type', 'Workflow type', catalog.runsStarted),
  agent: labelVariable('agent', 'Agent', catalog.agentLastSeen),
  stage: labelVariable('stage', 'Stage', catalog.stageDuration, '_count'),
  source: labelVariable('source', 'Exporter source', catalog.received),
} as const;
export type VariableKey = keyof typeof VARIABLES;

/** The matcher a panel uses for a variable: multi-value and "All" (.*) both work with =~. */
export const v = (name: VariableKey) => ({ op: '=~' as const, value: `$${name}` });

export interface Query {
  expr: string;
  legend?: string;
  /** one value per series at the end of the range (tables, bar gauges, stats over $__range) */
  instant?: boolean;
  format?: 'table' | 'heatmap';
}

export type Threshold = { value: number; color: string };

export interface PanelSpec {
  kind: 'timeseries' | 'stat' | 'heatmap' | 'table' | 'bargauge' | 'statushistory';
  title: string;
  description: string;
  queries: Query[];
  unit?: string;
  /** grid columns of 24 */
  width?: number;
  height?: number;
  min?: number;
  max?: number;
  /** colour steps above a base of green; on time series they draw as a dashed line */
  thresholds?: Threshold[];
  stacked?: boolean;
}

export interface RowSpec {
  title: string;
  panels: PanelSpec[];
}

export interface DashboardSpec {
  key: DashboardKey;
  description: string;
  /** bumped by hand when a change to the dashboard is worth a new version in Grafana's history */
  version: number;
  tags: string[];
  variables: VariableKey[];
  rows: RowSpec[];
}

const REF_IDS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** The histograms whose buckets carry trace exemplars (metrics.exemplars); see docs/OTLP.md. */
const EXEMPLAR_BUCKETS = [catalog.runDuration, catalog.stageDuration, catalog.taskDuration, catalog.toolDuration].map((m) => `${m.name}_bucket`);

function target(q: Query, i: number): prometheus.DataqueryBuilder {
  const b = new prometheus.DataqueryBuilder().datasource(DS).refId(REF_IDS[i]).expr(q.expr);
  // a query over those buckets shows their exemplars: a dot per traced run, task or tool call that
  // links to the trace (grafana/provisioning: exemplarTraceIdDestinations)
  if (!q.instant && EXEMPLAR_BUCKETS.some((n) => q.expr.includes(n))) b.exemplar(true);
  if (q.legend !== undefined) b.legendFormat(q.legend);
  if (q.instant) b.instant();
  else b.range();
  if (q.format === 'table') b.format(prometheus.PromQueryFormat.Table);
  if (q.format === 'heatmap') b.format(prometheus.PromQueryFormat.Heatmap);
  return b;
}

function thresholdSteps(t: Threshold[] | undefined): dash.ThresholdsConfigBuilder {
  return new dash.ThresholdsConfigBuilder()
    .mode(dash.ThresholdsMode.Absolute)
    .steps([{ value: null as unknown as number, color: 'green' }, ...(t ?? []).map((x) => ({ value: x.value, color: x.color }))]);
}

const lastValue = () => new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false);

function panel(p: PanelSpec, id: number, links: dash.DashboardLinkBuilder[]): cog.Builder<dash.Panel> {
  const shared = <B extends { id(n: number): B; title(t: string): B; description(d: string): B; datasource(d: common.DataSourceRef): B; span(w: number): B; height(h: number): B; dataLinks(l: cog.Builder<dash.DashboardLink>[]): B; links(l: cog.Builder<dash.DashboardLink>[]): B; thresholds(t: cog.Builder<dash.ThresholdsConfig>): B; unit(u: string): B; min(n: number): B; max(n: number): B; withTarget(t: cog.Builder<cog.Dataquery>): B }>(b: B): B => {
    b.id(id).title(p.title).description(p.description).datasource(DS).span(p.width ?? 12).height(p.height ?? 8).links(links).thresholds(thresholdSteps(p.thresholds));
    if (p.unit) b.unit(p.unit);
    if (p.min !== undefined) b.min(p.min);
    if (p.max !== undefined) b.max(p.max);
    p.queries.forEach((q, i) => b.withTarget(target(q, i)));
    return b;
  };
  switch (p.kind) {
    case 'timeseries': {
      const b = shared(new timeseries.PanelBuilder())
        .lineWidth(1)
        .fillOpacity(p.stacked ? 30 : 10)
        .legend(new common.VizLegendOptionsBuilder().showLegend(true).displayMode(common.LegendDisplayMode.Table).placement(common.LegendPlacement.Bottom).calcs(['lastNotNull', 'max']))
        .tooltip(new common.VizTooltipOptionsBuilder().mode(common.TooltipDisplayMode.Multi).sort(common.SortOrder.Descending));
      if (p.thresholds?.length) b.thresholdsStyle(new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Dashed));
      if (p.stacked) b.stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal));
      return b;
    }
    case 'stat':
      return shared(new stat.PanelBuilder()).reduceOptions(lastValue()).graphMode(common.BigValueGraphMode.Area).colorMode(common.BigValueColorMode.Value);
    case 'bargauge':
      return shared(new bargauge.PanelBuilder()).reduceOptions(lastValue()).displayMode(common.BarGaugeDisplayMode.Basic).orientation(common.VizOrientation.Horizontal);
    case 'table':
      return shared(new table.PanelBuilder()).cellHeight(common.TableCellHeight.Sm);
    case 'heatmap':
      return shared(new heatmap.PanelBuilder())
        .calculate(false)
        .yAxis(new heatmap.YAxisConfigBuilder().unit(p.unit ?? 's'))
        .color(new heatmap.HeatmapColorOptionsBuilder().mode(heatmap.HeatmapColorMode.Scheme).scheme('Oranges').steps(64))
        .rowsFrame(new heatmap.RowsHeatmapOptionsBuilder().layout(common.HeatmapCellLayout.Le));
    case 'statushistory':
      return shared(new statushistory.PanelBuilder()).showValue(common.VisibilityMode.Never).rowHeight(0.8);
  }
}

/** The dashboard JSON: fixed uid, version, tags (always `generated`), variables, panels with ids. */
export function buildDashboard(s: AscodeSettings, spec: DashboardSpec): dash.Dashboard {
  const meta = DASHBOARDS[spec.key];
  const live = () => new dash.DashboardLinkBuilder('Live event tail').type(dash.DashboardLinkType.Link).url(s.livePageUrl).targetBlank(true).tooltip('The exporter live page: every event as it arrives');
  const b = new dash.DashboardBuilder(meta.title)
    .uid(meta.uid)
    .description(`${spec.description} ${HEADER}.`)
    .version(spec.version)
    .tags(['workflow-exporter', 'generated', ...spec.tags])
    .editable()
    .time({ from: 'now-1h', to: 'now' })
    .refresh('30s')
    .timezone('browser')
    .tooltip(dash.DashboardCursorSync.Crosshair)
    .link(live())
    .link(new dash.DashboardLinkBuilder('Workflow dashboards').type(dash.DashboardLinkType.Dashboards).tags(['workflow-exporter']).asDropdown(true).includeVars(true).keepTime(true))
    .withVariable(new dash.DatasourceVariableBuilder('datasource').label('Data source').type('prometheus'));
  for (const key of spec.variables) {
    const x = VARIABLES[key];
    b.withVariable(
      new dash.QueryVariableBuilder(x.name)
        .label(x.label)
        .datasource(DS)
        .query(x.query)
        .definition(x.query)
        .multi(true)
        .includeAll(true)
        .allValue('.*')
        .current({ selected: true, text: 'All', value: '$__all' })
        .refresh(dash.VariableRefresh.OnTimeRangeChanged)
        .sort(dash.VariableSort.AlphabeticalAsc),
    );
  }
  let id = 1;
  for (const row of spec.rows) {
    b.withRow(new dash.RowBuilder(row.title).id(id++));
    for (const p of row.panels) b.withPanel(panel(p, id++, [live()]));
  }
  return b.build();
}
