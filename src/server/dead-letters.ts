// GET /api/dead-letters: the newest rejected messages with their reasons.
import type { FastifyPluginAsync } from 'fastify';
import { REJECT_REASONS } from '../errors.js';
import type { DeadLetters } from '../pipeline/dead-letters.js';

export const deadLettersPlugin: FastifyPluginAsync<{ deadLetters: DeadLetters }> = async (app, { deadLetters }) => {
  app.get('/api/dead-letters', async (req, reply) => {
    const q = req.query as { limit?: string; reason?: string };
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
      return reply.code(400).send({ error: 'bad_request', message: 'limit must be an integer from 1 to 10000' });
    }
    if (q.reason !== undefined && !(REJECT_REASONS as readonly string[]).includes(q.reason)) {
      return reply.code(400).send({ error: 'bad_request', message: `reason must be one of ${REJECT_REASONS.join(', ')}` });
    }
    return { total: deadLetters.total, items: deadLetters.list(limit, q.reason) };
  });
};
