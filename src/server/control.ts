// Operator control: POST /api/workflows/:id/control publishes pause/resume/cancel on the bus for the
// workflow platform to act on; operator token required; every attempt audited and counted.
import { randomUUID } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config/schema.js';
import { CONTROL_ACTIONS, makeCommand, type ControlAction, type ControlBus, type ControlOutcome } from '../control/command.js';
import type { QueueControlBus } from '../control/queue.js';
import { MAX_ID } from '../events/schema.js';
import type { Metrics } from '../metrics/registry.js';
import type { AuditEntry, AuditLog } from './audit.js';

export type Role = 'read' | 'ingest' | 'operator'; // the roles of server/auth.ts
export type Hook = (req: FastifyRequest, reply: FastifyReply) => Promise<void>;

/** What control needs from auth (server/auth.ts): role hooks and who passed them. */
export interface Authorizer {
  readonly enabled: boolean;
  require(role: Role): Hook;
  principal(req: FastifyRequest): { name: string; role: string } | undefined;
  tokenFrom(req: FastifyRequest): string | undefined;
  authenticate(token: string): { name: string; role: string } | undefined;
}

export interface ControlOptions {
  bus: ControlBus;
  audit: AuditLog;
  auth: Authorizer;
  metrics: Metrics;
  cfg: Config['control'];
  now: () => number;
}

export const CONTROL_BODY_LIMIT = 16 * 1024; // an action and a reason; nothing bigger is a command
export const DEFAULT_POLL_LIMIT = 100;
export const MAX_POLL_LIMIT = 1000;

const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
const isAction = (v: unknown): v is ControlAction => typeof v === 'string' && (CONTROL_ACTIONS as readonly string[]).includes(v);

const OUTCOMES: readonly ControlOutcome[] = ['published', 'failed', 'refused', 'invalid'];

export const controlPlugin: FastifyPluginAsync<ControlOptions> = async (app, o) => {
  // every series exists from the start at 0, so rate() and the dashboard see a quiet exporter, not none
  for (const action of [...CONTROL_ACTIONS, 'unknown']) for (const outcome of OUTCOMES) o.metrics.controlCommands.labels(action, outcome).inc(0);
  const handled = new WeakSet<FastifyRequest>();
  const operator = o.auth.require('operator');

  const who = (req: FastifyRequest): AuditEntry['who'] => {
    // a refused caller never passed the hook: name the holder of a valid token of too low a role
    const token = o.auth.tokenFrom(req);
    const p = o.auth.principal(req) ?? (token ? o.auth.authenticate(token) : undefined);
    const ua = req.headers['user-agent'];
    return { name: p?.name ?? null, role: p?.role ?? null, ip: req.ip, ...(ua ? { user_agent: ua.slice(0, 256) } : {}) };
  };
  const done = (action: string, outcome: ControlOutcome, entry: Omit<AuditEntry, 'action' | 'outcome' | 'at'>) => {
    o.metrics.controlCommands.labels(action, outcome).inc();
    o.audit.record({ ...entry, at: new Date(o.now()).toISOString(), action, outcome });
  };
  const actionOf = (body: unknown) => (body && typeof body === 'object' && isAction((body as { action?: unknown }).action) ? (body as { action: ControlAction }).action : 'unknown');

  app.post<{ Params: { id: string } }>(
    '/api/workflows/:id/control',
    {
      bodyLimit: CONTROL_BODY_LIMIT,
      // before the body is read: a caller without the operator role is refused (and audited) whatever
      // it sent, and never makes the exporter parse its body
      onRequest: async (req, reply) => {
        // with no token configured nobody is an operator: control is never open to anonymous callers
        if (!o.auth.enabled) {
          await reply.code(403).send({ error: 'forbidden', message: 'control needs an operator token: configure auth.tokens with role operator' });
          return;
        }
        await operator(req, reply);
      },
      // what the handler never saw is audited here, once the answer is out: refusals (401, 403; the
      // body unread, so the action is unknown) and bodies Fastify could not take (400 bad JSON, 413, 415)
      onResponse: async (req, reply) => {
        const status = reply.statusCode;
        if (handled.has(req) || status < 400 || status >= 500) return;
        const entry = { id: randomUUID(), who: who(req), workflow_id: req.params.id, status };
        if (status === 401 || status === 403) done('unknown', 'refused', entry);
        else done(actionOf(req.body), 'invalid', { ...entry, error: `body refused with ${status}` });
      },
    },
    async (req, reply) => {
      handled.add(req);
      const id = req.params.id;
      const body = req.body as { action?: unknown; reason?: unknown } | undefined;
      const base = { who: who(req), workflow_id: id };
      const invalid = (message: string) => {
        done(actionOf(body), 'invalid', { ...base, id: randomUUID(), status: 400, error: message });
        return reply.code(400).send({ error: 'bad_request', message });
      };
      if (!body || typeof body !== 'object' || Array.isArray(body)) return invalid('body must be a JSON object {"action": "pause"|"resume"|"cancel", "reason": "..."}');
      if (!isAction(body.action)) return invalid(`action must be one of ${CONTROL_ACTIONS.join(', ')}`);
      if (body.reason !== undefined && (typeof body.reason !== 'string' || body.reason.length > o.cfg.maxReasonLength)) {
        return invalid(`reason must be a string of at most ${o.cfg.maxReasonLength} characters`);
      }
      if (id.length === 0 || id.length > MAX_ID || CONTROL_CHARS.test(id)) return invalid(`workflow id must be 1 to ${MAX_ID} characters without control characters`);
      const busProblem = o.bus.invalidId?.(id);
      if (busProblem) return invalid(busProblem);

      const reason = body.reason as string | undefined;
      const cmd = makeCommand(body.action, id, base.who.name ?? 'unknown', reason, o.now());
      const target = o.bus.target(id);
      const entry = { ...base, id: cmd.id, bus: o.bus.kind, target, ...(reason !== undefined ? { reason } : {}) };
      try {
        await o.bus.publish(cmd);
      } catch (err) {
        const message = (err as Error).message;
        done(cmd.action, 'failed', { ...entry, status: 503, error: message });
        req.log.error({ err, workflow_id: id, action: cmd.action }, 'control command not published');
        return reply.code(503).send({ error: 'bus_unavailable', message, id: cmd.id });
      }
      done(cmd.action, 'published', { ...entry, status: 202 });
      return reply.code(202).send({ id: cmd.id, status: 'published', action: cmd.action, workflow_id: id, bus: o.bus.kind, target, requested_at: cmd.requested_at });
    },
  );

  // The queue bus: a platform without NATS or Redis polls this with the last seq it saw.
  app.get('/api/control/commands', { onRequest: o.auth.require('read') }, async (req, reply) => {
    if (o.bus.kind !== 'queue') {
      return reply.code(409).send({ error: 'conflict', message: `commands go to ${o.bus.kind} (${o.bus.target('<workflow id>')}), not to this queue` });
    }
    const q = req.query as { after?: string; limit?: string };
    const after = q.after === undefined ? 0 : Number(q.after);
    const limit = q.limit === undefined ? DEFAULT_POLL_LIMIT : Number(q.limit);
    if (!Number.isInteger(after) || after < 0) return reply.code(400).send({ error: 'bad_request', message: 'after must be a non-negative integer (the last seq seen)' });
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_POLL_LIMIT) {
      return reply.code(400).send({ error: 'bad_request', message: `limit must be an integer from 1 to ${MAX_POLL_LIMIT}` });
    }
    return (o.bus as QueueControlBus).since(after, limit);
  });
};
