// GET /api/runs/overdue: open runs past the deadline of their workflow type, most overdue first.
import type { FastifyPluginAsync } from 'fastify';
import { DEFAULT_OVERDUE_LIST_LIMIT, MAX_OVERDUE_LIST_LIMIT, type OverdueRuns } from '../state/overdue.js';
import type { Hook } from './control.js';

export const runsPlugin: FastifyPluginAsync<{ overdue: OverdueRuns; read: Hook }> = async (app, { overdue, read }) => {
  app.get('/api/runs/overdue', { onRequest: read }, async (req, reply) => {
    const q = req.query as { limit?: string };
    const limit = q.limit === undefined ? DEFAULT_OVERDUE_LIST_LIMIT : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_OVERDUE_LIST_LIMIT) {
      return reply.code(400).send({ error: 'bad_request', message: `limit must be an integer from 1 to ${MAX_OVERDUE_LIST_LIMIT}` });
    }
    const items = await overdue.list(limit);
    return { enabled: overdue.enabled, items };
  });
};
