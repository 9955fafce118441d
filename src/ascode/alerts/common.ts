// What every alert group shares: the alert family's shape, the settings it is built from, the
// promtool input series named from the catalog, and the rule as Prometheus loads it.
import { catalog, type MetricDef } from '../../metrics/catalog.js';
import { dashboardUrl, type DashboardKey } from '../dashboards/meta.js';
import { num, rec, sel, type LabelOf, type TargetLabel } from '../promql.js';
import { durationSeconds, goTemplate, type Text, type ValueFormat } from '../template.js';
import type { AscodeSettings } from '../../config/ascode.js';

export type Severity = 'critical' | 'warning';
export type AlertFile = 'workflow-alerts' | 'exporter-alerts';

export interface AlertRuleSpec {
  severity: Severity;
  expr: string;
  for: string;
}

export interface InputSeries {
  series: string;
  values: string;
}

export interface AlertCase {
  name: string;
  series: InputSeries[];
  /** evaluation time in minutes from the start of the series */
  atMinutes: number;
  /** the alerts of this family firing at that time; empty for a silent case */
  expect: { severity: Severity; labels: Record<string, string>; value: number }[];
}

export interface AlertFamily {
  name: string;
  file: AlertFile;
  group: string;
  /** one rule per severity; two rules share the name so the inhibit rule can pair them */
  rules: AlertRuleSpec[];
  value: ValueFormat;
  summary: Text;
  description: Text;
  dashboard: { key: DashboardKey; vars?: Record<string, string> };
  cases: AlertCase[];
}

export interface RenderedAlertRule {
  alert: string;
  expr: string;
  for: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

// Input series for promtool, named from the catalog.
export function input<D extends MetricDef>(m: D, labels: Partial<Record<LabelOf<D> | TargetLabel, string>>, values: string): InputSeries {
  return { series: sel(m, labels as never), values };
}
export function buckets<D extends MetricDef>(m: D, labels: Partial<Record<LabelOf<D>, string>>, le: number, values: string): InputSeries[] {
  return [String(le), '+Inf'].map((b) => ({ series: rec(`${m.name}_bucket`, { ...(labels as Record<string, string>), le: b }), values }));
}
/** a counter rising `perMinute` each minute for `minutes` */
export const rising = (perMinute: number, minutes: number) => `0+${perMinute}x${minutes}`;
export const flat = (v: number, minutes: number) => `${num(v)}+0x${minutes}`;
export const minutesOf = (d: string) => Math.ceil(durationSeconds(d) / 60);

/** Whole counts per minute of failures and successes giving a ratio strictly inside (lo, hi). */
export function ratioCounts(target: number): { bad: number; good: number } {
  const bad = Math.max(1, Math.min(1000, Math.round(target * 1000)));
  return { bad, good: 1000 - bad };
}

// label values of the input series
export const WT = 'feature-dev';
export const AGENT = 'coder';
export const SOURCE = 'nats';

/** What a family is built from: the settings, their thresholds and durations, the catalog, and formatters. */
export interface AlertContext {
  s: AscodeSettings;
  t: AscodeSettings['thresholds'];
  f: AscodeSettings['for'];
  c: typeof catalog;
  pct: (v: number) => string;
  secs: (v: number) => string;
}

export function alertContext(s: AscodeSettings): AlertContext {
  return { s, t: s.thresholds, f: s.for, c: catalog, pct: (v) => `${num(v * 100)}%`, secs: (v) => `${num(v)}s` };
}

/** The rule as Prometheus loads it: labels severity and team, annotations with links. */
export function renderAlertRule(s: AscodeSettings, fam: AlertFamily, rule: AlertRuleSpec): RenderedAlertRule {
  const vars = Object.fromEntries(Object.entries(fam.dashboard.vars ?? {}).map(([v, label]) => [v, `{{ $labels.${label} }}`]));
  return {
    alert: fam.name,
    expr: rule.expr,
    for: rule.for,
    labels: { severity: rule.severity, team: s.team },
    annotations: {
      summary: goTemplate(fam.summary, fam.value),
      description: goTemplate(fam.description, fam.value),
      runbook_url: `${s.runbookUrl}#${fam.name.toLowerCase()}`,
      dashboard: dashboardUrl(s.grafanaUrl, fam.dashboard.key, vars),
    },
  };
}

