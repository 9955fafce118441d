// Series budgets: a cap on the series of each metric family and on all families together, taken
// when a label combination is first seen, so no product of capped labels can grow /metrics unbounded.
import { ConfigError } from '../errors.js';
import { ALL_METRICS } from './catalog.js';

// Offending values remembered per label for /debug/cardinality; the rest are counted as other.
export const MAX_OFFENDERS_PER_LABEL = 1000;

export type BudgetLimit = 'metric' | 'total';

export interface BudgetConfig {
  maxSeriesPerMetric: number;
  maxSeries: number;
  /** per metric name, overriding the catalog's seriesBudget and maxSeriesPerMetric */
  seriesBudgets: Record<string, number>;
}

/** What a metric prom-client holds looks like to a budget: its name and, for a histogram, its bounds. */
interface MetricLike {
  name: string;
  labelNames?: string[];
  upperBounds?: number[];
}

export type RefusalCounter = (metric: string, limit: BudgetLimit) => void;

/** One metric family's share: series taken, its budget, and what was refused and why. */
export class FamilyBudget {
  /** series taken on /metrics (a histogram label set takes its buckets, +Inf, _sum and _count) */
  series = 0;
  labelSets = 0;
  refused = 0;
  /** per label, per value: combinations holding it that were refused (the offenders) */
  private readonly offenders: Map<string, number>[];
  private readonly otherOffenders: number[];

  constructor(
    private readonly all: SeriesBudgets,
    readonly name: string,
    readonly labelNames: readonly string[],
    readonly budget: number,
    /** series one label set takes */
    readonly cost: number,
    private readonly count: RefusalCounter,
  ) {
    this.offenders = labelNames.map(() => new Map());
    this.otherOffenders = labelNames.map(() => 0);
  }

  /** Takes room for one more label set, or answers which limit refuses it. */
  take(): BudgetLimit | undefined {
    if (this.series + this.cost > this.budget) return 'metric';
    if (!this.all.reserve(this.cost)) return 'total';
    this.series += this.cost;
    this.labelSets += 1;
    return undefined;
  }

  /** An overflow label set: always admitted, one per series cache (a family has one or two), so the cap is passed by at most those. */
  takeOverflow(): void {
    this.all.force(this.cost);
    this.series += this.cost;
    this.labelSets += 1;
  }

  /** A combination folded into __overflow__: counted, and its values remembered as offenders. */
  refuse(limit: BudgetLimit, a: string, b?: string, c?: string, d?: string): void {
    this.refused += 1;
    this.count(this.name, limit);
    this.offend(0, a);
    if (b !== undefined) this.offend(1, b);
    if (c !== undefined) this.offend(2, c);
    if (d !== undefined) this.offend(3, d);
  }

  private offend(i: number, v: string): void {
    const m = this.offenders[i];
    if (m === undefined) return;
    const n = m.get(v);
    if (n !== undefined) m.set(v, n + 1);
    else if (m.size < MAX_OFFENDERS_PER_LABEL) m.set(v, 1);
    else this.otherOffenders[i] += 1;
  }

  /** Gives back what a family read at scrape time held at the last scrape (it is rebuilt each time). */
  release(): void {
    this.all.free(this.series);
    this.series = 0;
    this.labelSets = 0;
  }

  /** The values most often in refused combinations, per label. */
  topOffenders(top: number): Record<string, { value: string; refused: number }[]> {
    const out: Record<string, { value: string; refused: number }[]> = {};
    this.labelNames.forEach((label, i) => {
      const ranked = [...this.offenders[i]].map(([value, refused]) => ({ value, refused })).sort((x, y) => y.refused - x.refused || (x.value < y.value ? -1 : 1));
      if (this.otherOffenders[i] > 0) ranked.push({ value: '(other values)', refused: this.otherOffenders[i] });
      if (ranked.length > 0) out[label] = ranked.slice(0, top);
    });
    return out;
  }
}

export interface BudgetReport {
  series: number;
  max_series: number;
  metrics: { name: string; series: number; budget: number; label_sets: number; refused: number; top_offenders: Record<string, { value: string; refused: number }[]> }[];
}

/** Every family's budget, keyed by catalog metric name, and the global cap they share. */
export class SeriesBudgets {
  private total = 0;
  private readonly families = new Map<string, FamilyBudget>();
  private readonly catalogBudgets = new Map<string, number | undefined>(ALL_METRICS.map((d) => [d.name, d.seriesBudget]));

  constructor(
    private readonly cfg: BudgetConfig,
    private readonly count: RefusalCounter = () => {},
  ) {
    // the budgets are keyed on the catalog: a name it does not have is a typo that would bound nothing
    const unknown = Object.keys(cfg.seriesBudgets).filter((n) => !this.catalogBudgets.has(n));
    if (unknown.length > 0) {
      throw new ConfigError(
        `metrics.seriesBudgets: unknown metric ${unknown.join(', ')}`,
        unknown.map((n) => ({ path: `metrics.seriesBudgets.${n}`, message: 'not a metric of the catalog' })),
      );
    }
  }

  /** The budget of `metric`'s family (one per name, shared by every caller). */
  family(metric: MetricLike): FamilyBudget {
    let f = this.families.get(metric.name);
    if (f === undefined) {
      const budget = this.cfg.seriesBudgets[metric.name] ?? this.catalogBudgets.get(metric.name) ?? this.cfg.maxSeriesPerMetric;
      const cost = Array.isArray(metric.upperBounds) ? metric.upperBounds.length + 3 : 1;
      f = new FamilyBudget(this, metric.name, metric.labelNames ?? [], budget, cost, this.count);
      this.families.set(metric.name, f);
    }
    return f;
  }

  /** Series taken by every family together. */
  get series(): number {
    return this.total;
  }

  reserve(n: number): boolean {
    if (this.total + n > this.cfg.maxSeries) return false;
    this.total += n;
    return true;
  }

  force(n: number): void {
    this.total += n;
  }

  free(n: number): void {
    this.total -= n;
  }

  report(top: number): BudgetReport {
    const metrics = [...this.families.values()]
      .map((f) => ({ name: f.name, series: f.series, budget: f.budget, label_sets: f.labelSets, refused: f.refused, top_offenders: f.topOffenders(top) }))
      .sort((a, b) => b.refused - a.refused || b.series - a.series || (a.name < b.name ? -1 : 1));
    return { series: this.total, max_series: this.cfg.maxSeries, metrics };
  }
}

/**
 * Rows of a gauge read at scrape time (active runs, overdue runs) within its family's budget: the
 * largest rows keep their labels, the rest are summed into one row whose labels are all __overflow__.
 */
export function budgetRows<R extends { count: number }>(family: FamilyBudget, rows: R[], labels: (r: R) => string[], overflow: (count: number) => R): R[] {
  family.release();
  const sorted = [...rows].sort((a, b) => b.count - a.count);
  const out: R[] = [];
  let folded: number | undefined;
  for (const r of sorted) {
    const limit = family.take();
    if (limit === undefined) {
      out.push(r);
      continue;
    }
    const [a, b, c] = labels(r);
    family.refuse(limit, a, b, c);
    folded = (folded ?? 0) + r.count;
  }
  if (folded !== undefined) {
    family.takeOverflow();
    out.push(overflow(folded));
  }
  return out;
}
