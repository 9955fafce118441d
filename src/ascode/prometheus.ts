// Prometheus artifacts: the scrape config, the rule files (recording and alerting) and the promtool
// unit tests of every alert.
import { renderAlertRule, type AlertFamily, type AlertFile, type RenderedAlertRule } from './alerts/common.js';
import { alertFamilies } from './alerts/index.js';
import { yamlFile, type Files } from './files.js';
import { exporterRecordingGroups, workflowRecordingGroups, type RecordingRule, type RuleGroupSpec } from './recording.js';
import { expand } from './template.js';
import type { AscodeSettings } from '../config/ascode.js';
import { dashboardUrl } from './dashboards/meta.js';

export type Rule = RecordingRule | RenderedAlertRule;
export interface RuleFile {
  /** file name under prometheus/rules, without .yml */
  name: string;
  groups: RuleGroupSpec<Rule>[];
}

/** Every rule file, in the order they load: recording rules first, then alerts that read them. */
export function ruleFiles(s: AscodeSettings): RuleFile[] {
  const families = alertFamilies(s);
  const alertGroups = (file: AlertFile): RuleGroupSpec<Rule>[] => {
    const groups = new Map<string, Rule[]>();
    for (const fam of families.filter((f) => f.file === file)) {
      const list = groups.get(fam.group) ?? [];
      for (const rule of fam.rules) list.push(renderAlertRule(s, fam, rule));
      groups.set(fam.group, list);
    }
    return [...groups].map(([name, rules]) => ({ name, rules }));
  };
  return [
    { name: 'workflow-recording', groups: workflowRecordingGroups() },
    { name: 'exporter-recording', groups: exporterRecordingGroups() },
    { name: 'workflow-alerts', groups: alertGroups('workflow-alerts') },
    { name: 'exporter-alerts', groups: alertGroups('exporter-alerts') },
  ];
}

/** A promtool test file per alert file: one test per case, checking the alert's full labels and annotations. */
function ruleTests(s: AscodeSettings, file: AlertFile, families: AlertFamily[], ruleFileNames: string[]): unknown {
  const tests = [];
  for (const fam of families.filter((f) => f.file === file)) {
    for (const c of fam.cases) {
      tests.push({
        name: `${fam.name}: ${c.name}`,
        interval: '1m',
        input_series: c.series,
        alert_rule_test: [
          {
            eval_time: `${c.atMinutes}m`,
            alertname: fam.name,
            exp_alerts: c.expect.map((e) => {
              const rule = fam.rules.find((r) => r.severity === e.severity);
              if (!rule) throw new Error(`${fam.name}: case ${c.name} expects a ${e.severity} alert the family does not define`);
              const labels = { ...e.labels, severity: e.severity, team: s.team };
              const vars = Object.fromEntries(Object.entries(fam.dashboard.vars ?? {}).map(([v, l]) => [v, labels[l as keyof typeof labels] ?? '']));
              return {
                exp_labels: labels,
                exp_annotations: {
                  summary: expand(fam.summary, fam.value, labels, e.value),
                  description: expand(fam.description, fam.value, labels, e.value),
                  runbook_url: `${s.runbookUrl}#${fam.name.toLowerCase()}`,
                  dashboard: dashboardUrl(s.grafanaUrl, fam.dashboard.key, vars),
                },
              };
            }),
          },
        ],
      });
    }
  }
  return { rule_files: ruleFileNames.map((n) => `../rules/${n}.yml`), evaluation_interval: '1m', tests };
}

export function prometheusConfig(s: AscodeSettings, files: RuleFile[]): unknown {
  return {
    global: { scrape_interval: s.prometheus.scrapeInterval, evaluation_interval: s.prometheus.evaluationInterval },
    rule_files: files.map((f) => `rules/${f.name}.yml`),
    alerting: { alertmanagers: [{ static_configs: [{ targets: [s.prometheus.alertmanagerTarget] }] }] },
    scrape_configs: [
      { job_name: s.job, metrics_path: '/metrics', static_configs: [{ targets: [s.prometheus.exporterTarget] }] },
      { job_name: 'prometheus', static_configs: [{ targets: ['localhost:9090'] }] },
    ],
  };
}

export function prometheusFiles(s: AscodeSettings): Files {
  const out: Files = new Map();
  const files = ruleFiles(s);
  out.set('prometheus/prometheus.yml', yamlFile(prometheusConfig(s, files)));
  for (const f of files) out.set(`prometheus/rules/${f.name}.yml`, yamlFile({ groups: f.groups }));
  const families = alertFamilies(s);
  for (const file of ['workflow-alerts', 'exporter-alerts'] as const) {
    out.set(`prometheus/tests/${file}.test.yml`, yamlFile(ruleTests(s, file, families, files.map((f) => f.name))));
  }
  return out;
}
