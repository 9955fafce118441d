// Grafana artifacts: the dashboards as JSON, and provisioning for the data sources and dashboards.
import { dashboards } from './dashboards/index.js';
import { jsonFile, yamlFile, type Files } from './files.js';
import { COMPOSE } from './compose.js';
import type { AscodeSettings } from '../config/ascode.js';

/** The trace store's data source (ascode.tracesUrl), which exemplars link to. */
export const TRACES_UID = 'traces';

/** Where the compose file mounts grafana/dashboards inside the Grafana container. */
export const GRAFANA_DASHBOARDS_PATH = '/etc/grafana/dashboards';

export function grafanaFiles(s: AscodeSettings): Files {
  const out: Files = new Map();
  for (const d of dashboards(s)) out.set(`grafana/dashboards/${d.file}.json`, jsonFile(d.json));
  out.set(
    'grafana/provisioning/datasources/datasources.yml',
    yamlFile({
      apiVersion: 1,
      datasources: [
        {
          name: 'Prometheus',
          uid: 'prometheus',
          type: 'prometheus',
          access: 'proxy',
          url: `http://${COMPOSE.prometheus.host}:${COMPOSE.prometheus.port}`,
          isDefault: true,
          editable: false,
          // $__rate_interval is at least four scrape intervals; Grafana must know the interval
          jsonData: {
            timeInterval: s.prometheus.scrapeInterval,
            httpMethod: 'POST',
            // exemplars of spans (docs/OTLP.md) link to their trace: in the trace store when one is
            // configured, and always in the live tail, filtered on the trace id
            exemplarTraceIdDestinations: [
              ...(s.tracesUrl ? [{ name: 'trace_id', datasourceUid: TRACES_UID, urlDisplayLabel: 'Trace' }] : []),
              { name: 'trace_id', url: `${s.livePageUrl.replace(/\/?$/, '/')}#q=\${__value.raw}`, urlDisplayLabel: 'Live tail' },
            ],
          },
        },
        ...(s.tracesUrl ? [{ name: 'Traces', uid: TRACES_UID, type: s.tracesType, access: 'proxy', url: s.tracesUrl, editable: false }] : []),
        {
          name: 'Alertmanager',
          uid: 'alertmanager',
          type: 'alertmanager',
          access: 'proxy',
          url: `http://${COMPOSE.alertmanager.host}:${COMPOSE.alertmanager.port}`,
          editable: false,
          jsonData: { implementation: 'prometheus', handleGrafanaManagedAlerts: false },
        },
      ],
    }),
  );
  out.set(
    'grafana/provisioning/dashboards/dashboards.yml',
    yamlFile({
      apiVersion: 1,
      providers: [
        {
          name: 'workflow-exporter',
          folder: 'Workflows',
          type: 'file',
          disableDeletion: true,
          allowUiUpdates: false, // the JSON is generated: edits belong in src/ascode
          updateIntervalSeconds: 30,
          options: { path: GRAFANA_DASHBOARDS_PATH, foldersFromFilesStructure: false },
        },
      ],
    }),
  );
  return out;
}
