// Decode and validate: bytes to JSON, candidate to canonical event, with a counted reason on failure.
import { isUtf8 } from 'node:buffer';
import type { Config } from '../config/schema.js';
import type { z } from 'zod';
import { RejectError, type RejectReason } from '../errors.js';
import { validateCanonical } from '../events/compiled.js';
import { MAX_COST_USD, MAX_DURATION_MS, MAX_EPOCH_MS, MAX_ID, MAX_NAME, MAX_TOKENS, type WorkflowEvent } from '../events/schema.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });
const BOM = [0xef, 0xbb, 0xbf];

export function decode(data: string | Uint8Array, maxBytes: number): unknown {
  let text: string;
  if (typeof data === 'string') {
    // length is UTF-16 units; a cheap bound that never under-counts by more than 3x
    if (data.length > maxBytes) throw new RejectError('too_large', `message of ${data.length} characters exceeds ${maxBytes} bytes`);
    text = data;
  } else {
    if (data.byteLength > maxBytes) throw new RejectError('too_large', `message of ${data.byteLength} bytes exceeds ${maxBytes}`);
    if (Buffer.isBuffer(data)) {
      // isUtf8 (simdutf) then a plain slice is cheaper per message than a fatal TextDecoder, which
      // does the same two steps behind more call overhead; a BOM is skipped as TextDecoder does
      if (!isUtf8(data)) throw new RejectError('invalid_encoding', 'message is not valid UTF-8');
      text = data.toString('utf8', data[0] === BOM[0] && data[1] === BOM[1] && data[2] === BOM[2] ? 3 : 0);
    } else {
      try {
        text = utf8.decode(data);
      } catch (cause) {
        throw new RejectError('invalid_encoding', 'message is not valid UTF-8', { cause });
      }
    }
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new RejectError('invalid_json', `not valid JSON: ${(cause as Error).message}`, { cause });
  }
}

/**
 * Epoch ms from an RFC 3339 string or a number (seconds below 1e11, else milliseconds); NaN for a
 * string that is not RFC 3339. Date.parse is never the judge: it reads `12/02/2026`, takes a
 * date-only or zone-less string as local or UTC time by shape, and rolls `2026-02-30` into March.
 */
export function parseTime(t: string | number): number {
  if (typeof t === 'number') return t < 1e11 ? t * 1000 : t;
  const fast = utcTimestamp(t);
  return fast === fast ? fast : rfc3339(t);
}

const digit = (t: string, i: number) => t.charCodeAt(i) - 48;
const two = (t: string, i: number) => {
  const a = digit(t, i);
  const b = digit(t, i + 1);
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : NaN;
};

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const daysIn = (year: number, month: number) =>
  month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : DAYS_IN_MONTH[month - 1];
// 400 Gregorian years are exactly 146,097 days: Date.UTC reads years 0-99 as 1900-1999, so years are
// shifted up by 400 and the span taken off again
const FOUR_CENTURIES_MS = 146_097 * 86_400_000;

/**
 * The shape nearly every producer sends, 2026-11-20T10:00:00Z or with .123 milliseconds, read
 * digit by digit: less than half of Date.parse's cost. Anything else (offsets, other precisions,
 * out-of-range fields, years below 100, a leap second) is NaN here and goes to rfc3339(), which
 * gives the same value for every string both read (validate-fastpaths.test.ts checks).
 */
export function utcTimestamp(t: string): number {
  const n = t.length;
  if ((n !== 20 && n !== 24) || t.charCodeAt(n - 1) !== 90 /* Z */) return NaN;
  if (t.charCodeAt(4) !== 45 || t.charCodeAt(7) !== 45 || t.charCodeAt(10) !== 84 || t.charCodeAt(13) !== 58 || t.charCodeAt(16) !== 58) return NaN;
  let ms = 0;
  if (n === 24) {
    const h = digit(t, 20);
    const rest = two(t, 21);
    if (t.charCodeAt(19) !== 46 /* . */ || !(h >= 0 && h <= 9) || rest !== rest) return NaN;
    ms = h * 100 + rest;
  }
  const year = two(t, 0) * 100 + two(t, 2);
  const month = two(t, 5);
  const day = two(t, 8);
  const hour = two(t, 11);
  const minute = two(t, 14);
  const second = two(t, 17);
  // NaN fails every comparison below, so a non-digit anywhere lands in the fallback
  if (!(year >= 100 && month >= 1 && month <= 12 && day >= 1 && day <= daysIn(year, month) && hour <= 23 && minute <= 59 && second <= 59)) return NaN;
  return Date.UTC(year, month - 1, day, hour, minute, second, ms);
}

// RFC 3339 section 5.6 date-time; `t`, `z` and a space for the T are allowed there too (its note on ISO 8601)
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

/**
 * An RFC 3339 date-time as epoch ms, else NaN: a zone (Z or ±hh:mm) is required, every field is in
 * range for its month and year, fractions past milliseconds are cut off, and a leap second (:60) is
 * the next second, as in POSIX time.
 */
export function rfc3339(t: string): number {
  const m = RFC3339.exec(t);
  if (!m) return NaN;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  const hour = Number(m[4]);
  const minute = Number(m[5]);
  const second = Number(m[6]);
  if (month < 1 || month > 12 || day < 1 || day > daysIn(year, month) || hour > 23 || minute > 59 || second > 60) return NaN;
  const ms = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0'));
  let offset = 0;
  if (m[8] === undefined) {
    const oh = Number(m[10]);
    const om = Number(m[11]);
    if (oh > 23 || om > 59) return NaN;
    offset = (m[9] === '-' ? -1 : 1) * (oh * 60 + om) * 60_000;
  }
  return Date.UTC(year + 400, month - 1, day, hour, minute, second, ms) - FOUR_CENTURIES_MS - offset;
}

function depthExceeds(v: unknown, max: number): boolean {
  if (v === null || typeof v !== 'object') return false;
  if (max <= 0) return true;
  for (const k in v as object) {
    if (depthExceeds((v as Record<string, unknown>)[k], max - 1)) return true;
  }
  return false;
}

export type Limits = Config['validation'];

/** A number past a schema bound (too_big, too_small), also as the one failing branch of a union. */
function outOfRange(issue: z.core.$ZodIssue): boolean {
  if (issue.code === 'too_big' || issue.code === 'too_small') return issue.origin === 'number';
  if (issue.code === 'invalid_union') return issue.errors.some((branch) => branch.length > 0 && branch.every(outOfRange));
  return false;
}

/**
 * The counted reason of a schema failure: a number out of its bounds is out_of_range, or the reason
 * its field always had (invalid_duration, invalid_timestamp); any other failure is invalid_event.
 */
function reasonOf(issue: z.core.$ZodIssue): RejectReason {
  if (!outOfRange(issue)) return 'invalid_event';
  const field = issue.path[0];
  if (field === 'duration_ms') return 'invalid_duration';
  if (field === 'time' || field === 'enqueued_at') return 'invalid_timestamp';
  return 'out_of_range';
}

export interface Validated {
  event: WorkflowEvent;
  timeMs: number;
}

const TYPE = /^[A-Za-z0-9_][A-Za-z0-9_.:-]*$/; // the schema's eventType
const isId = (v: unknown) => typeof v === 'string' && v.length >= 1 && v.length <= MAX_ID;
const isName = (v: unknown) => typeof v === 'string' && v.length >= 1 && v.length <= MAX_NAME;
const optName = (v: unknown) => v === undefined || isName(v);
const inRange = (v: unknown, max: number) => typeof v === 'number' && v >= 0 && v <= max; // NaN fails both
const optRange = (v: unknown, max: number) => v === undefined || inRange(v, max);
/** the fields checkBuilt knows; any other key (or queue, enqueued_at, queue_wait_ms) takes the schema's path */
const BUILT_KEYS = new Set(['id', 'type', 'time', 'source', 'workflow', 'stage', 'task', 'agent', 'duration_ms', 'priority', 'tokens_in', 'tokens_out', 'model', 'cost_usd', 'tool', 'attributes']);

/**
 * The canonical schema's rules for the fields an event built by the exporter carries (the otlp
 * mapping's events: numeric times, no queue fields), checked in place: true when the schema would
 * accept the event and return it unchanged but for the default priority. Anything else, or a
 * failure, goes to the schema (validate.test.ts holds the two to the same answers).
 */
export function checkBuilt(e: Record<string, unknown>): boolean {
  for (const k in e) if (!BUILT_KEYS.has(k) || e[k] === undefined) return false;
  const t = e.type;
  if (!isId(e.id) || typeof t !== 'string' || t.length > 128 || !TYPE.test(t) || !inRange(e.time, MAX_EPOCH_MS) || !isName(e.source)) return false;
  const wf = e.workflow as Record<string, unknown> | undefined;
  if (wf !== undefined && (wf === null || typeof wf !== 'object' || Object.keys(wf).length !== 2 || !isId(wf.id) || !isName(wf.type))) return false;
  const task = e.task as Record<string, unknown> | undefined;
  if (task !== undefined && (task === null || typeof task !== 'object' || !isId(task.id) || !optName(task.name) || Object.keys(task).length !== (task.name === undefined ? 1 : 2))) return false;
  if (!optName(e.stage) || !optName(e.agent) || !optName(e.model) || !optName(e.tool)) return false;
  if (!optRange(e.duration_ms, MAX_DURATION_MS) || !optRange(e.tokens_in, MAX_TOKENS) || !optRange(e.tokens_out, MAX_TOKENS) || !optRange(e.cost_usd, MAX_COST_USD)) return false;
  if (e.priority !== undefined && e.priority !== 'normal' && e.priority !== 'low' && e.priority !== 'high' && e.priority !== 'critical') return false;
  const a = e.attributes;
  if (a !== undefined && (a === null || typeof a !== 'object' || Array.isArray(a) || Object.getPrototypeOf(a) !== Object.prototype)) return false;
  return true;
}

/**
 * An event the exporter built (RawMessage.built): checked in place by checkBuilt, without the
 * schema's copy of every event; what checkBuilt does not accept gets the schema's verdict and message.
 */
export function validateBuilt(candidate: Record<string, unknown>, limits: Limits, nowMs: number): Validated {
  if (!checkBuilt(candidate)) return validateEvent(candidate, limits, nowMs);
  candidate.priority ??= 'normal';
  return checkTimes(candidate as WorkflowEvent, limits, nowMs);
}

export function validateEvent(candidate: Record<string, unknown>, limits: Limits, nowMs: number): Validated {
  // compiled from the zod schema: generated code on the happy path, zod's own issue on failure
  const parsed = validateCanonical(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue.path.map(String).join('.') || '(event)';
    throw new RejectError(reasonOf(issue), `${path}: ${issue.message}`);
  }
  return checkTimes(parsed.data, limits, nowMs);
}

/** The configured limits the schema cannot know: the time window, the duration limit, nesting. */
function checkTimes(event: WorkflowEvent, limits: Limits, nowMs: number): Validated {
  const timeMs = parseTime(event.time);
  if (!Number.isFinite(timeMs)) throw new RejectError('invalid_timestamp', `time ${JSON.stringify(event.time)} is not RFC 3339 or epoch`);
  if (timeMs < nowMs - limits.maxPastSeconds * 1000) {
    throw new RejectError('invalid_timestamp', `time ${event.time} is more than ${limits.maxPastSeconds}s in the past`);
  }
  if (timeMs > nowMs + limits.maxFutureSeconds * 1000) {
    throw new RejectError('invalid_timestamp', `time ${event.time} is more than ${limits.maxFutureSeconds}s in the future`);
  }
  if (typeof event.time === 'number') event.time = new Date(timeMs).toISOString();
  // the schema bounds every number (schema.ts); the configured duration limit is tighter
  const d = event.duration_ms;
  if (d !== undefined && d > limits.maxDurationSeconds * 1000) {
    throw new RejectError('invalid_duration', `duration_ms ${d} must be between 0 and ${limits.maxDurationSeconds * 1000}`);
  }
  if (event.attributes && depthExceeds(event.attributes, limits.maxDepth)) {
    throw new RejectError('too_deep', `attributes nest deeper than ${limits.maxDepth} levels`);
  }
  return { event, timeMs };
}
