import { describe, expect, it } from 'vitest';
import { budgetRows, MAX_OFFENDERS_PER_LABEL, SeriesBudgets, type BudgetLimit } from './budget.js';

function budgets(maxSeriesPerMetric = 10, maxSeries = 100, seriesBudgets: Record<string, number> = {}) {
  const refused: [string, BudgetLimit][] = [];
  return { b: new SeriesBudgets({ maxSeriesPerMetric, maxSeries, seriesBudgets }, (m, l) => refused.push([m, l])), refused };
}
const counter = (name: string, labelNames = ['agent', 'tool']) => ({ name, labelNames });
const histogram = (name: string, bounds: number) => ({ name, labelNames: ['agent'], upperBounds: Array.from({ length: bounds }, (_, i) => i + 1) });

describe('SeriesBudgets', () => {
  it('admits label sets up to the family budget, then refuses and counts each, naming the metric', () => {
    const { b, refused } = budgets(3);
    const f = b.family(counter('x_total'));
    expect([f.take(), f.take(), f.take(), f.take()]).toEqual([undefined, undefined, undefined, 'metric']);
    f.refuse('metric', 'a1', 't9');
    expect(refused).toEqual([['x_total', 'metric']]);
    expect(f.series).toBe(3);
    expect(b.series).toBe(3);
    // one family object per name
    expect(b.family(counter('x_total'))).toBe(f);
  });

  it('charges a histogram label set its buckets, +Inf, _sum and _count', () => {
    const { b } = budgets(40);
    const f = b.family(histogram('h_seconds', 10));
    expect(f.cost).toBe(13);
    expect([f.take(), f.take(), f.take(), f.take()]).toEqual([undefined, undefined, undefined, 'metric']);
    expect(f.series).toBe(39);
  });

  it('takes the budget from config, else the catalog entry, else the default', () => {
    const { b } = budgets(7, 1_000_000, { workflow_events_total: 3 });
    expect(b.family(counter('workflow_events_total')).budget).toBe(3);
    expect(b.family(counter('workflow_tool_call_duration_seconds')).budget).toBe(25_000);
    expect(b.family(counter('anything_else_total')).budget).toBe(7);
  });

  it('refuses past the cap on all series even when the family has room, and says so', () => {
    const { b } = budgets(10, 5);
    const x = b.family(counter('x_total'));
    const y = b.family(counter('y_total'));
    expect([x.take(), x.take(), x.take()]).toEqual([undefined, undefined, undefined]);
    expect([y.take(), y.take(), y.take()]).toEqual([undefined, undefined, 'total']);
    expect(b.series).toBe(5);
    // the overflow label set is always there, past the cap by at most one per family
    y.takeOverflow();
    expect(b.series).toBe(6);
  });

  it('ranks the values most often in refused combinations per label, and bounds what it remembers', () => {
    const { b } = budgets(1);
    const f = b.family(counter('x_total'));
    f.take();
    for (const [a, t] of [['a1', 't1'], ['a1', 't2'], ['a1', 't3'], ['a2', 't1']]) f.refuse('metric', a, t);
    expect(f.topOffenders(2)).toEqual({
      agent: [{ value: 'a1', refused: 3 }, { value: 'a2', refused: 1 }],
      tool: [{ value: 't1', refused: 2 }, { value: 't2', refused: 1 }],
    });
    for (let i = 0; i < MAX_OFFENDERS_PER_LABEL + 5; i++) f.refuse('metric', 'a1', `u${i}`);
    const tools = f.topOffenders(10_000).tool;
    expect(tools.length).toBe(MAX_OFFENDERS_PER_LABEL + 1);
    // 3 tools already remembered, so 1,000 - 3 new ones fit and 8 are counted together
    expect(tools.at(-1)).toEqual({ value: '(other values)', refused: 8 });
    expect(b.report(1).metrics[0]).toMatchObject({ name: 'x_total', series: 1, budget: 1, label_sets: 1, refused: 4 + MAX_OFFENDERS_PER_LABEL + 5 });
  });

  it('budgetRows keeps the largest rows of a gauge read at scrape time and sums the rest into one __overflow__ row', () => {
    const { b, refused } = budgets(2, 100);
    const f = b.family(counter('g', ['workflow_type']));
    const rows = [
      { t: 'a', count: 1 },
      { t: 'b', count: 5 },
      { t: 'c', count: 3 },
      { t: 'd', count: 2 },
    ];
    const fold = () => budgetRows(f, rows, (r) => [r.t], (count) => ({ t: '__overflow__', count }));
    expect(fold()).toEqual([
      { t: 'b', count: 5 },
      { t: 'c', count: 3 },
      { t: '__overflow__', count: 3 },
    ]);
    expect(refused).toEqual([
      ['g', 'metric'],
      ['g', 'metric'],
    ]);
    // rebuilt each scrape: the room it took last time is given back first
    fold();
    expect(b.series).toBe(3);
    expect(budgetRows(f, [], () => [], (count) => ({ t: '', count }))).toEqual([]);
    expect(b.series).toBe(0);
  });
});
