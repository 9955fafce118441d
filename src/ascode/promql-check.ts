// Checks PromQL against the metric catalog with Prometheus's own grammar: every metric name exists,
// every label in a matcher, by(), without(), on(), ignoring() or group_*() exists on what it applies
// to, and both sides of a vector match carry the same labels. It infers the labels each expression
// returns, so recording rules become known metrics with exactly the labels they produce.
import { parser } from '@prometheus-io/lezer-promql';
import { ALL_METRICS, seriesNames, type MetricDef } from '../metrics/catalog.js';
import { FOREIGN_METRICS, TARGET_LABELS } from './promql.js';

type SyntaxNode = ReturnType<typeof parser.parse>['topNode'];

export interface Selector {
  name: string;
  matchers: { label: string; op: string; value: string }[];
}

export interface Analysis {
  /** labels of the result; null for a scalar or string */
  labels: Set<string> | null;
  selectors: Selector[];
  problems: string[];
}

/** The series names an expression may select, with their labels. */
export class MetricUniverse {
  private readonly series = new Map<string, Set<string>>();

  constructor(defs: readonly MetricDef[] = [...ALL_METRICS, ...FOREIGN_METRICS]) {
    for (const d of defs) {
      for (const s of seriesNames(d)) {
        const labels = new Set<string>([...d.labels, ...TARGET_LABELS]);
        if (s.endsWith('_bucket') && d.type === 'histogram') labels.add('le');
        this.series.set(s, labels);
      }
    }
  }

  labels(name: string): Set<string> | undefined {
    return this.series.get(name);
  }

  has(name: string): boolean {
    return this.series.has(name);
  }

  /** A recording rule's output becomes selectable, with the labels its expression returns. */
  define(name: string, labels: Iterable<string>): void {
    if (this.series.has(name)) throw new Error(`recording rule ${name} is defined twice (or shadows a metric)`);
    this.series.set(name, new Set(labels));
  }

  names(): string[] {
    return [...this.series.keys()];
  }
}

// Functions whose result keeps the labels of their (first) vector argument.
const SCALAR_FUNCS = new Set(['time', 'scalar', 'pi', 'minute', 'hour', 'day_of_month', 'day_of_week', 'day_of_year', 'days_in_month', 'month', 'year']);
const LABELLESS_FUNCS = new Set(['vector']);
const SET_OPS = new Set(['And', 'Or', 'Unless']);
const COMPARISONS = new Set(['Eql', 'Neq', 'Gtr', 'Lss', 'Gte', 'Lte']);

function unquote(s: string): string {
  if (s.startsWith('`')) return s.slice(1, -1);
  try {
    return JSON.parse(s.startsWith("'") ? `"${s.slice(1, -1).replace(/"/g, '\\"')}"` : s) as string;
  } catch {
    return s.slice(1, -1);
  }
}

const isExpr = (n: SyntaxNode) =>
  [
    'AggregateExpr',
    'BinaryExpr',
    'FunctionCall',
    'MatrixSelector',
    'NumberDurationLiteral',
    'OffsetExpr',
    'ParenExpr',
    'StringLiteral',
    'SubqueryExpr',
    'UnaryExpr',
    'VectorSelector',
    'StepInvariantExpr',
  ].includes(n.name);

function children(n: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  for (let c = n.firstChild; c; c = c.nextSibling) out.push(c);
  return out;
}

/** Analyses one PromQL expression against a universe of known series. */
export function analyze(expr: string, universe: MetricUniverse): Analysis {
  const tree = parser.parse(expr);
  const problems: string[] = [];
  const selectors: Selector[] = [];
  const text = (n: SyntaxNode) => expr.slice(n.from, n.to);

  tree.iterate({
    enter(n) {
      if (n.type.isError) problems.push(`syntax error at ${n.from}: ${JSON.stringify(expr.slice(Math.max(0, n.from - 10), n.to + 10))}`);
    },
  });
  if (problems.length) return { labels: null, selectors, problems };

  const grouping = (n: SyntaxNode | null | undefined): string[] =>
    n ? children(n).filter((c) => c.name === 'LabelName' || c.name === 'QuotedLabelName').map((c) => (c.name === 'QuotedLabelName' ? unquote(text(c)) : text(c))) : [];

  const requireLabels = (need: string[], have: Set<string> | null, where: string) => {
    if (!have) return;
    for (const l of need) if (!have.has(l)) problems.push(`${where}: label ${l} is not on the input (has ${[...have].sort().join(', ') || 'none'})`);
  };

  const visit = (n: SyntaxNode): Set<string> | null => {
    switch (n.name) {
      case 'PromQL':
      case 'ParenExpr':
      case 'OffsetExpr':
      case 'SubqueryExpr':
      case 'StepInvariantExpr':
      case 'UnaryExpr': {
        const inner = children(n).find(isExpr);
        return inner ? visit(inner) : null;
      }
      case 'NumberDurationLiteral':
      case 'StringLiteral':
        return null;
      case 'MatrixSelector':
        return visit(children(n).find((c) => c.name === 'VectorSelector')!);
      case 'VectorSelector': {
        let name = '';
        const matchers: Selector['matchers'] = [];
        for (const c of children(n)) {
          if (c.name === 'Identifier') name = text(c);
          if (c.name === 'LabelMatchers') {
            for (const m of children(c)) {
              const parts = children(m);
              const ln = parts.find((p) => p.name === 'LabelName' || p.name === 'QuotedLabelName');
              const op = parts.find((p) => p.name === 'MatchOp');
              const val = parts.find((p) => p.name === 'StringLiteral');
              if (m.name === 'QuotedLabelMatcher' && !ln && val) {
                name = unquote(text(val)); // {"metric_name"}
                continue;
              }
              if (!ln || !op || !val) continue;
              const label = ln.name === 'QuotedLabelName' ? unquote(text(ln)) : text(ln);
              if (label === '__name__' && text(op) === '=') name = unquote(text(val));
              else matchers.push({ label, op: text(op), value: unquote(text(val)) });
            }
          }
        }
        selectors.push({ name, matchers });
        const labels = universe.labels(name);
        if (!labels) {
          problems.push(`unknown metric ${name || '(no name)'}`);
          return null;
        }
        for (const m of matchers) if (m.label !== '__name__' && !labels.has(m.label)) problems.push(`${name}: unknown label ${m.label}`);
        return new Set(labels);
      }
      case 'AggregateExpr': {
        const op = children(children(n).find((c) => c.name === 'AggregateOp')!)[0]?.name ?? '';
        const body = children(n).find((c) => c.name === 'FunctionCallBody');
        const args = body ? children(body).filter(isExpr).map((a) => ({ node: a, labels: visit(a) })) : [];
        const inner = args[args.length - 1]?.labels ?? null;
        const mod = children(n).find((c) => c.name === 'AggregateModifier');
        const modKind = mod ? children(mod)[0]?.name : undefined;
        const labels = grouping(mod ? children(mod).find((c) => c.name === 'GroupingLabels') : undefined);
        requireLabels(labels, inner, `${text(n).slice(0, 40)}… ${modKind === 'Without' ? 'without' : 'by'}()`);
        if (op === 'Topk' || op === 'Bottomk' || op === 'LimitK' || op === 'LimitRatio') return inner;
        let out: Set<string>;
        if (modKind === 'Without') out = new Set([...(inner ?? [])].filter((l) => !labels.includes(l)));
        else out = new Set(labels);
        if (op === 'CountValues' && args[0]?.node.name === 'StringLiteral') out.add(unquote(text(args[0].node)));
        return out;
      }
      case 'FunctionCall': {
        const id = children(n).find((c) => c.name === 'FunctionIdentifier')!;
        const fn = text(id);
        const body = children(n).find((c) => c.name === 'FunctionCallBody');
        const argNodes = body ? children(body).filter(isExpr) : [];
        const args = argNodes.map((a) => visit(a));
        if (SCALAR_FUNCS.has(fn)) return null;
        if (LABELLESS_FUNCS.has(fn)) return new Set();
        const vec = args.find((a) => a !== null) ?? null;
        if (fn === 'histogram_quantile') {
          const v = args[1] ?? null;
          if (v && !v.has('le')) problems.push(`histogram_quantile over an input without le (has ${[...v].sort().join(', ')})`);
          return v ? new Set([...v].filter((l) => l !== 'le')) : null;
        }
        if (fn === 'label_replace' || fn === 'label_join') {
          const out = new Set(vec ?? []);
          const strs = argNodes.filter((a) => a.name === 'StringLiteral').map((a) => unquote(text(a)));
          if (strs[0]) out.add(strs[0]);
          const sources = fn === 'label_replace' ? [strs[2]] : strs.slice(2);
          requireLabels(sources.filter((s): s is string => !!s), vec, fn);
          return out;
        }
        if (fn === 'absent' || fn === 'absent_over_time') return new Set();
        return vec;
      }
      case 'BinaryExpr': {
        const parts = children(n);
        const sides = parts.filter(isExpr);
        const opNode = parts.find((p) => !isExpr(p) && p.name !== 'MatchingModifierClause' && p.name !== 'BoolModifier');
        const op = opNode?.name ?? '';
        const lhs = visit(sides[0]);
        const rhs = visit(sides[1]);
        if (lhs === null) return rhs;
        if (rhs === null) return lhs;
        const clause = parts.find((p) => p.name === 'MatchingModifierClause');
        const cparts = clause ? children(clause) : [];
        const kind = cparts[0]?.name; // On | Ignoring
        const groups = cparts.filter((c) => c.name === 'GroupingLabels');
        const matchOn = grouping(groups[0]);
        const groupKind = cparts.find((c) => c.name === 'GroupLeft' || c.name === 'GroupRight')?.name;
        const extra = grouping(groups[1]);
        const where = `${text(n).slice(0, 50)}…`;
        if (kind === 'On') {
          requireLabels(matchOn, lhs, `${where} on() left side`);
          requireLabels(matchOn, rhs, `${where} on() right side`);
        } else if (kind === 'Ignoring' || !clause) {
          // without on(), the two sides must agree on every label not ignored, or nothing matches
          const drop = new Set(matchOn);
          const l = [...lhs].filter((x) => !drop.has(x)).sort();
          const r = [...rhs].filter((x) => !drop.has(x)).sort();
          if (!groupKind && !(op === 'Or' || op === 'Unless') && l.join(',') !== r.join(',')) {
            problems.push(`${where}: the two sides carry different labels (${l.join(', ')} vs ${r.join(', ')}); use on()/ignoring() or aggregate first`);
          }
        }
        if (groupKind === 'GroupLeft') requireLabels(extra, rhs, `${where} group_left()`);
        if (groupKind === 'GroupRight') requireLabels(extra, lhs, `${where} group_right()`);
        if (SET_OPS.has(op)) return op === 'Or' ? new Set([...lhs, ...rhs]) : lhs;
        const isBool = parts.some((p) => p.name === 'BoolModifier');
        if (groupKind === 'GroupLeft') return new Set([...lhs, ...extra]);
        if (groupKind === 'GroupRight') return new Set([...rhs, ...extra]);
        if (COMPARISONS.has(op) && !isBool) return lhs;
        if (kind === 'On') return new Set(matchOn);
        if (kind === 'Ignoring') return new Set([...lhs].filter((l) => !matchOn.includes(l)));
        return lhs;
      }
      default:
        problems.push(`unsupported expression node ${n.name} in ${JSON.stringify(text(n).slice(0, 40))}`);
        return null;
    }
  };

  const labels = visit(tree.topNode);
  return { labels, selectors, problems };
}

/**
 * Grafana placeholders as a query sent to Prometheus would carry them: `$__rate_interval` and
 * friends become durations, template variables inside a matcher become `.*` (the "All" value).
 */
export function expandGrafanaVariables(expr: string, values: Record<string, string> = {}): string {
  return expr
    .replace(/\$__rate_interval|\$\{__rate_interval\}/g, values.__rate_interval ?? '1m')
    .replace(/\$__interval|\$\{__interval\}/g, values.__interval ?? '1m')
    .replace(/\$__range|\$\{__range\}/g, values.__range ?? '1h')
    .replace(/\$\{?([a-zA-Z_][a-zA-Z0-9_]*)\}?/g, (_m, v: string) => values[v] ?? '.*');
}

/** `label_values(metric{…}, label)`, the Grafana variable query form, as selector and label. */
export function parseLabelValuesQuery(q: string): { selector: string; label: string } | undefined {
  const m = /^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$/.exec(q.trim());
  return m ? { selector: m[1], label: m[2] } : undefined;
}

/** Throws one error listing every problem; the generator calls it so a bad expression never ships. */
export function assertValid(what: string, expr: string, universe: MetricUniverse): Analysis {
  const a = analyze(expr, universe);
  if (a.problems.length) throw new Error(`${what}: ${a.problems.join('; ')}\n  in: ${expr}`);
  return a;
}
