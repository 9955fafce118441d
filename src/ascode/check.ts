// Checks generated artifacts (as plain data, so committed files can be checked the same way): every
// PromQL expression in rules and dashboard panels, and every dashboard variable query, against the
// metric catalog; recording rules become known, with their labels, in load order.
import { analyze, expandGrafanaVariables, MetricUniverse, parseLabelValuesQuery } from './promql-check.js';

export interface RuleDoc {
  groups: { name: string; rules: { record?: string; alert?: string; expr: string }[] }[];
}

export interface DashboardDoc {
  uid?: string;
  title?: string;
  panels?: { title?: string; targets?: { expr?: string }[] }[];
  templating?: { list?: { name?: string; type?: string; query?: unknown }[] };
}

export interface CheckResult {
  problems: string[];
  universe: MetricUniverse;
  /** label names each alert's expression returns, by alert name */
  alertLabels: Map<string, Set<string>>;
  expressions: number;
  /** every series name an expression or variable selects, with where (file and rule or panel) */
  selected: Map<string, string[]>;
}

/** Rule documents in load order, then dashboards. */
export function checkArtifacts(ruleDocs: { file: string; doc: RuleDoc }[], dashboards: { file: string; doc: DashboardDoc }[]): CheckResult {
  const universe = new MetricUniverse();
  const problems: string[] = [];
  const alertLabels = new Map<string, Set<string>>();
  let expressions = 0;
  const selected = new Map<string, string[]>();
  const note = (a: { selectors: { name: string }[] }, where: string) => {
    for (const { name } of a.selectors) {
      const list = selected.get(name);
      if (list === undefined) selected.set(name, [where]);
      else if (!list.includes(where)) list.push(where);
    }
  };
  for (const { file, doc } of ruleDocs) {
    for (const g of doc.groups ?? []) {
      for (const r of g.rules ?? []) {
        expressions++;
        const name = r.record ?? r.alert ?? '(unnamed)';
        const a = analyze(r.expr, universe);
        note(a, `${file} ${g.name}/${name}`);
        for (const p of a.problems) problems.push(`${file} ${g.name}/${name}: ${p}`);
        if (r.record) {
          if (!r.record.includes(':')) problems.push(`${file} ${g.name}/${r.record}: a recording rule name has the form level:metric:operation`);
          try {
            universe.define(r.record, a.labels ?? []);
          } catch (err) {
            problems.push(`${file}: ${(err as Error).message}`);
          }
        } else if (r.alert) {
          const set = alertLabels.get(r.alert) ?? new Set<string>();
          for (const l of a.labels ?? []) set.add(l);
          alertLabels.set(r.alert, set);
        }
      }
    }
  }
  for (const { file, doc } of dashboards) {
    for (const p of doc.panels ?? []) {
      for (const t of p.targets ?? []) {
        if (!t.expr) continue;
        expressions++;
        const a = analyze(expandGrafanaVariables(t.expr), universe);
        note(a, `${file} panel "${p.title}"`);
        for (const problem of a.problems) problems.push(`${file} panel "${p.title}": ${problem}`);
      }
    }
    for (const variable of doc.templating?.list ?? []) {
      if (variable.type !== 'query') continue;
      const q = typeof variable.query === 'string' ? variable.query : (variable.query as { query?: string } | undefined)?.query;
      const lv = q ? parseLabelValuesQuery(q) : undefined;
      if (!lv) {
        problems.push(`${file} variable ${variable.name}: not a label_values(metric, label) query: ${JSON.stringify(q)}`);
        continue;
      }
      const a = analyze(lv.selector, universe);
      note(a, `${file} variable ${variable.name}`);
      for (const problem of a.problems) problems.push(`${file} variable ${variable.name}: ${problem}`);
      if (a.labels && !a.labels.has(lv.label)) problems.push(`${file} variable ${variable.name}: ${lv.selector} has no label ${lv.label}`);
    }
  }
  return { problems, universe, alertLabels, expressions, selected };
}
