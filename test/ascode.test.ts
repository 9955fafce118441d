// Observability as code: the committed artifacts are exactly what the generator writes, promtool and
// amtool accept them, every expression matches the metric catalog, and the compose file and the
// Kubernetes manifests hold together (parsed and validated with typed models; Docker cannot run here).
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1';
import { PrometheusRule, ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Service } from 'kubernetes-models/v1';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { generateCommand, settingsFromFile } from '../src/ascode/cli.js';
import { checkArtifacts, type DashboardDoc, type RuleDoc } from '../src/ascode/check.js';
import { DASHBOARDS } from '../src/ascode/dashboards/meta.js';
import { generatedFilesIn, GENERATED_MARK } from '../src/ascode/files.js';
import { alertFamilies } from '../src/ascode/alerts/index.js';
import { generate } from '../src/ascode/generate.js';
import { analyze, MetricUniverse } from '../src/ascode/promql-check.js';
import { goFormatG } from '../src/ascode/template.js';
import { ascodeSettings, DEFAULTS } from '../src/config/ascode.js';
import { loadConfig } from '../src/config/load.js';
import { configSchema } from '../src/config/schema.js';
import { ConfigError } from '../src/errors.js';
import { ALL_METRICS } from '../src/metrics/catalog.js';
import { startApp, waitFor } from './helpers/app.js';
import { value } from './helpers/metrics.js';
import { run } from './helpers/prometheus.js';

const REPO = resolve(import.meta.dirname, '..');
const read = (rel: string) => readFileSync(join(REPO, rel), 'utf8');
const yaml = <T = any>(rel: string): T => parseYaml(read(rel)) as T; // eslint-disable-line @typescript-eslint/no-explicit-any
const listDir = (rel: string) => readdirSync(join(REPO, rel)).sort();

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'wfx-ascode-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function ruleDocsInLoadOrder(root = REPO): { file: string; doc: RuleDoc }[] {
  const prom = parseYaml(readFileSync(join(root, 'prometheus/prometheus.yml'), 'utf8')) as { rule_files: string[] };
  return prom.rule_files.map((f) => ({ file: `prometheus/${f}`, doc: parseYaml(readFileSync(join(root, 'prometheus', f), 'utf8')) as RuleDoc }));
}
function dashboardDocs(): { file: string; doc: DashboardDoc & Record<string, any> }[] { // eslint-disable-line @typescript-eslint/no-explicit-any
  return listDir('grafana/dashboards').map((f) => ({ file: `grafana/dashboards/${f}`, doc: JSON.parse(read(`grafana/dashboards/${f}`)) }));
}

describe('generate', () => {
  it('writes exactly the committed files (CI: generate, then diff)', async () => {
    const out = join(tmp, 'regen');
    await generateCommand(['--out', out]);
    const fresh = generatedFilesIn(out);
    const committed = generatedFilesIn(REPO);
    expect(fresh).toEqual(committed);
    expect(fresh.length).toBeGreaterThanOrEqual(26);
    const differ = fresh.filter((rel) => readFileSync(join(out, rel), 'utf8') !== read(rel));
    expect(differ, `run npm run generate and commit: ${differ.join(', ')}`).toEqual([]);
  });

  it('is deterministic and marks every file with the command that writes it', () => {
    const a = generate();
    const b = generate();
    expect([...a.entries()]).toEqual([...b.entries()]);
    for (const [rel, text] of a) {
      if (rel.endsWith('.json')) expect(JSON.parse(text).description, rel).toContain(GENERATED_MARK);
      else expect(text.startsWith(`# ${GENERATED_MARK}`), rel).toBe(true);
    }
  });

  it('removes a file an earlier run generated and this run does not, and leaves other files alone', async () => {
    const out = join(tmp, 'stale');
    await generateCommand(['--out', out]);
    writeFileSync(join(out, 'prometheus/rules/old.yml'), `# ${GENERATED_MARK}\ngroups: []\n`);
    writeFileSync(join(out, 'prometheus/rules/mine.yml'), 'groups: []\n');
    await generateCommand(['--out', out]);
    expect(existsSync(join(out, 'prometheus/rules/old.yml'))).toBe(false);
    expect(existsSync(join(out, 'prometheus/rules/mine.yml'))).toBe(true);
  });

  it('takes thresholds from the config file, and its rules and promtool tests move together', async () => {
    const dir = join(tmp, 'custom');
    const cfg = join(tmp, 'custom.yaml');
    writeFileSync(
      cfg,
      [
        'sources: []',
        'ascode:',
        '  team: payments',
        '  thresholds: { errorRatioWarning: 0.2, errorRatioCritical: 0.5, runLatencyP95Seconds: 600, rejectedRatio: 0.05 }',
        '  slo: { successRatio: 0.995 }',
        '  for: { errorRatio: 2m }',
        '',
      ].join('\n'),
    );
    // the same file is a valid exporter config
    expect(loadConfig({ file: cfg }).ascode.thresholds.errorRatioCritical).toBe(0.5);
    await generateCommand(['--out', dir, '--config', cfg]);
    type AlertRule = { alert?: string; expr: string; for: string; labels: Record<string, string> };
    const rules = parseYaml(readFileSync(join(dir, 'prometheus/rules/workflow-alerts.yml'), 'utf8')) as { groups: { rules: AlertRule[] }[] };
    const errRules = rules.groups.flatMap((g) => g.rules).filter((r) => r.alert === 'WorkflowErrorRatioHigh');
    expect(errRules.map((r) => [r.labels.severity, r.expr, r.for, r.labels.team])).toEqual([
      ['warning', 'workflow:runs_error_ratio:rate5m > 0.2', '2m', 'payments'],
      ['critical', 'workflow:runs_error_ratio:rate5m > 0.5', '2m', 'payments'],
    ]);
    const fast = rules.groups.flatMap((g) => g.rules).find((r) => r.alert === 'WorkflowErrorBudgetFastBurn')!;
    // 0.5% budget: 14.4x is 7.2%, 6x is 3%
    expect(fast.expr).toBe(
      '(workflow:runs_error_ratio:rate1h > 0.072 and workflow:runs_error_ratio:rate5m > 0.072) or (workflow:runs_error_ratio:rate6h > 0.03 and workflow:runs_error_ratio:rate30m > 0.03)',
    );
    const r = await run('promtool', ['test', 'rules', 'tests/workflow-alerts.test.yml', 'tests/exporter-alerts.test.yml'], { cwd: join(dir, 'prometheus') });
    expect(r.stdout + r.stderr).not.toContain('FAILED');
    expect(r.code).toBe(0);
  });

  it('refuses a bad ascode section with the path of the bad value', () => {
    const cfg = join(tmp, 'bad.yaml');
    writeFileSync(cfg, 'ascode:\n  thresholds: { errorRatioWarning: 0.3, errorRatioCritical: 0.2 }\n  for: { errorRatio: five minutes }\n');
    let err: unknown;
    try {
      settingsFromFile(cfg);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues.map((i) => i.path).sort()).toEqual(['ascode.for.errorRatio', 'ascode.thresholds']);
    // an SLO so loose the fast burn could never fire is refused, naming the setting
    expect(() => generate(ascodeSettings({ slo: { successRatio: 0.9 } }))).toThrow(/ascode\.slo: a 0\.9 target over 30d/);
  });

  it('formats values the way the Go templates print them', () => {
    expect([goFormatG(17.5, 4), goFormatG(100, 4), goFormatG(4.5, 4), goFormatG(16.666666, 4), goFormatG(123456, 4), goFormatG(0.00001234, 4)]).toEqual([
      '17.5',
      '100',
      '4.5',
      '16.67',
      '1.235e+05',
      '1.234e-05',
    ]);
  });
});

describe('promtool and amtool', () => {
  it('promtool check config and check rules accept the generated Prometheus files', async () => {
    const cfg = await run('promtool', ['check', 'config', 'prometheus/prometheus.yml'], { cwd: REPO });
    expect(cfg.stdout + cfg.stderr).toContain('SUCCESS');
    expect(cfg.code).toBe(0);
    const files = listDir('prometheus/rules').map((f) => `prometheus/rules/${f}`);
    const rules = await run('promtool', ['check', 'rules', ...files], { cwd: REPO });
    expect(rules.code).toBe(0);
    // promtool found every rule of every file
    const counts = files.map((f) => `SUCCESS: ${yaml<RuleDoc>(f).groups.reduce((n, g) => n + g.rules.length, 0)} rules found`);
    expect(rules.stdout.match(/SUCCESS: \d+ rules found/g)).toEqual(counts);
    expect(counts).toContain('SUCCESS: 24 rules found'); // workflow recording rules
  });

  it('promtool test rules passes, with a firing and a silent case for every alert', async () => {
    const r = await run('promtool', ['test', 'rules', ...listDir('prometheus/tests').map((f) => `tests/${f}`)], { cwd: join(REPO, 'prometheus') });
    expect(r.stdout + r.stderr).not.toContain('FAILED');
    expect(r.code).toBe(0);
    const alerts = ruleDocsInLoadOrder().flatMap(({ doc }) => doc.groups.flatMap((g) => g.rules)).filter((x) => x.alert).map((x) => x.alert!);
    type T = { tests: { alert_rule_test: { alertname: string; exp_alerts: unknown[] }[] }[] };
    const cases = listDir('prometheus/tests').flatMap((f) => yaml<T>(`prometheus/tests/${f}`).tests.flatMap((t) => t.alert_rule_test));
    for (const name of new Set(alerts)) {
      expect(cases.some((c) => c.alertname === name && c.exp_alerts.length > 0), `${name} fires`).toBe(true);
      expect(cases.some((c) => c.alertname === name && c.exp_alerts.length === 0), `${name} stays silent`).toBe(true);
    }
    expect([...new Set(alerts)].sort()).toEqual(alertFamilies(ascodeSettings()).map((f) => f.name).sort());
  });

  it('a promtool test fails when the rule and its expectation disagree (the tests can fail)', async () => {
    const dir = join(tmp, 'mutated');
    await generateCommand(['--out', dir]);
    const p = join(dir, 'prometheus/rules/workflow-alerts.yml');
    writeFileSync(p, readFileSync(p, 'utf8').replace('workflow:runs_error_ratio:rate5m > 0.25', 'workflow:runs_error_ratio:rate5m > 1'));
    const r = await run('promtool', ['test', 'rules', 'tests/workflow-alerts.test.yml'], { cwd: join(dir, 'prometheus') });
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toContain('WorkflowErrorRatioHigh: every run failing');
  });

  it('amtool check-config accepts the Alertmanager config, and routes by severity', async () => {
    const c = await run('amtool', ['check-config', 'alertmanager/alertmanager.yml'], { cwd: REPO });
    expect(c.stdout).toContain('SUCCESS');
    expect(c.stdout).toContain('1 inhibit rules');
    expect(c.code).toBe(0);
    const route = async (...labels: string[]) =>
      (await run('amtool', ['config', 'routes', 'test', '--config.file=alertmanager/alertmanager.yml', ...labels], { cwd: REPO })).stdout.trim();
    expect(await route('alertname=WorkflowErrorRatioHigh', 'severity=critical', 'team=payments')).toBe('slack-critical,email-critical');
    expect(await route('alertname=WorkflowErrorRatioHigh', 'severity=warning', 'team=payments')).toBe('slack-warning');
    expect(await route('alertname=Other')).toBe('slack-warning');
  });

  it('promtool check metrics is clean on a real scrape of an exporter fed by demo traffic', async () => {
    const t = await startApp({ sources: [{ kind: 'demo', rate: 400, timeScale: 200, seed: 7 }], http: true });
    try {
      await waitFor('finished runs and stages', async () => {
        const text = await t.scrape();
        return value(text, 'workflow_runs_finished_total') >= 5 && value(text, 'workflow_stage_duration_seconds_count') >= 5;
      }, 30_000);
      const text = await (await fetch(`${t.url}/metrics`)).text();
      for (const d of ALL_METRICS.filter((m) => ['workflow_runs_started_total', 'workflow_run_duration_seconds', 'workflow_tasks_total'].includes(m.name))) {
        expect(text).toContain(`# TYPE ${d.name} ${d.type}`);
      }
      const r = await run('promtool', ['check', 'metrics'], { input: text });
      expect(r.stdout + r.stderr).toBe('');
      expect(r.code).toBe(0);
    } finally {
      await t.close();
    }
  });
});

describe('expressions against the metric catalog', () => {
  it('every metric and label in every rule, dashboard panel and variable exists in the catalog', () => {
    const result = checkArtifacts(ruleDocsInLoadOrder(), dashboardDocs());
    expect(result.problems).toEqual([]);
    // every rule and every panel target of the four dashboards was analysed
    const rules = ruleDocsInLoadOrder().reduce((n, { doc }) => n + doc.groups.reduce((m, g) => m + g.rules.length, 0), 0);
    const panelTargets = dashboardDocs().reduce((n, d) => n + (d.doc.panels ?? []).reduce((m, p) => m + (p.targets?.length ?? 0), 0), 0);
    expect(result.expressions).toBe(rules + panelTargets);
    expect(rules).toBeGreaterThanOrEqual(43);
    expect(panelTargets).toBeGreaterThan(40);
  });

  it('a renamed metric or label in a committed dashboard would be caught', () => {
    const docs = dashboardDocs();
    const renamed = JSON.parse(JSON.stringify(docs).replaceAll('workflow_tasks_total', 'workflow_agent_tasks_total').replaceAll('by (agent)', 'by (agent_name)'));
    const problems = checkArtifacts(ruleDocsInLoadOrder(), renamed).problems;
    expect(problems.some((p) => p.includes('unknown metric workflow_agent_tasks_total'))).toBe(true);
    expect(problems.some((p) => p.includes('label agent_name is not on the input'))).toBe(true);
  });

  it('workflow_runs_active is aggregated with max, never summed across replicas', () => {
    const exprs = [
      ...ruleDocsInLoadOrder().flatMap(({ doc }) => doc.groups.flatMap((g) => g.rules.map((r) => r.expr))),
      ...dashboardDocs().flatMap(({ doc }) => (doc.panels ?? []).flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? ''))),
    ];
    const uses = exprs.filter((e) => /\bworkflow_runs_active\b/.test(e));
    expect(uses.length).toBe(2);
    for (const e of uses) expect(e).toMatch(/max by \(workflow_type, state\) \(workflow_runs_active\b/);
  });

  it('recording rules are named level:metric:operation and carry the labels dashboards filter on', () => {
    const { universe, problems } = checkArtifacts(ruleDocsInLoadOrder(), []);
    expect(problems).toEqual([]);
    expect([...universe.labels('workflow:run_duration_seconds:p95_5m')!]).toEqual(['workflow_type']);
    expect([...universe.labels('workflow:stage_duration_seconds:p99_5m')!].sort()).toEqual(['stage', 'workflow_type']);
    expect([...universe.labels('workflow:task_duration_seconds:p50_5m')!]).toEqual(['agent']);
    expect([...universe.labels('workflow:runs_active:max')!].sort()).toEqual(['state', 'workflow_type']);
    // before the rules load, the name is unknown: dashboards cannot use a rule nobody defines
    expect(new MetricUniverse().has('workflow:run_duration_seconds:p95_5m')).toBe(false);
  });
});

describe('dashboards', () => {
  const docs = dashboardDocs();

  it('have fixed uids, a version, tags with generated, a datasource variable, and links to the live page', () => {
    expect(docs.map((d) => [d.file, d.doc.uid, d.doc.title])).toEqual(
      Object.values(DASHBOARDS)
        .map((m) => [`grafana/dashboards/${m.file}.json`, m.uid, m.title])
        .sort((a, b) => a[0].localeCompare(b[0])),
    );
    for (const { file, doc } of docs) {
      expect(doc.version, file).toBeGreaterThanOrEqual(1);
      expect(doc.tags, file).toEqual(expect.arrayContaining(['generated', 'workflow-exporter']));
      const vars = doc.templating!.list as { name: string; type: string; query: string }[];
      expect(vars[0], file).toMatchObject({ name: 'datasource', type: 'datasource', query: 'prometheus' });
      const ids = (doc.panels as { id: number }[]).map((p) => p.id);
      expect(new Set(ids).size, file).toBe(ids.length);
      for (const p of doc.panels as { type: string; links?: { url: string }[]; datasource?: { uid: string }; title: string }[]) {
        if (p.type === 'row') continue;
        expect(p.links?.map((l) => l.url), `${file} ${p.title}`).toEqual([DEFAULTS.livePageUrl]);
        expect(p.datasource, `${file} ${p.title}`).toEqual({ type: 'prometheus', uid: '${datasource}' });
      }
    }
    const varNames = (f: string) => (docs.find((d) => d.file.endsWith(f))!.doc.templating!.list as { name: string }[]).map((v) => v.name);
    expect(varNames('workflows-overview.json')).toEqual(['datasource', 'workflow_type']);
    expect(varNames('workflow-agents.json')).toEqual(['datasource', 'agent']);
    expect(varNames('workflow-stages.json')).toEqual(['datasource', 'workflow_type', 'stage']);
  });

  it('hold the panels the issue asks for', () => {
    const titles = (f: string) => (docs.find((d) => d.file.endsWith(f))!.doc.panels as { title: string; type: string }[]).map((p) => `${p.type}:${p.title}`);
    expect(titles('workflows-overview.json')).toEqual(
      expect.arrayContaining(['stat:Success ratio', 'stat:Error ratio', 'stat:Active runs', 'timeseries:Throughput', 'timeseries:Run duration p50 / p95 / p99', 'heatmap:Run duration heatmap', 'bargauge:Top failing workflow types']),
    );
    expect(titles('workflow-agents.json')).toEqual(
      expect.arrayContaining(['status-history:Last seen (seconds ago)', 'timeseries:Tasks per agent', 'timeseries:Task errors per agent', 'timeseries:p95 task latency per agent']),
    );
    expect(titles('workflow-stages.json')).toEqual(expect.arrayContaining(['timeseries:Stage duration p95', 'timeseries:Stage failures']));
    expect(titles('workflow-exporter-health.json')).toEqual(
      expect.arrayContaining(['timeseries:Rejected by reason', 'timeseries:Pending messages', 'timeseries:Event lag p50 / p95 / p99', 'timeseries:Tail clients', 'timeseries:Tail drops', 'timeseries:Label overflow', 'status-history:Source connected']),
    );
  });

  it('are provisioned with Prometheus and Alertmanager data sources', () => {
    const ds = yaml('grafana/provisioning/datasources/datasources.yml');
    expect(ds.datasources.map((d: { type: string; url: string }) => [d.type, d.url])).toEqual([
      ['prometheus', 'http://prometheus:9090'],
      ['alertmanager', 'http://alertmanager:9093'],
    ]);
    const prov = yaml('grafana/provisioning/dashboards/dashboards.yml');
    expect(prov.providers[0]).toMatchObject({ type: 'file', options: { path: '/etc/grafana/dashboards' } });
  });
});

describe('alerting rules and routing', () => {
  const alerts = ruleDocsInLoadOrder()
    .flatMap(({ doc }) => doc.groups.flatMap((g) => g.rules))
    .filter((r) => r.alert) as unknown as { alert: string; expr: string; for: string; labels: Record<string, string>; annotations: Record<string, string> }[];

  it('each has severity, team, summary, description, a runbook section and a dashboard link', () => {
    const runbooks = read('docs/OBSERVABILITY.md');
    const uids = Object.values(DASHBOARDS).map((d) => d.uid);
    for (const a of alerts) {
      expect(['critical', 'warning'], a.alert).toContain(a.labels.severity);
      expect(a.labels.team, a.alert).toBe(DEFAULTS.team);
      expect(Object.keys(a.annotations).sort(), a.alert).toEqual(['dashboard', 'description', 'runbook_url', 'summary']);
      expect(a.annotations.runbook_url, a.alert).toBe(`${DEFAULTS.runbookUrl}#${a.alert.toLowerCase()}`);
      expect(runbooks.includes(`\n### ${a.alert}\n`), `docs/OBSERVABILITY.md needs a "### ${a.alert}" section`).toBe(true);
      const uid = /\/d\/([^?]+)/.exec(a.annotations.dashboard)?.[1];
      expect(uids, a.alert).toContain(uid);
    }
    expect(alerts.map((a) => `${a.alert}/${a.labels.severity}/${a.for}`)).toEqual(expect.arrayContaining([
      'WorkflowRunLatencyHigh/warning/5m',
      'WorkflowErrorRatioHigh/warning/5m',
      'WorkflowErrorRatioHigh/critical/5m',
      'WorkflowAgentSilent/warning/0s',
      'WorkflowQueueDepthHigh/warning/10m',
      'WorkflowErrorBudgetFastBurn/critical/2m',
      'WorkflowErrorBudgetSlowBurn/warning/15m',
      'WorkflowExporterDown/critical/1m',
      'WorkflowExporterSourceDown/critical/2m',
      'WorkflowExporterEventsLost/warning/0s',
      'WorkflowExporterRejectingEvents/warning/10m',
      'WorkflowExporterSourceLagGrowing/warning/10m',
      'WorkflowEventLagHigh/warning/10m',
    ]));
  });

  it('burn-rate alerts pair a long and a short window at the workbook factors for a 30-day 99% SLO', () => {
    const fast = alerts.find((a) => a.alert === 'WorkflowErrorBudgetFastBurn')!;
    const slow = alerts.find((a) => a.alert === 'WorkflowErrorBudgetSlowBurn')!;
    expect(fast.expr).toBe(
      '(workflow:runs_error_ratio:rate1h > 0.144 and workflow:runs_error_ratio:rate5m > 0.144) or (workflow:runs_error_ratio:rate6h > 0.06 and workflow:runs_error_ratio:rate30m > 0.06)',
    );
    expect(slow.expr).toBe(
      '(workflow:runs_error_ratio:rate1d > 0.03 and workflow:runs_error_ratio:rate2h > 0.03) or (workflow:runs_error_ratio:rate3d > 0.01 and workflow:runs_error_ratio:rate6h > 0.01)',
    );
  });

  it('Alertmanager: Slack for critical and warning by team channel, email for critical, an inhibit rule, secrets only from files', () => {
    const am = yaml('alertmanager/alertmanager.yml');
    const text = read('alertmanager/alertmanager.yml');
    for (const inline of ['api_url:', 'slack_api_url:', 'auth_password:', 'smtp_auth_password:', 'auth_secret:']) expect(text).not.toMatch(new RegExp(`\\b${inline}`));
    expect(am.global.smtp_auth_password_file).toBe('/run/secrets/smtp_password');
    const receivers = Object.fromEntries(am.receivers.map((r: { name: string }) => [r.name, r]));
    expect(receivers['slack-critical'].slack_configs[0]).toMatchObject({ api_url_file: '/run/secrets/slack_api_url', channel: '#alerts-{{ .CommonLabels.team }}' });
    expect(receivers['slack-warning'].slack_configs[0].api_url_file).toBe('/run/secrets/slack_api_url');
    expect(receivers['email-critical'].email_configs[0]).toMatchObject({ to: '{{ .CommonLabels.team }}-oncall@example.com', auth_password_file: '/run/secrets/smtp_password' });
    expect(am.route.group_by).toEqual(['alertname', 'team']);
    expect(am.inhibit_rules).toEqual([
      {
        source_matchers: ['severity="critical"'],
        target_matchers: ['severity="warning"'],
        equal: ['alertname', 'team', 'agent', 'instance', 'job', 'kind', 'metric', 'queue', 'reason', 'source', 'workflow_type'],
      },
    ]);
  });
});

describe('docker compose (structure; no Docker engine here)', () => {
  const compose = yaml('docker-compose.yml');

  it('runs nats, redis, the exporter, prometheus, alertmanager and grafana, each with a healthcheck and ports', () => {
    expect(Object.keys(compose.services)).toEqual(['nats', 'redis', 'exporter', 'prometheus', 'alertmanager', 'grafana']);
    const ports = Object.fromEntries(Object.entries(compose.services).map(([k, v]) => [k, (v as { ports: string[] }).ports]));
    expect(ports).toEqual({ nats: ['4222:4222'], redis: ['6379:6379'], exporter: ['9477:9477', '4318:4318', '4317:4317'], prometheus: ['9090:9090'], alertmanager: ['9093:9093'], grafana: ['3000:3000'] });
    for (const [name, svc] of Object.entries(compose.services) as [string, { healthcheck?: { test: string[] }; depends_on?: Record<string, unknown> }][]) {
      expect(svc.healthcheck?.test[0], name).toBe('CMD');
      for (const dep of Object.keys(svc.depends_on ?? {})) expect(Object.keys(compose.services), `${name} depends on ${dep}`).toContain(dep);
    }
    expect(compose.services.nats.command).toContain('-js');
    expect(compose.services.exporter.build).toEqual({ context: '.', dockerfile: 'Dockerfile' });
  });

  it('mounts only files that exist in the repository, and declares every named volume and secret', () => {
    const named = new Set(Object.keys(compose.volumes));
    let binds = 0;
    for (const [name, svc] of Object.entries(compose.services) as [string, { volumes?: string[]; secrets?: { source: string }[] }][]) {
      for (const v of svc.volumes ?? []) {
        const [src] = v.split(':');
        if (src.startsWith('./')) {
          binds++;
          expect(existsSync(join(REPO, src)), `${name}: ${src}`).toBe(true);
        } else expect(named.has(src), `${name}: volume ${src}`).toBe(true);
      }
      for (const s of svc.secrets ?? []) expect(Object.keys(compose.secrets), name).toContain(s.source);
    }
    expect(binds).toBe(4);
    // what the mounted directories must hold for each service to start
    for (const f of ['prometheus/prometheus.yml', 'alertmanager/alertmanager.yml', 'grafana/provisioning/datasources/datasources.yml', 'grafana/provisioning/dashboards/dashboards.yml', 'grafana/dashboards/workflows-overview.json', 'Dockerfile', '.dockerignore']) {
      expect(existsSync(join(REPO, f)), f).toBe(true);
    }
    expect(compose.services.alertmanager.secrets.map((s: { target: string }) => s.target)).toEqual(['/run/secrets/slack_api_url', '/run/secrets/smtp_password']);
  });

  it("the exporter's environment is a valid configuration: JetStream and OTLP sources, Redis state, demo traffic", () => {
    const cfg = loadConfig({ env: compose.services.exporter.environment });
    expect(cfg.demo).toBe(true);
    expect(cfg.state).toMatchObject({ backend: 'redis', redisUrl: 'redis://redis:6379' });
    expect(cfg.sources).toEqual([
      expect.objectContaining({ kind: 'nats-jetstream', servers: ['nats://nats:4222'], create: true }),
      expect.objectContaining({ kind: 'otlp', http: true, httpPort: 4318, grpcPort: 4317 }),
    ]);
    expect(compose.services.prometheus.command).toContain('--enable-feature=exemplar-storage');
  });

  it('the Dockerfile builds in one stage and runs as a non-root user on Node 24 in another', () => {
    const df = read('Dockerfile');
    expect(df.match(/^FROM node:24[^\s]* AS build$/m)).not.toBeNull();
    expect(df.match(/^FROM /gm)).toHaveLength(2);
    expect(df).toMatch(/^USER node$/m);
    expect(df).toMatch(/^EXPOSE 9477 4318 4317$/m);
    for (const m of df.matchAll(/^COPY (?!--from)(\S+(?: \S+)*) \S+$/gm)) for (const src of m[1].split(' ')) expect(existsSync(join(REPO, src)), src).toBe(true);
  });
});

describe('kubernetes manifests', () => {
  const MODELS: Record<string, new (d: any) => { validate(): void }> = { Deployment, Service, ConfigMap, ServiceMonitor, PrometheusRule, PodDisruptionBudget, HorizontalPodAutoscaler }; // eslint-disable-line @typescript-eslint/no-explicit-any
  const files = listDir('k8s');
  const docs = Object.fromEntries(files.map((f) => [f, parseAllDocuments(read(`k8s/${f}`)).map((d) => d.toJS())]));
  const one = (f: string) => docs[f][0];

  it('are named <component>-<kind>.yaml and validate against the typed models', () => {
    expect(files).toEqual([
      'grafana-dashboard-workflow-agents-configmap.yaml',
      'grafana-dashboard-workflow-exporter-health-configmap.yaml',
      'grafana-dashboard-workflow-stages-configmap.yaml',
      'grafana-dashboard-workflows-overview-configmap.yaml',
      'workflow-exporter-configmap.yaml',
      'workflow-exporter-deployment.yaml',
      'workflow-exporter-horizontalpodautoscaler.yaml',
      'workflow-exporter-poddisruptionbudget.yaml',
      'workflow-exporter-prometheusrule.yaml',
      'workflow-exporter-service.yaml',
      'workflow-exporter-servicemonitor.yaml',
    ]);
    for (const f of files) {
      expect(docs[f], f).toHaveLength(1);
      const d = one(f);
      expect(f.endsWith(`-${d.kind.toLowerCase()}.yaml`), f).toBe(true);
      expect(() => new MODELS[d.kind](d).validate(), f).not.toThrow();
    }
    // the models do catch a bad manifest
    const bad = structuredClone(one('workflow-exporter-deployment.yaml'));
    bad.spec.template.spec.containers[0].ports[0].containerPort = 'http';
    expect(() => new Deployment(bad).validate()).toThrow(/containerPort/);
  });

  it('the Deployment probes /healthz and /readyz, sets resources, and runs non-root on a read-only root filesystem', () => {
    const d = one('workflow-exporter-deployment.yaml');
    const pod = d.spec.template.spec;
    const c = pod.containers[0];
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    expect(c.resources).toEqual({ requests: { cpu: '200m', memory: '192Mi' }, limits: { cpu: '1', memory: '512Mi' } });
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(c.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(c.args).toEqual(['serve', '--config', '/etc/workflow-exporter/config.yaml']);
    // the mounted config is a valid exporter config
    const cfg = configSchema.parse(parseYaml(one('workflow-exporter-configmap.yaml').data['config.yaml']));
    expect(cfg.state.backend).toBe('redis');
    expect(cfg.sources[0].kind).toBe('nats-jetstream');
  });

  it('the mounted config has an otlp source, and the Deployment and the Service open its ports 4318 and 4317 by name', () => {
    const cfg = configSchema.parse(parseYaml(one('workflow-exporter-configmap.yaml').data['config.yaml']));
    expect(cfg.sources.map((src) => src.kind)).toEqual(['nats-jetstream', 'otlp']);
    expect(cfg.sources[1]).toMatchObject({ kind: 'otlp', http: true, httpPort: 4318, grpcPort: 4317 });
    const deployment = one('workflow-exporter-deployment.yaml');
    const svc = one('workflow-exporter-service.yaml');
    expect(() => new Deployment(deployment).validate()).not.toThrow();
    expect(() => new Service(svc).validate()).not.toThrow();
    expect(deployment.spec.template.spec.containers[0].ports).toEqual([
      { name: 'http', containerPort: 9477, protocol: 'TCP' },
      { name: 'otlp-http', containerPort: 4318, protocol: 'TCP' },
      { name: 'otlp-grpc', containerPort: 4317, protocol: 'TCP' },
    ]);
    expect(svc.spec.ports).toEqual([
      { name: 'http', port: 9477, targetPort: 'http', protocol: 'TCP' },
      { name: 'otlp-http', port: 4318, targetPort: 'otlp-http', protocol: 'TCP' },
      { name: 'otlp-grpc', port: 4317, targetPort: 'otlp-grpc', protocol: 'TCP' },
    ]);
    // the scrape stays on the http port, not on an OTLP one
    expect(one('workflow-exporter-servicemonitor.yaml').spec.endpoints.map((e: { port: string }) => e.port)).toEqual(['http']);
  });

  it('the PrometheusRule holds the same groups as prometheus/rules, and the dashboards ConfigMaps the same JSON', () => {
    const rule = one('workflow-exporter-prometheusrule.yaml');
    expect(rule.spec.groups).toEqual(ruleDocsInLoadOrder().flatMap(({ doc }) => doc.groups));
    for (const d of dashboardDocs()) {
      const name = d.file.replace('grafana/dashboards/', '').replace('.json', '');
      const cm = one(`grafana-dashboard-${name}-configmap.yaml`);
      expect(cm.metadata.labels.grafana_dashboard).toBe('1');
      expect(JSON.parse(cm.data[`${name}.json`])).toEqual(d.doc);
    }
    const sm = one('workflow-exporter-servicemonitor.yaml');
    const svc = one('workflow-exporter-service.yaml');
    expect(sm.spec.selector.matchLabels).toEqual(svc.spec.selector);
    expect(svc.metadata.name).toBe(DEFAULTS.job);
    expect(one('workflow-exporter-poddisruptionbudget.yaml').spec.minAvailable).toBe(1);
    expect(one('workflow-exporter-horizontalpodautoscaler.yaml').spec).toMatchObject({ minReplicas: 2, maxReplicas: 6 });
  });
});

describe('KEDA ScaledObject (kubernetes.autoscaler: keda)', () => {
  const manifests = (kubernetes: Record<string, unknown>) => {
    const files = generate(ascodeSettings({ kubernetes } as never));
    const k8s = [...files.keys()].filter((f) => f.startsWith('k8s/workflow-exporter-')).sort();
    return { k8s, doc: (f: string) => parseYaml(files.get(f)!) };
  };

  it('replaces the HPA with a ScaledObject on the NATS JetStream consumer lag, validated by the KEDA model', () => {
    const { k8s, doc } = manifests({ autoscaler: 'keda', keda: { prometheusServerAddress: 'http://prometheus:9090' } });
    expect(k8s).toContain('k8s/workflow-exporter-scaledobject.yaml');
    expect(k8s).not.toContain('k8s/workflow-exporter-horizontalpodautoscaler.yaml');
    const so = doc('k8s/workflow-exporter-scaledobject.yaml');
    expect(() => new ScaledObject(so).validate()).not.toThrow();
    expect(so.spec).toMatchObject({ scaleTargetRef: { kind: 'Deployment', name: 'workflow-exporter' }, minReplicaCount: 2, maxReplicaCount: 6, pollingInterval: 15, cooldownPeriod: 300 });
    expect(so.spec.triggers).toEqual([
      {
        type: 'nats-jetstream',
        name: 'consumer-lag',
        metadata: { natsServerMonitoringEndpoint: 'nats:8222', account: '$G', stream: 'WORKFLOW_EVENTS', consumer: 'workflow-exporter', lagThreshold: '1000' },
      },
      { type: 'prometheus', name: 'exporter-pending', metadata: { serverAddress: 'http://prometheus:9090', query: `max(workflow_exporter_source_pending_messages{job="${DEFAULTS.job}"})`, threshold: '1000' } },
    ]);
    // the trigger's consumer is the one the mounted config shares between replicas
    const cfg = configSchema.parse(parseYaml(doc('k8s/workflow-exporter-configmap.yaml').data['config.yaml']));
    const src = cfg.sources[0];
    expect(src.kind === 'nats-jetstream' && [src.streams[0].stream, src.streams[0].durable]).toEqual(['WORKFLOW_EVENTS', 'workflow-exporter']);
    // the prometheus query names a catalog metric and label
    expect(analyze(so.spec.triggers[1].metadata.query, new MetricUniverse()).problems).toEqual([]);
    // the model does catch a bad ScaledObject
    const bad = structuredClone(so);
    bad.spec.triggers[0].metadata.lagThreshold = 1000;
    expect(() => new ScaledObject(bad).validate()).toThrow(/lagThreshold/);
  });

  it('on Redis Streams scales on the group\'s pending entries, and the config reads that group', () => {
    const { doc } = manifests({ autoscaler: 'keda', bus: 'redis-streams' });
    const so = doc('k8s/workflow-exporter-scaledobject.yaml');
    expect(() => new ScaledObject(so).validate()).not.toThrow();
    expect(so.spec.triggers).toEqual([{ type: 'redis-streams', name: 'pending-entries', metadata: { address: 'redis:6379', stream: 'workflow:events', consumerGroup: 'workflow-exporter', pendingEntriesCount: '1000' } }]);
    const cfg = configSchema.parse(parseYaml(doc('k8s/workflow-exporter-configmap.yaml').data['config.yaml']));
    const src = cfg.sources[0];
    expect(src.kind === 'redis-streams' && [src.keys, src.group]).toEqual([['workflow:events'], 'workflow-exporter']);
  });

  it('is not written by default: the committed k8s/ keeps the CPU HPA', () => {
    const { k8s } = manifests({});
    expect(k8s).toContain('k8s/workflow-exporter-horizontalpodautoscaler.yaml');
    expect(k8s).not.toContain('k8s/workflow-exporter-scaledobject.yaml');
  });
});
