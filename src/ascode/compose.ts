// docker-compose.yml: NATS (JetStream), Redis, the exporter, Prometheus, Alertmanager and Grafana
// with the generated configuration mounted, so `docker compose up` is a working stack.
import { DEFAULT_PORT } from '../config/schema.js';
import { yamlFile, type Files } from './files.js';
import type { AscodeSettings } from '../config/ascode.js';

/** Service names and ports inside the compose network; provisioning and scrape targets use them. */
export const COMPOSE = {
  nats: { host: 'nats', port: 4222, image: 'nats:2.10-alpine' },
  redis: { host: 'redis', port: 6379, image: 'redis:7.4-alpine' },
  // 4318 and 4317: OTLP/HTTP and OTLP/gRPC at their conventional ports, so agent apps keep their exporters' defaults
  exporter: { host: 'exporter', port: DEFAULT_PORT, otlpHttpPort: 4318, otlpGrpcPort: 4317, image: 'workflow-exporter:0.1.0' },
  prometheus: { host: 'prometheus', port: 9090, image: 'prom/prometheus:v2.53.4' },
  alertmanager: { host: 'alertmanager', port: 9093, image: 'prom/alertmanager:v0.27.0' },
  grafana: { host: 'grafana', port: 3000, image: 'grafana/grafana:12.2.0' },
} as const;

/** Paths inside the containers where the generated directories are mounted. */
export const MOUNTS = {
  prometheus: '/etc/prometheus',
  alertmanager: '/etc/alertmanager',
  grafanaProvisioning: '/etc/grafana/provisioning',
  grafanaDashboards: '/etc/grafana/dashboards',
} as const;

/** The exporter's configuration in compose, as WFX_* variables (no file to mount). */
export function exporterEnvironment(): Record<string, string> {
  return {
    WFX_DEMO: 'true', // traffic from the first second; real producers publish on workflow.> too
    WFX_STATE__BACKEND: 'redis',
    WFX_STATE__REDIS_URL: `redis://${COMPOSE.redis.host}:${COMPOSE.redis.port}`,
    WFX_SOURCES: JSON.stringify([
      { kind: 'nats-jetstream', name: 'nats', servers: [`nats://${COMPOSE.nats.host}:${COMPOSE.nats.port}`], streams: [{ stream: 'WORKFLOW_EVENTS', subjects: ['workflow.>'] }], create: true },
      // agent frameworks' OTLP traces: OTEL_EXPORTER_OTLP_ENDPOINT=http://exporter:4318 (docs/OTLP.md)
      { kind: 'otlp', httpPort: COMPOSE.exporter.otlpHttpPort, grpcPort: COMPOSE.exporter.otlpGrpcPort },
    ]),
  };
}

const wget = (url: string) => ['CMD', 'wget', '-q', '--spider', url];
const health = (test: string[]) => ({ test, interval: '10s', timeout: '5s', retries: 5, start_period: '10s' });

export function composeFile(s: AscodeSettings): unknown {
  const C = COMPOSE;
  return {
    name: 'workflow-exporter',
    services: {
      nats: {
        image: C.nats.image,
        command: ['-js', '-sd', '/data', '-m', '8222'],
        ports: [`${C.nats.port}:${C.nats.port}`],
        volumes: ['nats-data:/data'],
        healthcheck: health(wget('http://127.0.0.1:8222/healthz?js-enabled-only=true')),
        restart: 'unless-stopped',
      },
      redis: {
        image: C.redis.image,
        command: ['redis-server', '--save', '60', '1', '--appendonly', 'no'],
        ports: [`${C.redis.port}:${C.redis.port}`],
        volumes: ['redis-data:/data'],
        healthcheck: health(['CMD', 'redis-cli', 'ping']),
        restart: 'unless-stopped',
      },
      exporter: {
        build: { context: '.', dockerfile: 'Dockerfile' },
        image: C.exporter.image,
        environment: exporterEnvironment(),
        ports: [C.exporter.port, C.exporter.otlpHttpPort, C.exporter.otlpGrpcPort].map((p) => `${p}:${p}`),
        depends_on: { nats: { condition: 'service_healthy' }, redis: { condition: 'service_healthy' } },
        // slim images carry no curl or wget: Node's own fetch asks /readyz
        healthcheck: health(['CMD', 'node', '-e', `fetch('http://127.0.0.1:${C.exporter.port}/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`]),
        restart: 'unless-stopped',
      },
      prometheus: {
        image: C.prometheus.image,
        // exemplar storage: the latency panels' trace links (docs/OTLP.md, Exemplars)
        command: [`--config.file=${MOUNTS.prometheus}/prometheus.yml`, '--storage.tsdb.path=/prometheus', '--web.enable-lifecycle', '--enable-feature=exemplar-storage'],
        ports: [`${C.prometheus.port}:${C.prometheus.port}`],
        volumes: [`./prometheus:${MOUNTS.prometheus}:ro`, 'prometheus-data:/prometheus'],
        depends_on: { exporter: { condition: 'service_started' }, alertmanager: { condition: 'service_started' } },
        healthcheck: health(wget(`http://127.0.0.1:${C.prometheus.port}/-/ready`)),
        restart: 'unless-stopped',
      },
      alertmanager: {
        image: C.alertmanager.image,
        command: [`--config.file=${MOUNTS.alertmanager}/alertmanager.yml`, '--storage.path=/alertmanager'],
        ports: [`${C.alertmanager.port}:${C.alertmanager.port}`],
        volumes: [`./alertmanager:${MOUNTS.alertmanager}:ro`, 'alertmanager-data:/alertmanager'],
        // mounted where alertmanager.yml reads them through its *_file fields
        secrets: [s.alertmanager.slackApiUrlFile, s.alertmanager.smtpAuthPasswordFile].map((target) => ({ source: secretName(target), target })),
        healthcheck: health(wget(`http://127.0.0.1:${C.alertmanager.port}/-/ready`)),
        restart: 'unless-stopped',
      },
      grafana: {
        image: C.grafana.image,
        environment: { GF_AUTH_ANONYMOUS_ENABLED: 'true', GF_AUTH_ANONYMOUS_ORG_ROLE: 'Viewer', GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH: `${MOUNTS.grafanaDashboards}/workflows-overview.json` },
        ports: [`${C.grafana.port}:${C.grafana.port}`],
        volumes: [`./grafana/provisioning:${MOUNTS.grafanaProvisioning}:ro`, `./grafana/dashboards:${MOUNTS.grafanaDashboards}:ro`, 'grafana-data:/var/lib/grafana'],
        depends_on: { prometheus: { condition: 'service_healthy' } },
        healthcheck: health(wget(`http://127.0.0.1:${C.grafana.port}/api/health`)),
        restart: 'unless-stopped',
      },
    },
    secrets: {
      // values come from the environment (or an .env file) of `docker compose up`, never the repo
      [secretName(s.alertmanager.slackApiUrlFile)]: { environment: 'SLACK_API_URL' },
      [secretName(s.alertmanager.smtpAuthPasswordFile)]: { environment: 'SMTP_PASSWORD' },
    },
    volumes: { 'nats-data': {}, 'redis-data': {}, 'prometheus-data': {}, 'alertmanager-data': {}, 'grafana-data': {} },
  };
}

/** The compose secret's name: the file's base name, as compose allows in a name. */
function secretName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1).replace(/[^a-zA-Z0-9_.-]/g, '_');
}

export function composeFiles(s: AscodeSettings): Files {
  return new Map([['docker-compose.yml', yamlFile(composeFile(s))]]);
}
