// Dashboard identities: fixed uids (links in alerts and between dashboards depend on them) and titles.
export const DASHBOARDS = {
  overview: { uid: 'wfx-overview', title: 'Workflows overview', file: 'workflows-overview' },
  agents: { uid: 'wfx-agents', title: 'Workflow agents', file: 'workflow-agents' },
  stages: { uid: 'wfx-stages', title: 'Workflow stages', file: 'workflow-stages' },
  exporter: { uid: 'wfx-exporter', title: 'Workflow exporter health', file: 'workflow-exporter-health' },
} as const;
export type DashboardKey = keyof typeof DASHBOARDS;

/** `<grafana>/d/<uid>?var-x=…`; values may be Go template fragments (alert annotations). */
export function dashboardUrl(grafanaUrl: string, key: DashboardKey, vars: Record<string, string> = {}): string {
  const q = Object.entries(vars).map(([k, v]) => `var-${k}=${v}`);
  return `${grafanaUrl.replace(/\/$/, '')}/d/${DASHBOARDS[key].uid}${q.length ? `?${q.join('&')}` : ''}`;
}
