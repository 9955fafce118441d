// GET /api/snapshot: the live page's metrics snapshot as JSON, for clients that cannot hold a WebSocket.
import type { FastifyPluginAsync } from 'fastify';
import type { TailSink } from '../sinks/tail/tail.js';
import type { Auth } from './auth.js';

export const snapshotApiPlugin: FastifyPluginAsync<{ tail: TailSink; auth: Auth }> = async (app, { tail, auth }) => {
  app.get('/api/snapshot', { onRequest: auth.require('read') }, async (_req, reply) => {
    return reply.header('cache-control', 'no-store').send(await tail.snapshot());
  });
};
