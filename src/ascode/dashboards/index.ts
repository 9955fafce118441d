// The dashboards, built to Grafana JSON; a new dashboard is one module and one line here.
import type * as dash from '@grafana/grafana-foundation-sdk/dashboard';
import type { AscodeSettings } from '../../config/ascode.js';
import { agentsDashboard } from './agents.js';
import { buildDashboard, type DashboardSpec } from './common.js';
import { exporterDashboard } from './exporter.js';
import { DASHBOARDS } from './meta.js';
import { overviewDashboard } from './overview.js';
import { stagesDashboard } from './stages.js';

export const DASHBOARD_SPECS: ((s: AscodeSettings) => DashboardSpec)[] = [overviewDashboard, agentsDashboard, stagesDashboard, exporterDashboard];

export function dashboards(s: AscodeSettings): { file: string; json: dash.Dashboard }[] {
  return DASHBOARD_SPECS.map((f) => {
    const spec = f(s);
    return { file: DASHBOARDS[spec.key].file, json: buildDashboard(s, spec) };
  });
}
