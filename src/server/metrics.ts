// GET /metrics: Prometheus text by default, OpenMetrics when the scraper asks for it.
import type { FastifyPluginAsync } from 'fastify';
import { Registry } from 'prom-client';
import { renderPrometheus } from '../sinks/metrics/render.js';

export const metricsPlugin: FastifyPluginAsync<{ registry: Registry }> = async (app, { registry }) => {
  // prom-client keeps the format on the registry; scrapes take turns so two formats never mix
  let turn: Promise<unknown> = Promise.resolve();
  app.get('/metrics', async (req, reply) => {
    const open = (req.headers.accept ?? '').includes('application/openmetrics-text');
    const render = async () => {
      (registry as Registry<never>).setContentType((open ? Registry.OPENMETRICS_CONTENT_TYPE : Registry.PROMETHEUS_CONTENT_TYPE) as never);
      // the same bytes as registry.metrics(), written from the series records (render.ts): half the stall
      return { body: await renderPrometheus(registry), type: registry.contentType };
    };
    const p = turn.then(render, render);
    turn = p.catch(() => {});
    const { body, type } = await p;
    return reply.header('content-type', type).send(body);
  });
};
