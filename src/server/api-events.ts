// GET /api/events: the tail's history with the tail's filters, newest first, paged with a `before` cursor.
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { FilterError, filterErrorName, filterFromQuery, compileFilter, type Predicate } from '../sinks/tail/filter.js';
import type { TailSink } from '../sinks/tail/tail.js';
import type { Auth } from './auth.js';

export const DEFAULT_PAGE = 100;
export const MAX_PAGE = 10_000;

/** The predicate of a history query, or a 400 already sent (counted, and undefined returned). */
export function queryFilter(query: Record<string, unknown>, reply: FastifyReply, tail: TailSink): Predicate | undefined {
  try {
    return compileFilter(filterFromQuery(query));
  } catch (err) {
    if (!(err instanceof FilterError)) throw err;
    tail.countRejected('api', err.code);
    void reply.code(400).send({ error: filterErrorName(err), message: err.message });
    return undefined;
  }
}

export const eventsApiPlugin: FastifyPluginAsync<{ tail: TailSink; auth: Auth }> = async (app, { tail, auth }) => {
  app.get('/api/events', { onRequest: auth.require('read') }, async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const limit = q.limit === undefined ? DEFAULT_PAGE : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) {
      return reply.code(400).send({ error: 'bad_request', message: `limit must be an integer from 1 to ${MAX_PAGE}` });
    }
    const before = q.before === undefined ? Infinity : Number(q.before);
    if (before !== Infinity && (!Number.isInteger(before) || before < 1)) {
      return reply.code(400).send({ error: 'bad_request', message: 'before must be a positive integer (next_before of the previous page)' });
    }
    const match = queryFilter(q, reply, tail);
    if (!match) return reply;
    await tail.watchPending(); // with follow: watched, the history read back from the bus first
    const page = await tail.history.query(match, limit, before, { maxScan: tail.config.maxScanPerRequest });
    reply.header('content-type', 'application/json; charset=utf-8');
    return `{"events":[${page.entries.map((e) => e.json()).join(',')}],"next_before":${page.nextBefore},"scanned":${page.scanned},"history":{"size":${tail.history.size},"capacity":${tail.history.capacity}}}`;
  });
};
