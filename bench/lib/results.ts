// The results file (bench/results/latest.json): its schema, reading it back, and the Markdown tables
// written into BENCHMARKS.md. One schema serves the harness, the unit test and the report.
import { readFileSync } from 'node:fs';
import { z } from 'zod';

const num = z.number().nullable(); // null where a figure could not be measured (NaN in JSON is null)
export const statSchema = z.object({ median: num, min: num, max: num, values: z.array(num) });

export const subjectSchema = z.object({
  id: z.string().min(1),
  label: z.string().min(1),
  eventsPerSec: statSchema.optional(),
  eventsPerCpuSec: statSchema.optional(),
  latencyP50Ms: statSchema.optional(),
  latencyP99Ms: statSchema.optional(),
  rssMiB: statSchema.optional(),
  lagP99Ms: statSchema.optional(),
  lagMaxMs: statSchema.optional(),
  /** anything else the scenario measured, named */
  extra: z.record(z.string(), statSchema).optional(),
});

export const ratioSchema = z.object({
  name: z.string().min(1),
  metric: z.string().min(1),
  of: z.string().min(1),
  to: z.string().min(1),
  value: statSchema,
});

export const scenarioSchema = z.object({
  id: z.string().min(1),
  title: z.string().min(1),
  setup: z.string(),
  runs: z.number().int().min(1),
  subjects: z.array(subjectSchema).min(1),
  ratios: z.array(ratioSchema),
  notes: z.array(z.string()),
  /** when this scenario was measured: a partial run (--only) keeps the others' own times */
  ranAt: z.string().min(1).optional(),
});

export const targetSchema = z.object({
  id: z.string().min(1),
  description: z.string().min(1),
  /** the figure compared, e.g. a median ratio */
  value: num,
  threshold: z.number(),
  comparison: z.enum(['>=', '<=', '<']),
  unit: z.string(),
  pass: z.boolean().nullable(),
  detail: z.string(),
  /** when its scenario was measured (see scenarioSchema.ranAt) */
  ranAt: z.string().min(1).optional(),
});

export const resultsSchema = z.object({
  schema: z.literal(1),
  generatedAt: z.string().min(1),
  mode: z.enum(['quick', 'full']),
  machine: z.object({
    cpus: z.number().int().min(1),
    cpuModel: z.string(),
    node: z.string(),
    platform: z.string(),
    memGiB: z.number(),
    loadAvgStart: z.array(z.number()),
    loadAvgEnd: z.array(z.number()),
  }),
  versions: z.record(z.string(), z.string()),
  scenarios: z.array(scenarioSchema),
  targets: z.array(targetSchema),
  errors: z.array(z.string()),
  /** the scenarios the last write measured, when it was a partial run (--only) */
  partial: z.array(z.string()).optional(),
});

export type StatJson = z.infer<typeof statSchema>;
export type SubjectResult = z.infer<typeof subjectSchema>;
export type ScenarioResult = z.infer<typeof scenarioSchema>;
export type TargetResult = z.infer<typeof targetSchema>;
export type Results = z.infer<typeof resultsSchema>;

export function parseResults(text: string): Results {
  return resultsSchema.parse(JSON.parse(text));
}

export function readResults(path: string): Results {
  return parseResults(readFileSync(path, 'utf8'));
}

export function judge(value: number | null, comparison: TargetResult['comparison'], threshold: number): boolean | null {
  if (value === null || !Number.isFinite(value)) return null;
  if (comparison === '>=') return value >= threshold;
  if (comparison === '<=') return value <= threshold;
  return value < threshold;
}

function fmt(v: number | null | undefined, unit = ''): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return 'n/a';
  const a = Math.abs(v);
  const s = a >= 1000 ? Math.round(v).toLocaleString('en-US') : a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2);
  return unit ? `${s} ${unit}` : s;
}

function cell(s: StatJson | undefined, unit = ''): string {
  if (!s || s.median === null) return '—';
  if (s.values.length <= 1) return fmt(s.median, unit);
  return `${fmt(s.median, unit)} (${fmt(s.min)}–${fmt(s.max)})`;
}

/** The Markdown block the harness writes into BENCHMARKS.md between its markers. */
export function renderMarkdown(r: Results): string {
  const m = r.machine;
  const out: string[] = [];
  const what = r.partial ? `Partial run ${r.generatedAt} (${r.mode} mode) of ${r.partial.join(', ')}; the other scenarios are from earlier runs, each dated below,` : `Run ${r.generatedAt} (${r.mode} mode)`;
  out.push(`${what} on ${m.cpus} × ${m.cpuModel}, ${m.memGiB} GiB, Node ${m.node}, ${m.platform}; ` +
    `load average ${m.loadAvgStart.map((v) => v.toFixed(2)).join(' ')} at start, ${m.loadAvgEnd.map((v) => v.toFixed(2)).join(' ')} at end.`);
  out.push(`Versions: ${Object.entries(r.versions).map(([k, v]) => `${k} ${v}`).join(', ')}.`);
  out.push('Figures are median (min–max) over the measured runs; ratios are taken run by run against the reference measured in the same round.');
  out.push('');
  out.push('### Targets');
  out.push('');
  out.push('| target | figure | threshold | result | detail |');
  out.push('|---|---|---|---|---|');
  for (const t of r.targets) {
    const res = t.pass === null ? 'not measured' : t.pass ? '**pass**' : '**MISS**';
    const when = t.ranAt ? ` (measured ${t.ranAt})` : '';
    out.push(`| ${t.description} | ${fmt(t.value, t.unit)} | ${t.comparison} ${t.threshold} ${t.unit} | ${res} | ${t.detail}${when} |`);
  }
  for (const s of r.scenarios) {
    out.push('');
    out.push(`### ${s.title}`);
    out.push('');
    out.push(`${s.setup} ${s.runs} measured run${s.runs > 1 ? 's' : ''}.${s.ranAt ? ` Measured ${s.ranAt}.` : ''}`);
    out.push('');
    const extras = [...new Set(s.subjects.flatMap((x) => Object.keys(x.extra ?? {})))];
    out.push(`| subject | events/s | events/CPU-s | p50 ms | p99 ms | RSS MiB | loop lag p99 ms | loop lag max ms |${extras.map((e) => ` ${e} |`).join('')}`);
    out.push(`|---|---|---|---|---|---|---|---|${extras.map(() => '---|').join('')}`);
    for (const x of s.subjects) {
      out.push(
        `| ${x.label} | ${cell(x.eventsPerSec)} | ${cell(x.eventsPerCpuSec)} | ${cell(x.latencyP50Ms)} | ${cell(x.latencyP99Ms)} | ${cell(x.rssMiB)} | ${cell(x.lagP99Ms)} | ${cell(x.lagMaxMs)} |` +
          extras.map((e) => ` ${cell(x.extra?.[e])} |`).join(''),
      );
    }
    if (s.ratios.length > 0) {
      out.push('');
      for (const q of s.ratios) out.push(`- ${q.name}: **${fmt(q.value.median)}×** (${fmt(q.value.min)}–${fmt(q.value.max)}) — ${q.metric} of ${q.of} / ${q.to}`);
    }
    for (const n of s.notes) out.push(`- ${n}`);
  }
  if (r.errors.length > 0) {
    out.push('');
    out.push('### Errors during the run');
    out.push('');
    for (const e of r.errors) out.push(`- ${e}`);
  }
  return out.join('\n');
}

export const MD_BEGIN = '<!-- bench:results:begin (written by npm run bench; edit outside these markers) -->';
export const MD_END = '<!-- bench:results:end -->';

/** Replaces the generated block in BENCHMARKS.md text (or appends it when the markers are missing). */
export function spliceMarkdown(doc: string, block: string): string {
  const a = doc.indexOf(MD_BEGIN);
  const b = doc.indexOf(MD_END);
  const generated = `${MD_BEGIN}\n${block}\n${MD_END}`;
  if (a < 0 || b < a) return `${doc.trimEnd()}\n\n${generated}\n`;
  return doc.slice(0, a) + generated + doc.slice(b + MD_END.length);
}
