// Small statistics for the harness: median/min/max over runs, percentiles over samples.

export interface Stat {
  median: number;
  min: number;
  max: number;
  /** every run's figure, in run order */
  values: number[];
}

export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

export function sortNumbers(values: number[]): Float64Array {
  return Float64Array.from(values).sort();
}

export function stat(values: number[]): Stat {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return { median: NaN, min: NaN, max: NaN, values };
  const s = sortNumbers(finite);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { median, min: s[0], max: s[s.length - 1], values };
}

/** Per-run ratios a[i]/b[i] (runs are interleaved, so run i of each subject shares the machine's state). */
export function ratios(a: number[], b: number[]): Stat {
  const n = Math.min(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(a[i] / b[i]);
  return stat(out);
}

export function round(v: number, digits = 3): number {
  if (!Number.isFinite(v)) return v;
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/** A Stat as JSON: NaN and infinities become null, figures rounded to 4 significant-ish digits. */
export function statJson(values: number[]): { median: number | null; min: number | null; max: number | null; values: (number | null)[] } {
  const s = stat(values);
  const j = (v: number) => (Number.isFinite(v) ? round(v, Math.abs(v) >= 100 ? 1 : 4) : null);
  return { median: j(s.median), min: j(s.min), max: j(s.max), values: values.map(j) };
}
