// GET /healthz (the process answers) and GET /readyz (every source connected, not shutting down).
import type { FastifyPluginAsync } from 'fastify';
import type { Source } from '../pipeline/types.js';

export interface HealthOptions {
  sources: () => Source[];
  shuttingDown: () => boolean;
}

export function readiness(sources: Source[], shuttingDown: boolean) {
  const list = sources.map((s) => ({ name: s.name, kind: s.kind, ...s.status() }));
  const ready = !shuttingDown && list.every((s) => s.connected);
  return { ready, shuttingDown, sources: list };
}

export const healthPlugin: FastifyPluginAsync<HealthOptions> = async (app, opts) => {
  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const r = readiness(opts.sources(), opts.shuttingDown());
    return reply.code(r.ready ? 200 : 503).send(r);
  });
  app.get('/api/sources', async () => readiness(opts.sources(), opts.shuttingDown()));
};
