// Kubernetes manifests, one file per component and kind (<component>-<kind>.yaml), built from typed
// models and validated against the Kubernetes, prometheus-operator and KEDA schemas before they are written.
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Service } from 'kubernetes-models/v1';
import { DEFAULT_PORT } from '../config/schema.js';
import { catalog } from '../metrics/catalog.js';
import { sel } from './promql.js';
import { dashboards } from './dashboards/index.js';
import { yamlFile, yamlText, type Files } from './files.js';
import type { RuleFile } from './prometheus.js';
import type { AscodeSettings } from '../config/ascode.js';

const APP = 'workflow-exporter';
const CONFIG_DIR = '/etc/workflow-exporter';

// OTLP/HTTP and OTLP/gRPC at their conventional ports, as in compose: agent apps keep their exporters' defaults
const OTLP_HTTP_PORT = 4318;
const OTLP_GRPC_PORT = 4317;

const STREAM = 'WORKFLOW_EVENTS';
const REDIS_KEY = 'workflow:events';

/** The exporter's configuration in the cluster: one bus consumer shared by the replicas, state in Redis. */
export function clusterExporterConfig(s: AscodeSettings): Record<string, unknown> {
  const source =
    s.kubernetes.bus === 'redis-streams'
      ? { kind: 'redis-streams', name: 'redis', url: s.kubernetes.redisUrl, keys: [REDIS_KEY], group: APP }
      : { kind: 'nats-jetstream', name: 'nats', servers: [s.kubernetes.natsUrl], streams: [{ stream: STREAM, subjects: ['workflow.>'], durable: APP }] };
  return {
    server: { port: DEFAULT_PORT },
    http: true,
    // agent frameworks' OTLP traces: OTEL_EXPORTER_OTLP_ENDPOINT=http://<service>.<namespace>:4318 (docs/OTLP.md)
    sources: [source, { kind: 'otlp', httpPort: OTLP_HTTP_PORT, grpcPort: OTLP_GRPC_PORT }],
    // replicas split one durable consumer; lifecycle state must be shared to pair start and end events
    state: { backend: 'redis', redisUrl: s.kubernetes.redisUrl, prefix: 'wfx' },
  };
}

/**
 * KEDA's scaler metadata is a free-form map in the CRD (the typed model checks only that values are
 * strings), so the keys each scaler requires are checked here, against KEDA's scaler documentation.
 */
const KEDA_REQUIRED: Record<string, string[]> = {
  'nats-jetstream': ['natsServerMonitoringEndpoint', 'account', 'stream', 'consumer', 'lagThreshold'],
  'redis-streams': ['address', 'stream', 'consumerGroup', 'pendingEntriesCount'],
  prometheus: ['serverAddress', 'query', 'threshold'],
};

interface KedaTrigger {
  type: string;
  name: string;
  metadata: Record<string, string>;
}

/** The ScaledObject's triggers: the bus's own lag, and optionally the exporter's pending gauge through Prometheus. */
export function kedaTriggers(s: AscodeSettings): KedaTrigger[] {
  const k = s.kubernetes;
  const threshold = String(k.keda.lagThreshold);
  const triggers: KedaTrigger[] = [];
  if (k.bus === 'redis-streams') {
    const u = new URL(k.redisUrl);
    // entries delivered to the group and not yet acked: what the replicas have not finished
    triggers.push({ type: 'redis-streams', name: 'pending-entries', metadata: { address: `${u.hostname}:${u.port || 6379}`, stream: REDIS_KEY, consumerGroup: APP, pendingEntriesCount: threshold } });
  } else {
    triggers.push({
      type: 'nats-jetstream',
      name: 'consumer-lag',
      metadata: { natsServerMonitoringEndpoint: k.keda.natsMonitoringEndpoint, account: '$G', stream: STREAM, consumer: APP, lagThreshold: threshold },
    });
  }
  if (k.keda.prometheusServerAddress) {
    // every replica reports the one shared consumer's backlog: max, not sum
    triggers.push({
      type: 'prometheus',
      name: 'exporter-pending',
      metadata: { serverAddress: k.keda.prometheusServerAddress, query: `max(${sel(catalog.sourcePending, { job: s.job })})`, threshold },
    });
  }
  for (const t of triggers) {
    const missing = KEDA_REQUIRED[t.type].filter((key) => !t.metadata[key]);
    if (missing.length > 0) throw new Error(`KEDA ${t.type} trigger lacks ${missing.join(', ')}`);
  }
  return triggers;
}

/** The ports the config's otlp source listens on, by port name: the Deployment and the Service open these. */
function otlpPorts(config: Record<string, unknown>): { name: string; port: number }[] {
  const otlp = (config.sources as { kind: string; httpPort?: number; grpcPort?: number }[]).find((src) => src.kind === 'otlp');
  return [
    ...(otlp?.httpPort !== undefined ? [{ name: 'otlp-http', port: otlp.httpPort }] : []),
    ...(otlp?.grpcPort !== undefined ? [{ name: 'otlp-grpc', port: otlp.grpcPort }] : []),
  ];
}

interface Validatable {
  validate(): void;
  toJSON(): unknown;
}

export function k8sFiles(s: AscodeSettings, rules: RuleFile[]): Files {
  const k = s.kubernetes;
  const ns = k.namespace;
  const labels = { 'app.kubernetes.io/name': APP, 'app.kubernetes.io/component': 'exporter', 'app.kubernetes.io/part-of': APP };
  const selector = { 'app.kubernetes.io/name': APP, 'app.kubernetes.io/component': 'exporter' };
  const meta = (name: string, extra: Record<string, string> = {}) => ({ name, namespace: ns, labels: { ...labels, ...extra } });
  const out: Files = new Map();
  const put = (component: string, kind: string, model: Validatable) => {
    model.validate(); // throws naming the field: a bad manifest never reaches the repository
    out.set(`k8s/${component}-${kind.toLowerCase()}.yaml`, yamlFile(model.toJSON()));
  };

  const config = clusterExporterConfig(s);
  const otlp = otlpPorts(config);
  put(APP, 'ConfigMap', new ConfigMap({ metadata: meta(`${APP}-config`), data: { 'config.yaml': yamlText(config) } }));

  put(
    APP,
    'Deployment',
    new Deployment({
      metadata: meta(APP),
      spec: {
        replicas: k.replicas,
        selector: { matchLabels: selector },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
        template: {
          metadata: { labels },
          spec: {
            automountServiceAccountToken: false,
            // longer than server.shutdownTimeoutMs: in-flight batches are acked before the kill
            terminationGracePeriodSeconds: 30,
            securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } },
            topologySpreadConstraints: [{ maxSkew: 1, topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'ScheduleAnyway', labelSelector: { matchLabels: selector } }],
            containers: [
              {
                name: 'exporter',
                image: k.image,
                imagePullPolicy: 'IfNotPresent',
                args: ['serve', '--config', `${CONFIG_DIR}/config.yaml`],
                ports: [{ name: 'http', containerPort: DEFAULT_PORT, protocol: 'TCP' }, ...otlp.map((p) => ({ name: p.name, containerPort: p.port, protocol: 'TCP' as const }))],
                env: [{ name: 'NODE_ENV', value: 'production' }],
                resources: { requests: { cpu: k.cpuRequest, memory: k.memoryRequest }, limits: { cpu: k.cpuLimit, memory: k.memoryLimit } },
                startupProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 2, failureThreshold: 30 },
                livenessProbe: { httpGet: { path: '/healthz', port: 'http' }, periodSeconds: 10, timeoutSeconds: 3, failureThreshold: 3 },
                // not ready while a source is disconnected: the Service stops sending it HTTP ingest
                readinessProbe: { httpGet: { path: '/readyz', port: 'http' }, periodSeconds: 5, timeoutSeconds: 3, failureThreshold: 2 },
                securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
                volumeMounts: [
                  { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
                  { name: 'tmp', mountPath: '/tmp' },
                ],
              },
            ],
            volumes: [
              { name: 'config', configMap: { name: `${APP}-config` } },
              { name: 'tmp', emptyDir: { sizeLimit: '64Mi' } },
            ],
          },
        },
      },
    }),
  );

  // OTLP/gRPC is one long HTTP/2 connection: the Service balances connections, so one app's spans
  // stay on one replica until it reconnects (docs/OTLP.md)
  put(
    APP,
    'Service',
    new Service({
      metadata: meta(s.job),
      spec: { selector, ports: [{ name: 'http', port: DEFAULT_PORT, targetPort: 'http', protocol: 'TCP' }, ...otlp.map((p) => ({ name: p.name, port: p.port, targetPort: p.name, protocol: 'TCP' as const }))] },
    }),
  );

  put(
    APP,
    'ServiceMonitor',
    new ServiceMonitor({
      metadata: meta(APP),
      spec: {
        selector: { matchLabels: selector },
        namespaceSelector: { matchNames: [ns] },
        // the job label is the Service name, which the rules select on
        endpoints: [{ port: 'http', path: '/metrics', interval: s.prometheus.scrapeInterval as `${number}s` }],
      },
    }),
  );

  put(APP, 'PrometheusRule', new PrometheusRule({ metadata: meta(APP), spec: { groups: rules.flatMap((f) => f.groups) as never } }));

  put(APP, 'PodDisruptionBudget', new PodDisruptionBudget({ metadata: meta(APP), spec: { minAvailable: 1, selector: { matchLabels: selector } } }));

  // scale down slowly: a replica leaving hands its pending messages back to the consumer
  const scaleDown = { stabilizationWindowSeconds: 300, policies: [{ type: 'Pods' as const, value: 1, periodSeconds: 120 }] };
  if (k.autoscaler === 'keda') {
    // KEDA creates and owns the HPA for the Deployment: only one of the two may exist
    put(
      APP,
      'ScaledObject',
      new ScaledObject({
        metadata: meta(APP),
        spec: {
          scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: APP },
          minReplicaCount: k.replicas,
          maxReplicaCount: k.maxReplicas,
          pollingInterval: k.keda.pollingIntervalSeconds,
          cooldownPeriod: k.keda.cooldownPeriodSeconds,
          advanced: { horizontalPodAutoscalerConfig: { behavior: { scaleDown } } },
          triggers: kedaTriggers(s),
        },
      }),
    );
  } else {
    put(
      APP,
      'HorizontalPodAutoscaler',
      new HorizontalPodAutoscaler({
        metadata: meta(APP),
        spec: {
          scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: APP },
          minReplicas: k.replicas,
          maxReplicas: k.maxReplicas,
          metrics: [{ type: 'Resource', resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } } }],
          behavior: { scaleDown },
        },
      }),
    );
  }

  for (const d of dashboards(s)) {
    put(
      `grafana-dashboard-${d.file}`,
      'ConfigMap',
      new ConfigMap({
        metadata: { name: `grafana-dashboard-${d.file}`, namespace: ns, labels: { ...labels, grafana_dashboard: '1' }, annotations: { grafana_folder: 'Workflows' } },
        data: { [`${d.file}.json`]: JSON.stringify(d.json, null, 2) },
      }),
    );
  }
  return out;
}
