// Tail filters: which events a live-tail client, a history query or an export wants; all fields ANDed.
import { z } from 'zod';
import type { WorkflowEvent } from '../../events/schema.js';

export const MAX_FILTER_VALUES = 64; // per list; a filter is typed by a person, not generated
export const MAX_FILTER_VALUE_LENGTH = 256; // as long as the longest id or name an event may carry

// a glob costs every event it is matched against: fewer and shorter than other values. 16 covers
// the lifecycle families twice over; 128 is the longest event type (events/schema.ts)
export const MAX_GLOBS = 16;
export const MAX_GLOB_LENGTH = 128;

const value = z.string().min(1).max(MAX_FILTER_VALUE_LENGTH);
const list = z.array(value).max(MAX_FILTER_VALUES);
const globs = z.array(z.string().min(1).max(MAX_GLOB_LENGTH)).max(MAX_GLOBS);

export const tailFilterSchema = z
  .object({
    types: globs.optional().describe(`event types; * matches any run of characters, e.g. task.* or *.failed; at most ${MAX_GLOBS} globs of ${MAX_GLOB_LENGTH} characters`),
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

/** Counts the character comparisons of a match, for tests and benchmarks that bound the work. */
export interface MatchMeter {
  steps: number;
}

/**
 * A wildcard pattern (`*` spans any run of characters, everything else is literal), compiled once.
 * Matching costs O(text + pattern) whatever the pattern: the literal before the first star must
 * start the text, the one after the last star must end it, and the segments between are found left
 * to right, each at its leftmost place, with Knuth–Morris–Pratt (the leftmost place is always safe
 * with `*` as the only wildcard). No regular expression and no backtracking: a greedy two-pointer
 * match is O(pattern x text) on `*aaaa…ab`, and a filter is typed by whoever connects.
 */
export class Glob {
  private readonly exact: boolean;
  private readonly head: string;
  private readonly tail: string;
  private readonly middle: { seg: string; fail: Int32Array }[];
  private readonly minLength: number;

  constructor(readonly pattern: string) {
    const parts = pattern.split('*');
    this.exact = parts.length === 1;
    this.head = parts[0];
    this.tail = this.exact ? '' : parts[parts.length - 1];
    this.middle = parts
      .slice(1, -1)
      .filter((seg) => seg.length > 0)
      .map((seg) => ({ seg, fail: failureTable(seg) }));
    this.minLength = this.head.length + this.tail.length + this.middle.reduce((n, m) => n + m.seg.length, 0);
  }

  match(s: string, meter?: MatchMeter): boolean {
    if (this.exact) {
      if (meter) meter.steps += Math.min(s.length, this.pattern.length) + 1;
      return s === this.pattern;
    }
    if (s.length < this.minLength) return false;
    if (meter) meter.steps += this.head.length + this.tail.length;
    if (!s.startsWith(this.head) || !s.endsWith(this.tail)) return false;
    let pos = this.head.length;
    const end = s.length - this.tail.length;
    for (const { seg, fail } of this.middle) {
      const at = kmpIndexOf(s, pos, end, seg, fail, meter);
      if (at < 0) return false;
      pos = at + seg.length;
    }
    return true;
  }
}

/** fail[i]: length of the longest proper prefix of seg[0..i] that is also its suffix. */
function failureTable(seg: string): Int32Array {
  const fail = new Int32Array(seg.length);
  for (let i = 1, k = 0; i < seg.length; i++) {
    while (k > 0 && seg[i] !== seg[k]) k = fail[k - 1];
    if (seg[i] === seg[k]) k++;
    fail[i] = k;
  }
  return fail;
}

/** First index >= from where seg lies wholly before end, or -1; each text character is read once. */
function kmpIndexOf(s: string, from: number, end: number, seg: string, fail: Int32Array, meter?: MatchMeter): number {
  let k = 0;
  let steps = 0;
  for (let i = from; i < end; i++) {
    while (k > 0 && s[i] !== seg[k]) {
      k = fail[k - 1];
      steps++;
    }
    steps++;
    if (s[i] === seg[k] && ++k === seg.length) {
      if (meter) meter.steps += steps;
      return i - seg.length + 1;
    }
  }
  if (meter) meter.steps += steps;
  return -1;
}

/** One wildcard match; a filter compiles its globs once instead (compileFilter). */
export function globMatch(p: string, s: string, meter?: MatchMeter): boolean {
  return new Glob(p).match(s, meter);
}

/** Any of the globs, remembered per distinct text: an event type is matched once, then looked up. */
function globMatcher(patterns: string[]): (s: string) => boolean {
  const unique = [...new Set(patterns)];
  if (unique.includes('*')) return () => true;
  const globs = unique.map((p) => new Glob(p));
  const memo = new Map<string, boolean>();
  return (s) => {
    let r = memo.get(s);
    if (r === undefined) {
      r = globs.some((g) => g.match(s));
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

/**
 * What a client hears about a refused filter: `filter_limit` when it is well formed but past a limit
 * (too many globs or values, one too long), so the client knows to narrow it; `invalid_filter` else.
 */
export type FilterErrorCode = 'invalid_filter' | 'filter_limit';

export class FilterError extends Error {
  constructor(
    message: string,
    readonly code: FilterErrorCode = 'invalid_filter',
  ) {
    super(message);
    this.name = 'FilterError';
  }
}

/** The `error` of an HTTP 400 for a refused filter: bad_request as for any other parameter, filter_limit for a limit. */
export function filterErrorName(err: FilterError): 'bad_request' | 'filter_limit' {
  return err.code === 'filter_limit' ? 'filter_limit' : 'bad_request';
}

/** Validates an unknown value as a filter; the error names the offending field. */
export function parseFilter(input: unknown): TailFilter {
  const r = tailFilterSchema.safeParse(input ?? {});
  if (!r.success) {
    const issue = r.error.issues[0];
    const path = issue.path.map(String).join('.') || 'filter';
    const code = issue.code === 'too_big' ? 'filter_limit' : 'invalid_filter';
    throw new FilterError(`filter.${path}: ${issue.message}`.replace('filter.filter', 'filter'), code);
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
