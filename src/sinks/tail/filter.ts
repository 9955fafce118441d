// Tail filters: which events a live-tail client, a history query or an export wants; all fields ANDed.
import { z } from 'zod';
import type { WorkflowEvent } from '../../events/schema.js';

export const MAX_FILTER_VALUES = 64; // per list; a filter is typed by a person, not generated
export const MAX_FILTER_VALUE_LENGTH = 256; // as long as the longest id or name an event may carry

const value = z.string().min(1).max(MAX_FILTER_VALUE_LENGTH);
const list = z.array(value).max(MAX_FILTER_VALUES);

export const tailFilterSchema = z
  .object({
    types: list.optional().describe('event types; * matches any run of characters, e.g. task.* or *.failed'),
    sources: list.optional().describe("the events' emitting source field, e.g. orchestrator"),
    workflow_types: list.optional(),
    workflow_id: z.union([value, list]).optional().describe('one workflow id or a list'),
    agents: list.optional(),
    priorities: z.array(z.enum(['low', 'normal', 'high', 'critical'])).max(4).optional(),
    q: z.string().max(MAX_FILTER_VALUE_LENGTH).optional().describe('case-insensitive text anywhere in the event JSON'),
  })
  .strict();

export type TailFilter = z.infer<typeof tailFilterSchema>;

/** What a filter reads of an event: the event itself and its JSON text, computed once and shared. */
export interface Filterable {
  readonly event: WorkflowEvent;
  json(): string;
  lower(): string;
}

export type Predicate = (e: Filterable) => boolean;

export const MATCH_ALL: Predicate = () => true;

export const GLOB_MEMO_MAX = 4096; // distinct event types remembered per filter; types are few (a label)

/**
 * Wildcard match (`*` spans any characters) in O(pattern x text) at worst: no regular expression,
 * so a hostile filter such as *a*a*a*…*b cannot make matching exponential.
 */
export function globMatch(p: string, s: string): boolean {
  let pi = 0;
  let si = 0;
  let star = -1;
  let mark = 0;
  while (si < s.length) {
    if (pi < p.length && p[pi] === '*') {
      star = pi++;
      mark = si;
    } else if (pi < p.length && p[pi] === s[si]) {
      pi++;
      si++;
    } else if (star >= 0) {
      pi = star + 1;
      si = ++mark;
    } else return false;
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}

/** Any of the globs, remembered per distinct text: an event type is matched once, then looked up. */
function globMatcher(globs: string[]): (s: string) => boolean {
  const memo = new Map<string, boolean>();
  return (s) => {
    let r = memo.get(s);
    if (r === undefined) {
      r = globs.some((g) => globMatch(g, s));
      if (memo.size >= GLOB_MEMO_MAX) memo.clear();
      memo.set(s, r);
    }
    return r;
  };
}

/** Compiles a validated filter into one predicate; an absent or empty field places no constraint. */
export function compileFilter(f: TailFilter): Predicate {
  const checks: Predicate[] = [];
  if (f.types?.length) {
    const match = globMatcher(f.types);
    checks.push((e) => match(e.event.type));
  }
  if (f.sources?.length) {
    const set = new Set(f.sources);
    checks.push((e) => set.has(e.event.source));
  }
  if (f.workflow_types?.length) {
    const set = new Set(f.workflow_types);
    checks.push((e) => e.event.workflow !== undefined && set.has(e.event.workflow.type));
  }
  if (f.workflow_id !== undefined && f.workflow_id.length > 0) {
    const set = new Set(typeof f.workflow_id === 'string' ? [f.workflow_id] : f.workflow_id);
    checks.push((e) => e.event.workflow !== undefined && set.has(e.event.workflow.id));
  }
  if (f.agents?.length) {
    const set = new Set(f.agents);
    checks.push((e) => e.event.agent !== undefined && set.has(e.event.agent));
  }
  if (f.priorities?.length) {
    const set = new Set<string>(f.priorities);
    checks.push((e) => set.has(e.event.priority));
  }
  if (f.q) {
    const needle = f.q.toLowerCase();
    checks.push((e) => e.lower().includes(needle));
  }
  if (checks.length === 0) return MATCH_ALL;
  if (checks.length === 1) return checks[0];
  return (e) => {
    for (const c of checks) if (!c(e)) return false;
    return true;
  };
}

export class FilterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FilterError';
  }
}

/** Validates an unknown value as a filter; the error names the offending field. */
export function parseFilter(input: unknown): TailFilter {
  const r = tailFilterSchema.safeParse(input ?? {});
  if (!r.success) {
    const issue = r.error.issues[0];
    const path = issue.path.map(String).join('.') || 'filter';
    throw new FilterError(`filter.${path}: ${issue.message}`.replace('filter.filter', 'filter'));
  }
  return r.data;
}

const LIST_PARAMS = ['types', 'sources', 'workflow_types', 'agents', 'priorities'] as const;

/**
 * A filter from URL query parameters, for GET /api/events, the export and SSE:
 * lists as comma-separated values or repeated parameters (types=task.*,agent.*&agents=coder).
 */
export function filterFromQuery(query: Record<string, unknown>): TailFilter {
  const raw: Record<string, unknown> = {};
  const values = (v: unknown): string[] =>
    (Array.isArray(v) ? v : [v])
      .flatMap((s) => String(s).split(','))
      .map((s) => s.trim())
      .filter((s) => s.length > 0);
  for (const k of LIST_PARAMS) {
    const v = query[k] === undefined ? [] : values(query[k]);
    if (v.length > 0) raw[k] = v;
  }
  const ids = query.workflow_id === undefined ? [] : values(query.workflow_id);
  if (ids.length > 0) raw.workflow_id = ids.length === 1 ? ids[0] : ids;
  const q = Array.isArray(query.q) ? query.q[0] : query.q;
  if (q !== undefined && String(q).length > 0) raw.q = String(q);
  return parseFilter(raw);
}
