import fc from 'fast-check';
import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { CounterSeries, HistogramSeries } from './series.js';

type Op =
  | { kind: 'inc'; series: number; v: number | undefined }
  | { kind: 'observe'; series: number; v: number; ex?: Record<string, string> }
  | { kind: 'reset' }
  | { kind: 'remove'; series: number };

const LABELS = [
  ['a', 'x'],
  ['b', 'x'],
  ['a', 'y'],
  ['a,b', 'x:y'], // values that look like prom-client's own key separators
];
const value = fc.oneof(fc.double({ min: 0, max: 1e6, noNaN: true }), fc.constantFrom(0, 0.005, 0.1, 1, 2.5, 1e9, -1, NaN, Infinity, -Infinity));
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 10, arbitrary: fc.record({ kind: fc.constant('inc' as const), series: fc.nat(LABELS.length - 1), v: fc.option(value, { nil: undefined }) }) },
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant('observe' as const),
      series: fc.nat(LABELS.length - 1),
      v: value,
      // exemplar labels (read only with exemplars on): none, empty, a trace, another, past the 128-character limit
      ex: fc.constantFrom<(Record<string, string> | undefined)[]>(undefined, {}, { trace_id: 'a'.repeat(32), span_id: 'b'.repeat(16) }, { trace_id: 'c'.repeat(32) }, { trace_id: 'd'.repeat(120) }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'reset' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('remove' as const), series: fc.nat(LABELS.length - 1) }) },
);

function world(exemplars = false) {
  const registry = new Registry();
  if (exemplars) registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE as never);
  const counter = new Counter({ name: 'c_total', help: 'c', labelNames: ['k', 'j'], registers: [registry] });
  const histogram = new Histogram({ name: 'h_seconds', help: 'h', labelNames: ['k', 'j'], buckets: [0.005, 0.1, 1, 2.5, 100], registers: [registry], enableExemplars: exemplars });
  return { registry, counter, histogram };
}

/** Runs ops, returning each call's outcome (ok or the error message) and the final exposition. */
async function run(ops: Op[], fast: boolean, exemplars = false) {
  const { registry, counter, histogram } = world(exemplars);
  const cs = LABELS.map((v) => new CounterSeries(counter, v));
  const hs = LABELS.map((v) => new HistogramSeries(histogram, v));
  const outcomes: string[] = [];
  for (const o of ops) {
    try {
      if (o.kind === 'inc') {
        if (fast) cs[o.series].inc(o.v);
        else counter.inc({ k: LABELS[o.series][0], j: LABELS[o.series][1] }, o.v as number);
      } else if (o.kind === 'observe') {
        const labels = { k: LABELS[o.series][0], j: LABELS[o.series][1] };
        if (fast) hs[o.series].observe(o.v, exemplars ? o.ex : undefined);
        else if (exemplars) (histogram.observe as unknown as (x: object) => void)({ labels, value: o.v, exemplarLabels: o.ex ?? {} });
        else histogram.observe(labels, o.v);
      } else if (o.kind === 'reset') {
        counter.reset();
        histogram.reset();
      } else {
        counter.remove(...LABELS[o.series]);
        histogram.remove(...LABELS[o.series]);
      }
      outcomes.push('ok');
    } catch (e) {
      outcomes.push((e as Error).message);
    }
  }
  // an exemplar's timestamp is the wall clock of its observation: the two runs differ there only
  return { outcomes, text: (await registry.metrics()).replace(/(# \{[^}]*\} \S+) \d+(\.\d+)?$/gm, '$1 T') };
}

describe('series handles', () => {
  it('leave prom-client in exactly the state its public API would, through resets and removals', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 60 }), async (ops) => {
        const a = await run(ops, true);
        const b = await run(ops, false);
        expect(a.outcomes).toEqual(b.outcomes);
        expect(a.text).toBe(b.text);
      }),
      { numRuns: 1500 },
    );
  });

  it('with exemplars, leave the same counts and the same exemplar per bucket as prom-client', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 60 }), async (ops) => {
        const a = await run(ops, true, true);
        const b = await run(ops, false, true);
        expect(a.outcomes).toEqual(b.outcomes);
        expect(a.text).toBe(b.text);
      }),
      { numRuns: 1500 },
    );
  });

  it('with exemplars, the fast path after a bucket has its first exemplar', async () => {
    const { registry, histogram } = world(true);
    const h = new HistogramSeries(histogram, ['a', 'x']);
    h.observe(0.5, { trace_id: 't1' });
    (histogram as unknown as { updateExemplar: () => void }).updateExemplar = () => {
      throw new Error('public path taken');
    };
    histogram.observe = (histogram as unknown as { updateExemplar: never }).updateExemplar;
    h.observe(0.7, { trace_id: 't2' });
    h.observe(0.8, {});
    h.observe(0.9);
    const text = await registry.metrics();
    expect(text).toMatch(/^h_seconds_bucket\{le="1",k="a",j="x"\} 4 # \{trace_id="t2"\} 0\.7 \d+/m);
    expect(text).toContain('h_seconds_count{k="a",j="x"} 4');
  });

  it('take the fast path after the first call', async () => {
    const { registry, counter, histogram } = world();
    const c = new CounterSeries(counter, ['a', 'x']);
    const h = new HistogramSeries(histogram, ['a', 'x']);
    c.inc();
    h.observe(0.5);
    // from here on prom-client's public methods are not called
    counter.inc = () => {
      throw new Error('public path taken');
    };
    histogram.observe = counter.inc;
    for (let i = 0; i < 10; i++) {
      c.inc(2);
      h.observe(3);
    }
    const text = await registry.metrics();
    expect(text).toContain('c_total{k="a",j="x"} 21');
    expect(text).toContain('h_seconds_bucket{le="1",k="a",j="x"} 1');
    expect(text).toContain('h_seconds_bucket{le="100",k="a",j="x"} 11');
    expect(text).toContain('h_seconds_sum{k="a",j="x"} 30.5');
    expect(text).toContain('h_seconds_count{k="a",j="x"} 11');
  });
});
