// GET /api/events/export?format=ndjson|csv: the history (with the tail's filters), streamed as a download.
import { Readable } from 'node:stream';
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { canonicalEventSchema } from '../events/schema.js';
import type { TailEntry } from '../sinks/tail/history.js';
import type { TailSink } from '../sinks/tail/tail.js';
import type { Auth } from './auth.js';
import { queryFilter } from './api-events.js';

export const EXPORT_CHUNK_CHARS = 64 * 1024; // one write per ~64 KiB: few syscalls, bounded memory per download

// a spreadsheet runs a cell starting with these as a formula (CSV injection): OWASP's list, and NUL (ASVS 1.2.10)
const FORMULA_LEAD = /^[=+\-@\t\r\0]/;
// The same after a separator or a line break: where the list separator is `;` (German, French…) a
// spreadsheet splits `x;=HYPERLINK(…)` into a second cell that starts with `=`, and its idea of where
// our quotes begin and end is not ours, so quoting does not help; an apostrophe goes after every `,`,
// `;` and line break that is followed, past spaces and quotes, by a lead.
const FORMULA_AFTER_SEPARATOR = /([,;\r\n][ "]*)(?=[=+\-@\t\r\0])/g;
const NEEDS_QUOTES = /[",;\r\n]/;

/**
 * One CSV field (RFC 4180, quoted when it holds a quote, `,`, `;` or a line break): text a spreadsheet
 * would run as a formula, at the start or after a separator, gets an apostrophe before it.
 */
export function csvCell(v: unknown): string {
  if (v === undefined || v === null) return '';
  let s: string;
  if (typeof v === 'number' || typeof v === 'boolean') s = String(v); // a number we wrote is a number
  else {
    s = typeof v === 'string' ? v : JSON.stringify(v);
    if (FORMULA_LEAD.test(s)) s = `'${s}`;
    s = s.replace(FORMULA_AFTER_SEPARATOR, "$1'");
  }
  return NEEDS_QUOTES.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function unwrap(s: z.ZodType): z.ZodType {
  let t = s;
  while (t instanceof z.ZodOptional || t instanceof z.ZodDefault) t = t.unwrap() as z.ZodType;
  return t;
}

/**
 * Columns follow the canonical schema, so a new event field becomes a column without an edit here:
 * nested objects flatten to parent_child (workflow_id, task_name), attributes stays one JSON column.
 */
export const CSV_COLUMNS: { name: string; get: (e: Record<string, unknown>) => unknown }[] = Object.entries(canonicalEventSchema.shape).flatMap(
  ([key, schema]) => {
    const t = unwrap(schema as z.ZodType);
    if (key !== 'attributes' && t instanceof z.ZodObject) {
      return Object.keys(t.shape).map((sub) => ({
        name: `${key}_${sub}`,
        get: (e: Record<string, unknown>) => (e[key] as Record<string, unknown> | undefined)?.[sub],
      }));
    }
    return [{ name: key, get: (e: Record<string, unknown>) => e[key] }];
  },
  // true when duration_ms was derived from the run's start event (tail.ts), empty when the event carried it
).concat({ name: 'duration_derived', get: (e) => e.duration_derived });

export function csvHeader(): string {
  return `${CSV_COLUMNS.map((c) => c.name).join(',')}\r\n`;
}

export function csvRow(event: object): string {
  const e = event as Record<string, unknown>;
  let s = '';
  for (let i = 0; i < CSV_COLUMNS.length; i++) s += (i === 0 ? '' : ',') + csvCell(CSV_COLUMNS[i].get(e));
  return `${s}\r\n`;
}

function* chunks(entries: TailEntry[], head: string, line: (e: TailEntry) => string): Generator<string> {
  let buf = head;
  for (const e of entries) {
    buf += line(e);
    if (buf.length >= EXPORT_CHUNK_CHARS) {
      yield buf;
      buf = '';
    }
  }
  if (buf) yield buf;
}

export const exportApiPlugin: FastifyPluginAsync<{ tail: TailSink; auth: Auth }> = async (app, { tail, auth }) => {
  app.get('/api/events/export', { onRequest: auth.require('read') }, async (req, reply) => {
    const q = req.query as Record<string, unknown>;
    const format = q.format ?? 'ndjson';
    if (format !== 'ndjson' && format !== 'csv') {
      return reply.code(400).send({ error: 'bad_request', message: 'format must be ndjson or csv' });
    }
    const limit = q.limit === undefined ? Infinity : Number(q.limit);
    if (limit !== Infinity && (!Number.isInteger(limit) || limit < 1)) {
      return reply.code(400).send({ error: 'bad_request', message: 'limit must be a positive integer (the newest N matching events)' });
    }
    const match = queryFilter(q, reply, tail);
    if (!match) return reply;
    // references to what the ring holds now; the ring may move on while the download streams. The
    // whole history is the export's job (no scan budget), in slices so the loop is never held long
    await tail.watchPending(); // with follow: watched, the history read back from the bus first
    const entries = (await tail.history.query(match, limit)).entries.reverse();
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    reply.header('content-disposition', `attachment; filename="workflow-events-${stamp}.${format}"`);
    reply.header('cache-control', 'no-store');
    reply.header('x-events-count', String(entries.length));
    if (format === 'csv') {
      reply.type('text/csv; charset=utf-8');
      return reply.send(Readable.from(chunks(entries, csvHeader(), (e) => csvRow(e.event))));
    }
    reply.type('application/x-ndjson; charset=utf-8');
    return reply.send(Readable.from(chunks(entries, '', (e) => `${e.json()}\n`)));
  });
};
