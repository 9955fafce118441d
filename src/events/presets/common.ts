// Small readers the presets share: ids from hashes, timestamps, priorities and tolerant field access.
import { hash } from 'node:crypto';
import { RejectError } from '../../errors.js';
import type { RawMessage } from '../raw.js';
import type { Priority } from '../schema.js';

export type Obj = Record<string, unknown>;

export const UNKNOWN = 'unknown';

export function isObj(v: unknown): v is Obj {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** A non-empty string, or a finite number as text; anything else is absent. */
export function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return undefined;
}

/** The first field of `o` that reads as a string. */
export function firstStr(o: Obj | undefined, keys: readonly string[]): string | undefined {
  if (!o) return undefined;
  for (const k of keys) {
    const v = str(o[k]);
    if (v !== undefined) return v;
  }
  return undefined;
}

/** A finite non-negative number, also from numeric text (Redis fields arrive as strings). */
export function num(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

export function firstNum(o: Obj | undefined, keys: readonly string[]): number | undefined {
  if (!o) return undefined;
  for (const k of keys) {
    const v = num(o[k]);
    if (v !== undefined) return v;
  }
  return undefined;
}

/** An object, or JSON text holding one (Redis entries carry nested JSON as field text). */
export function objOrJson(v: unknown): Obj | undefined {
  if (isObj(v)) return v;
  if (typeof v !== 'string' || v.length < 2 || v.charCodeAt(0) !== 0x7b /* { */) return undefined;
  try {
    const parsed: unknown = JSON.parse(v);
    return isObj(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

const OFFSET_THEN_Z = /([+-]\d{2}:?\d{2})Z$/;
const HAS_ZONE = /(Z|[+-]\d{2}:?\d{2})$/i;
const ISO_NAIVE = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;

/**
 * A timestamp as the platforms write it, made parseable: Python's `isoformat() + "Z"` yields
 * `…+00:00Z` (two zones), and `utcnow().isoformat()` none at all, which Date.parse would read as
 * local time. Numbers (epoch seconds or ms) pass through; the validator decides what is valid.
 */
export function normalizeTime(v: unknown): string | number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined;
  if (typeof v !== 'string' || v === '') return undefined;
  const t = v.trim();
  if (/^\d+(\.\d+)?$/.test(t)) return Number(t);
  if (OFFSET_THEN_Z.test(t)) return t.slice(0, -1);
  if (!HAS_ZONE.test(t) && ISO_NAIVE.test(t)) return `${t}Z`;
  return t;
}

export function firstTime(o: Obj | undefined, keys: readonly string[]): string | number | undefined {
  if (!o) return undefined;
  for (const k of keys) {
    const v = normalizeTime(o[k]);
    if (v !== undefined) return v;
  }
  return undefined;
}

/**
 * A deterministic id for platforms whose messages carry none: the same subject and payload
 * (a redelivery, a replayed file) always give the same id, so a dedupe key still works. The bytes
 * as received are hashed when the source kept them (a redelivery repeats them exactly); a value
 * that arrived decoded (an HTTP array element, Redis entry fields) is hashed as its JSON text.
 */
export function derivedId(preset: string, raw: RawMessage, msg: unknown): string {
  const head = `${raw.subject ?? ''}\n`;
  const data = raw.data;
  // one-shot hash(): cheaper than createHash() for payloads of a few hundred bytes (docs/benchmarks-log.md)
  const digest =
    typeof data === 'string'
      ? hash('sha256', head + data, 'hex')
      : data instanceof Uint8Array
        ? hash('sha256', Buffer.concat([Buffer.from(head), data]), 'hex')
        : hash('sha256', head + JSON.stringify(msg), 'hex');
  return `${preset}:${digest.slice(0, 32)}`;
}

const PRIORITY_WORDS: Record<string, Priority> = {
  low: 'low',
  debug: 'low',
  trivial: 'low',
  minor: 'low',
  normal: 'normal',
  medium: 'normal',
  info: 'normal',
  default: 'normal',
  high: 'high',
  urgent: 'high',
  warning: 'high',
  error: 'high',
  major: 'high',
  critical: 'critical',
  emergency: 'critical',
  blocker: 'critical',
};

/**
 * Priority words (low, medium, urgent, …) or the 1–4 scale (1 low … 4 critical) onto the
 * canonical four; undefined when the value says nothing we recognise, so the default applies.
 */
export function mapPriority(v: unknown): Priority | undefined {
  if (typeof v === 'number' && Number.isInteger(v)) {
    return v <= 1 ? 'low' : v === 2 ? 'normal' : v === 3 ? 'high' : 'critical';
  }
  if (typeof v !== 'string') return undefined;
  const w = v.trim().toLowerCase();
  if (/^[1-9]$/.test(w)) return mapPriority(Number(w));
  return PRIORITY_WORDS[w];
}

/**
 * Copies the fields of `o` named in `keys` (and not null) into `target`. Walks the message's own
 * keys, usually fewer than the names asked for, so a long list of optional fields stays cheap.
 */
export function pickInto(target: Obj, o: Obj | undefined, keys: ReadonlySet<string>): Obj {
  if (!o) return target;
  for (const k in o) {
    if (!keys.has(k)) continue;
    const v = o[k];
    if (v !== undefined && v !== null) target[k] = v;
  }
  return target;
}

/** Sets `o[k]` when `v` is defined. */
export function put(o: Obj, k: string, v: unknown): void {
  if (v !== undefined) o[k] = v;
}

/**
 * A copy without undefined fields, so a candidate carries only what the message said. Copying
 * instead of `delete` keeps the object in V8's fast mode for the validator and the tail.
 */
export function compact(o: Obj): Obj {
  const out: Obj = {};
  for (const k in o) {
    const v = o[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

export function unmapped(preset: string, what: string): RejectError {
  return new RejectError('unmapped', `preset ${preset}: ${what}`);
}
