import fc from 'fast-check';
import client, { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { renderPrometheus } from './render.js';
import { CounterSeries, HistogramSeries } from './series.js';

const labelValue = fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('a"b', 'c\\d', 'e\nf', 'ü', '', '__overflow__'));
const value = fc.oneof(fc.double({ noNaN: true, min: -1e9, max: 1e9 }), fc.constantFrom(0, 1, 0.1, 1e21, 1.5e-7, NaN, Infinity, -Infinity));
const positive = fc.oneof(fc.double({ noNaN: true, min: 0, max: 1e6 }), fc.constantFrom(0, 0.005, 1, 2.5, 1e9));

interface Spec {
  kind: 'counter' | 'gauge' | 'histogram';
  labelNames: string[];
  ops: { labels: string[]; v: number }[];
  help: string;
  viaHandles: boolean;
  collect: boolean;
}

const spec: fc.Arbitrary<Spec> = fc
  .record({
    kind: fc.constantFrom('counter' as const, 'gauge' as const, 'histogram' as const),
    labelNames: fc.uniqueArray(fc.constantFrom('agent', 'outcome', 'source', 'type', 'stage'), { maxLength: 3 }),
    help: fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom('with \\ and\nnewline', 'x')).filter((h) => h.length > 0),
    viaHandles: fc.boolean(),
    collect: fc.boolean(),
    n: fc.nat(12),
    seed: fc.array(fc.tuple(fc.array(labelValue, { minLength: 3, maxLength: 3 }), value, positive), { maxLength: 12 }),
  })
  .map(({ kind, labelNames, help, viaHandles, collect, seed }) => ({
    kind,
    labelNames,
    help,
    viaHandles,
    collect,
    ops: seed.map(([lv, v, p]) => ({ labels: lv.slice(0, labelNames.length), v: kind === 'gauge' ? v : p })),
  }));

function build(specs: Spec[]): Registry {
  const registry = new Registry();
  specs.forEach((s, i) => {
    const name = `m${i}_${s.kind}${s.kind === 'counter' ? '_total' : ''}`;
    const common = { name, help: s.help, labelNames: s.labelNames, registers: [registry] };
    const labels = (vals: string[]) => Object.fromEntries(s.labelNames.map((n, k) => [n, vals[k]]));
    if (s.kind === 'counter') {
      const c = new client.Counter(common);
      for (const o of s.ops) (s.viaHandles ? new CounterSeries(c, o.labels).inc(o.v) : c.inc(labels(o.labels), o.v));
    } else if (s.kind === 'gauge') {
      const g: client.Gauge<string> = new client.Gauge({
        ...common,
        ...(s.collect ? { collect: async (): Promise<void> => g.set(labels(s.ops[0]?.labels ?? []), 42) } : {}),
      });
      for (const o of s.ops) g.set(labels(o.labels), o.v);
    } else {
      const h = new client.Histogram({ ...common, buckets: [0.005, 0.1, 1, 2.5, 100] });
      for (const o of s.ops) (s.viaHandles ? new HistogramSeries(h, o.labels).observe(o.v) : h.observe(labels(o.labels), o.v));
    }
  });
  return registry;
}

describe('renderPrometheus', () => {
  it('writes exactly what registry.metrics() writes, on random registries', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(spec, { maxLength: 5 }), async (specs) => {
        const registry = build(specs);
        // collect callbacks run for both renderings; their values are stable here
        const expected = await registry.metrics();
        expect(await renderPrometheus(registry)).toBe(expected);
        // a second scrape reuses the cached label text and still agrees
        expect(await renderPrometheus(registry)).toBe(await registry.metrics());
      }),
      { numRuns: 1500 },
    );
  });

  it('agrees on the exporter registry with default metrics, line for line in shape', async () => {
    const registry = new Registry();
    client.collectDefaultMetrics({ register: registry });
    const c = new client.Counter({ name: 'x_total', help: 'x', labelNames: ['a'], registers: [registry] });
    c.inc({ a: 'b' }, 3);
    const ours = (await renderPrometheus(registry)).split('\n').map((l) => l.replace(/ [^ ]+$/, ''));
    const theirs = (await registry.metrics()).split('\n').map((l) => l.replace(/ [^ ]+$/, ''));
    // values of process and Node.js metrics move between two scrapes; names, labels and order do not
    expect(ours).toEqual(theirs);
    expect(ours).toContain('x_total{a="b"}');
  });

  it('leaves OpenMetrics, default labels and other metric kinds to prom-client', async () => {
    const registry = new Registry();
    const s = new client.Summary({ name: 's', help: 's', registers: [registry] });
    s.observe(1);
    new client.Counter({ name: 'c_total', help: 'c', registers: [registry] }).inc();
    expect(await renderPrometheus(registry)).toBe(await registry.metrics());
    registry.setDefaultLabels({ replica: 'r1' });
    expect(await renderPrometheus(registry)).toBe(await registry.metrics());
    registry.setDefaultLabels({});
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE as never);
    const om = await renderPrometheus(registry);
    expect(om).toBe(await registry.metrics());
    expect(om.endsWith('# EOF\n')).toBe(true);
  });
});
