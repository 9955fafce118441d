// The audit log of operator actions (who, when, what, outcome): a bounded ring for GET /api/audit,
// optionally appended to a JSON-lines file so the trail outlives the process.
import { appendFile } from 'node:fs/promises';
import type { FastifyPluginAsync, onRequestHookHandler } from 'fastify';
import type { Logger } from 'pino';

export interface AuditEntry {
  /** the command id for control requests that got one, else an id of the entry itself */
  id: string;
  at: string;
  who: { name: string | null; role: string | null; ip: string; user_agent?: string };
  action: string;
  workflow_id: string;
  reason?: string;
  outcome: 'published' | 'failed' | 'refused' | 'invalid';
  /** HTTP status answered */
  status: number;
  bus?: string;
  target?: string;
  error?: string;
}

export const DEFAULT_AUDIT_LIMIT = 100;
export const MAX_AUDIT_LIMIT = 10_000;

export class AuditLog {
  private readonly ring: AuditEntry[] = [];
  private writes: Promise<void> = Promise.resolve();
  private count = 0;

  constructor(
    private readonly size: number,
    private readonly logger: Logger,
    private readonly file?: string,
  ) {}

  record(e: AuditEntry): void {
    this.ring.push(e);
    this.count++;
    if (this.ring.length > this.size) this.ring.shift();
    // the process log carries the trail too, for log pipelines; the entry holds no secret
    this.logger.info({ audit: e }, `control ${e.action} ${e.workflow_id}: ${e.outcome}`);
    if (this.file) {
      const line = `${JSON.stringify(e)}\n`;
      const file = this.file;
      // appends are chained so lines never interleave; a failing disk is logged, never thrown at the operator
      this.writes = this.writes.then(() =>
        appendFile(file, line, { mode: 0o600 }).catch((err: unknown) => this.logger.error({ err, file }, 'audit file append failed')),
      );
    }
  }

  /** Newest first, optionally only one workflow's entries. */
  list(limit: number, workflowId?: string): AuditEntry[] {
    const out: AuditEntry[] = [];
    for (let i = this.ring.length - 1; i >= 0 && out.length < limit; i--) {
      const e = this.ring[i];
      if (workflowId === undefined || e.workflow_id === workflowId) out.push(e);
    }
    return out;
  }

  get total(): number {
    return this.count;
  }

  /** Resolves when every entry so far is in the file. */
  flush(): Promise<void> {
    return this.writes;
  }
}

export const auditPlugin: FastifyPluginAsync<{ audit: AuditLog; guard: onRequestHookHandler }> = async (app, { audit, guard }) => {
  app.get('/api/audit', { onRequest: guard }, async (req, reply) => {
    const q = req.query as { limit?: string; workflow_id?: string };
    const limit = q.limit === undefined ? DEFAULT_AUDIT_LIMIT : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_AUDIT_LIMIT) {
      return reply.code(400).send({ error: 'bad_request', message: `limit must be an integer from 1 to ${MAX_AUDIT_LIMIT}` });
    }
    return { total: audit.total, items: audit.list(limit, q.workflow_id) };
  });
  app.addHook('onClose', async () => audit.flush());
};
