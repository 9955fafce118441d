// Alert annotation text written once as a function, rendered twice: as the Go template Prometheus
// expands, and as the exact string a promtool test expects for given labels and value.

export type ValueFormat = 'percent' | 'seconds' | 'number';

export interface TemplateContext {
  label(name: string): string;
  /** the alert's value, formatted */
  readonly value: string;
}
export type Text = (t: TemplateContext) => string;

const GO_VALUE: Record<ValueFormat, string> = {
  percent: '{{ $value | humanizePercentage }}',
  seconds: '{{ printf "%.0f" $value }}s',
  number: '{{ printf "%.0f" $value }}',
};

/** The Go template form, for the rule file. */
export function goTemplate(text: Text, format: ValueFormat): string {
  return text({ label: (n) => `{{ $labels.${n} }}`, value: GO_VALUE[format] });
}

/** Go's %.Ng: N significant digits, trailing zeros dropped, exponent form below 1e-4 or at 1eN. */
export function goFormatG(v: number, digits: number): string {
  if (v === 0) return '0';
  if (!Number.isFinite(v)) return v > 0 ? '+Inf' : v < 0 ? '-Inf' : 'NaN';
  const [mant, expStr] = v.toExponential(digits - 1).split('e');
  const exp = Number(expStr);
  const strip = (s: string) => (s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s);
  if (exp < -4 || exp >= digits) {
    const e = Math.abs(exp) < 10 ? `0${Math.abs(exp)}` : String(Math.abs(exp));
    return `${strip(mant)}e${exp < 0 ? '-' : '+'}${e}`;
  }
  return strip(v.toFixed(Math.max(0, digits - 1 - exp)));
}

/** The value as the Go template above prints it (humanizePercentage is %.4g of v*100). */
export function formatValue(v: number, format: ValueFormat): string {
  switch (format) {
    case 'percent':
      return `${goFormatG(v * 100, 4)}%`;
    case 'seconds':
      return `${v.toFixed(0)}s`;
    case 'number':
      return v.toFixed(0);
  }
}

/** The expanded form, for a promtool expectation. */
export function expand(text: Text, format: ValueFormat, labels: Record<string, string>, value: number): string {
  return text({
    label: (n) => {
      if (!(n in labels)) throw new Error(`template uses label ${n}, which the fixture's alert does not carry`);
      return labels[n];
    },
    value: formatValue(value, format),
  });
}

/** Prometheus durations (1h30m, 5m, 0s) in seconds. */
export function durationSeconds(d: string): number {
  if (d === '0') return 0;
  const units: Record<string, number> = { y: 31536000, w: 604800, d: 86400, h: 3600, m: 60, s: 1, ms: 0.001 };
  let total = 0;
  const re = /(\d+)(ms|y|w|d|h|m|s)/g;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(d))) {
    total += Number(m[1]) * units[m[2]];
    consumed += m[0].length;
  }
  if (consumed !== d.length || d.length === 0) throw new Error(`not a Prometheus duration: ${JSON.stringify(d)}`);
  return total;
}
