// Builds every observability artifact from the settings, checks every expression against the metric
// catalog (a bad one fails generation), and returns the files; writing them is the caller's business.
import { alertmanagerFiles } from './alertmanager.js';
import { checkArtifacts, type CheckResult, type DashboardDoc, type RuleDoc } from './check.js';
import { composeFiles } from './compose.js';
import { dashboards } from './dashboards/index.js';
import type { Files } from './files.js';
import { grafanaFiles } from './grafana.js';
import { k8sFiles } from './k8s.js';
import { prometheusFiles, ruleFiles } from './prometheus.js';
import { ascodeSettings, type AscodeInput, type AscodeSettings } from '../config/ascode.js';

/** Every generated rule and dashboard expression, checked against the catalog (and what each selects). */
export function checkGenerated(settings: AscodeSettings = ascodeSettings()): CheckResult {
  return checkArtifacts(
    ruleFiles(settings).map((f) => ({ file: `prometheus/rules/${f.name}.yml`, doc: { groups: f.groups } as RuleDoc })),
    dashboards(settings).map((d) => ({ file: `grafana/dashboards/${d.file}.json`, doc: d.json as DashboardDoc })),
  );
}

export function generate(settings: AscodeSettings = ascodeSettings()): Files {
  const rules = ruleFiles(settings);
  const check = checkGenerated(settings);
  if (check.problems.length) throw new Error(`generated expressions do not match the metric catalog:\n  ${check.problems.join('\n  ')}`);
  const alertLabels = [...new Set([...check.alertLabels.values()].flatMap((s) => [...s]))].sort();

  const files: Files = new Map();
  const add = (more: Files) => {
    for (const [k, v] of more) {
      if (files.has(k)) throw new Error(`two generators write ${k}`);
      files.set(k, v);
    }
  };
  add(grafanaFiles(settings));
  add(prometheusFiles(settings));
  add(alertmanagerFiles(settings, alertLabels));
  add(composeFiles(settings));
  add(k8sFiles(settings, rules));
  return files;
}

export function generateFrom(input: AscodeInput = {}): Files {
  return generate(ascodeSettings(input));
}
