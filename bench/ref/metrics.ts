// The /metrics reference (its own process): bare prom-client behind fastify, holding the same series
// as the exporter. It rebuilds every family of an exposition text the harness captured from the
// exporter (same names, types, label sets and buckets; default process and Node.js metrics from
// collectDefaultMetrics, as any prom-client user would have them).
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import client from 'prom-client';
import { parsePrometheusText } from '../../src/util/exposition.js';

const [file, portArg] = process.argv.slice(2);
const text = readFileSync(file, 'utf8');
const registry = new client.Registry();
client.collectDefaultMetrics({ register: registry });

const types = new Map<string, { type: string; help: string }>();
for (const line of text.split('\n')) {
  const t = line.match(/^# TYPE (\S+) (\S+)$/);
  if (t) types.set(t[1], { type: t[2], help: types.get(t[1])?.help ?? t[1] });
  const h = line.match(/^# HELP (\S+) (.*)$/);
  if (h) types.set(h[1], { type: types.get(h[1])?.type ?? 'untyped', help: h[2] || h[1] });
}
const defaults = new Set((await registry.getMetricsAsJSON()).map((m) => m.name));

// group samples by family: histogram samples carry _bucket/_sum/_count suffixes
const samples = parsePrometheusText(text);
const byFamily = new Map<string, typeof samples>();
for (const s of samples) {
  const family = types.has(s.name) ? s.name : s.name.replace(/_(bucket|sum|count)$/, '');
  if (!types.has(family) || defaults.has(family)) continue;
  let list = byFamily.get(family);
  if (!list) byFamily.set(family, (list = []));
  list.push(s);
}

for (const [name, list] of byFamily) {
  const { type, help } = types.get(name)!;
  const labelNames = [...new Set(list.flatMap((s) => Object.keys(s.labels)).filter((l) => l !== 'le'))];
  if (type === 'counter') {
    const c = new client.Counter({ name, help, labelNames, registers: [registry] });
    for (const s of list) c.inc(s.labels, Math.max(0, s.value));
  } else if (type === 'gauge') {
    const g = new client.Gauge({ name, help, labelNames, registers: [registry] });
    for (const s of list) g.set(s.labels, s.value);
  } else if (type === 'histogram') {
    const buckets = [...new Set(list.filter((s) => s.name.endsWith('_bucket') && s.labels.le !== '+Inf').map((s) => Number(s.labels.le)))].sort((a, b) => a - b);
    const h = new client.Histogram({ name, help, labelNames, buckets, registers: [registry] });
    for (const s of list) {
      if (!s.name.endsWith('_count')) continue;
      // one observation per series: the same lines as the exporter's, values aside
      h.observe(s.labels, buckets[0] ?? 1);
    }
  }
}

const app = Fastify({ logger: false });
app.get('/metrics', async (_req, reply) => reply.header('content-type', registry.contentType).send(await registry.metrics()));
const address = await app.listen({ port: Number(portArg ?? 0), host: '127.0.0.1' });
process.send?.({ listening: address });
