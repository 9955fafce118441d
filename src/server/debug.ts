// GET /debug/cardinality: series per metric, the top label values per label, the guard's distinct
// values and overflow counts, and each family's series budget with the label values most often in
// the combinations it refused, so an SRE sees what is about to blow up, or did, and why.
import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import type { BudgetReport } from '../metrics/budget.js';
import type { CardinalityGuard } from '../metrics/guard.js';
import type { Metrics } from '../metrics/registry.js';
import type { Hook } from './control.js';

export const DEFAULT_TOP = 10;
export const MAX_TOP = 1000;

export interface LabelReport {
  distinct: number;
  top: { value: string; series: number }[];
}

export interface MetricReport {
  name: string;
  type: string;
  /** samples exposed on /metrics: a histogram's label set counts its buckets, _sum and _count */
  series: number;
  /** distinct label sets (a histogram's label set once) */
  label_sets: number;
  labels: Record<string, LabelReport>;
}

export interface CardinalityReport {
  total_series: number;
  metrics: MetricReport[];
  guard: Record<string, { values: number; max: number; overflow: Record<string, number> }>;
  /** series taken per budgeted family and in all, their budgets, and the top offenders by label */
  budgets: BudgetReport;
}

export async function cardinalityReport(registry: Registry, guard: CardinalityGuard, metrics: Metrics, top: number): Promise<CardinalityReport> {
  const out: MetricReport[] = [];
  let total = 0;
  for (const m of await registry.getMetricsAsJSON()) {
    const sets = new Set<string>();
    const perLabel = new Map<string, Map<string, Set<string>>>();
    for (const v of m.values) {
      const labels = v.labels as Record<string, string | number | undefined>;
      const names = Object.keys(labels).filter((k) => k !== 'le' && labels[k] !== undefined).sort();
      // JSON, not a joined string: a label value may contain any separator
      const key = JSON.stringify(names.map((k) => [k, labels[k]]));
      sets.add(key);
      for (const k of names) {
        let values = perLabel.get(k);
        if (!values) perLabel.set(k, (values = new Map()));
        const val = String(labels[k]);
        let s = values.get(val);
        if (!s) values.set(val, (s = new Set()));
        s.add(key);
      }
    }
    const labels: Record<string, LabelReport> = {};
    for (const [k, values] of perLabel) {
      const ranked = [...values].map(([value, s]) => ({ value, series: s.size })).sort((a, b) => b.series - a.series || a.value.localeCompare(b.value));
      labels[k] = { distinct: values.size, top: ranked.slice(0, top) };
    }
    total += m.values.length;
    out.push({ name: m.name, type: String(m.type), series: m.values.length, label_sets: sets.size, labels });
  }
  out.sort((a, b) => b.series - a.series || a.name.localeCompare(b.name));

  const overflow = new Map<string, Record<string, number>>();
  for (const v of (await metrics.labelOverflow.get()).values) {
    if (v.value === 0) continue; // every kind starts at zero; the report shows what happened
    const label = String(v.labels.label);
    const o = overflow.get(label) ?? {};
    o[String(v.labels.kind)] = v.value;
    overflow.set(label, o);
  }
  const g: CardinalityReport['guard'] = {};
  for (const [label, s] of Object.entries(guard.snapshot())) g[label] = { ...s, overflow: overflow.get(label) ?? {} };
  for (const [label, o] of overflow) if (!g[label]) g[label] = { values: 0, max: 0, overflow: o };
  return { total_series: total, metrics: out, guard: g, budgets: metrics.budgets.report(top) };
}

export const debugPlugin: FastifyPluginAsync<{ registry: Registry; guard: CardinalityGuard; metrics: Metrics; read: Hook }> = async (app, o) => {
  app.get('/debug/cardinality', { onRequest: o.read }, async (req, reply) => {
    const q = req.query as { top?: string };
    const top = q.top === undefined ? DEFAULT_TOP : Number(q.top);
    if (!Number.isInteger(top) || top < 1 || top > MAX_TOP) return reply.code(400).send({ error: 'bad_request', message: `top must be an integer from 1 to ${MAX_TOP}` });
    return cardinalityReport(o.registry, o.guard, o.metrics, top);
  });
};
