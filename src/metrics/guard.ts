// The cardinality guard: allow-lists, a cap on distinct values per label, a length limit, and
// well-formed Unicode for every value an event turns into a label.
import type { Config } from '../config/schema.js';

export const OVERFLOW = '__overflow__';

export const OVERFLOW_KINDS = ['cap', 'not_allowed', 'truncated', 'malformed'] as const;
export type OverflowKind = (typeof OVERFLOW_KINDS)[number];

/**
 * `s` as well-formed Unicode: each lone surrogate replaced with U+FFFD. Every UTF-8 encoder does
 * this on the way out (the /metrics body included), so two values differing only in a lone
 * surrogate would leave as identical series lines; replacing first makes them one series in-process.
 */
export function wellFormed(s: string): string {
  return s.isWellFormed() ? s : s.toWellFormed();
}

/** The first `max` UTF-16 code units of a well-formed `s`, one fewer when the cut would split a surrogate pair. */
export function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  const last = s.charCodeAt(max - 1);
  return s.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}
export type OverflowCounter = (label: string, kind: OverflowKind) => void;

interface LabelState {
  allow?: Set<string>;
  max: number;
  seen: Set<string>;
}

export class CardinalityGuard {
  private readonly labels = new Map<string, LabelState>();
  private readonly defaultMax: number;
  private readonly maxLength: number;
  private readonly cfg: Config['metrics']['labels'];

  constructor(
    cfg: Pick<Config['metrics'], 'labels' | 'maxLabelValues' | 'maxLabelLength'>,
    private readonly onOverflow: OverflowCounter = () => {},
    /** called once per label name, when the guard first sees it: where its overflow counters start at zero */
    private readonly onLabel: (label: string) => void = () => {},
  ) {
    this.cfg = cfg.labels;
    this.defaultMax = cfg.maxLabelValues;
    this.maxLength = cfg.maxLabelLength;
  }

  private state(label: string): LabelState {
    let s = this.labels.get(label);
    if (!s) {
      const c = this.cfg[label];
      s = { allow: c?.allow ? new Set(c.allow.map(wellFormed)) : undefined, max: c?.maxValues ?? this.defaultMax, seen: new Set() };
      this.labels.set(label, s);
      this.onLabel(label);
    }
    return s;
  }

  /** The value to use for `label`: itself, made well-formed, truncated, or __overflow__ (each counted). */
  value(label: string, raw: string): string {
    const s = this.state(label);
    // only well-formed values are ever kept, so a hit needs no check
    if (s.seen.has(raw)) return raw;
    let v = raw;
    if (!v.isWellFormed()) {
      v = v.toWellFormed();
      this.onOverflow(label, 'malformed');
    }
    if (v.length > this.maxLength) {
      v = truncate(v, this.maxLength);
      this.onOverflow(label, 'truncated');
    }
    if (v !== raw && s.seen.has(v)) return v;
    if (s.allow && !s.allow.has(v)) {
      this.onOverflow(label, 'not_allowed');
      return OVERFLOW;
    }
    if (s.seen.size >= s.max) {
      this.onOverflow(label, 'cap');
      return OVERFLOW;
    }
    s.seen.add(v);
    return v;
  }

  /** Distinct values kept per label, for the cardinality report. */
  snapshot(): Record<string, { values: number; max: number }> {
    const out: Record<string, { values: number; max: number }> = {};
    for (const [k, s] of this.labels) out[k] = { values: s.seen.size, max: s.max };
    return out;
  }
}
