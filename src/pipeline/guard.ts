// The cardinality guard: allow-lists, a cap on distinct values per label, and a length limit.
import type { Config } from '../config/schema.js';

export const OVERFLOW = '__overflow__';

export type OverflowKind = 'cap' | 'not_allowed' | 'truncated';
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
  ) {
    this.cfg = cfg.labels;
    this.defaultMax = cfg.maxLabelValues;
    this.maxLength = cfg.maxLabelLength;
  }

  private state(label: string): LabelState {
    let s = this.labels.get(label);
    if (!s) {
      const c = this.cfg[label];
      s = { allow: c?.allow ? new Set(c.allow) : undefined, max: c?.maxValues ?? this.defaultMax, seen: new Set() };
      this.labels.set(label, s);
    }
    return s;
  }

  /** The value to use for `label`: itself, truncated, or __overflow__ (each counted). */
  value(label: string, raw: string): string {
    const s = this.state(label);
    if (s.seen.has(raw)) return raw;
    let v = raw;
    if (v.length > this.maxLength) {
      v = v.slice(0, this.maxLength);
      this.onOverflow(label, 'truncated');
      if (s.seen.has(v)) return v;
    }
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
