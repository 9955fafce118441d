// GET /metrics: Prometheus text by default, OpenMetrics when the scraper asks for it.
import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import { renderPrometheus } from '../metrics/render.js';
import { promClient } from '../util/cjs.js';

const { OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE } = promClient.Registry;

/**
 * OpenMetrics through prom-client itself. Its registry.metrics() renames every counter in place
 * (`x_total` -> `x`) when the format is OpenMetrics and never renames it back, so every later
 * Prometheus-format scrape would say `# TYPE x counter`: keep the names and restore them.
 */
async function renderOpenMetrics(registry: Registry): Promise<string> {
  const counters = (registry.getMetricsAsArray() as unknown as { type: string; name: string }[]).filter((m) => m.type === 'counter');
  const names = counters.map((c) => c.name);
  const r = registry as Registry<never>;
  r.setContentType(OPENMETRICS_CONTENT_TYPE as never);
  try {
    return await registry.metrics();
  } finally {
    counters.forEach((c, i) => (c.name = names[i]));
    r.setContentType(PROMETHEUS_CONTENT_TYPE as never);
  }
}

export const metricsPlugin: FastifyPluginAsync<{ registry: Registry }> = async (app, { registry }) => {
  // scrapes take turns: the OpenMetrics one switches the registry's format while it renders
  let turn: Promise<unknown> = Promise.resolve();
  app.get('/metrics', async (req, reply) => {
    const open = (req.headers.accept ?? '').includes('application/openmetrics-text');
    // the same bytes as registry.metrics(), written from the series records (render.ts): half the stall
    const render = async () => (open ? renderOpenMetrics(registry) : renderPrometheus(registry));
    const p = turn.then(render, render);
    turn = p.catch(() => {});
    const body = await p;
    return reply.header('content-type', open ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE).send(body);
  });
};
