// The bench harness reads its own results: the committed results file parses, BENCHMARKS.md holds
// exactly what the harness renders from it, and the harness's figures and workload are what they claim.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ndjsonTemplate, eventStrings, logLine, logLines, runEvents, seriesSpread } from '../bench/lib/events.js';
import { judge, MD_BEGIN, MD_END, parseResults, readResults, renderMarkdown, spliceMarkdown } from '../bench/lib/results.js';
import { percentile, ratios, stat, statJson } from '../bench/lib/stats.js';
import { validateCanonical } from '../src/events/compiled.js';

const LATEST = new URL('../bench/results/latest.json', import.meta.url);
const MD = new URL('../BENCHMARKS.md', import.meta.url);

describe('bench results file', () => {
  it('parses with the harness schema and names the machine', () => {
    const r = readResults(LATEST.pathname);
    expect(r.schema).toBe(1);
    expect(r.machine.cpus).toBeGreaterThan(0);
    expect(r.machine.node).toMatch(/^v\d+\./);
    expect(r.scenarios.length).toBeGreaterThan(0);
    for (const t of r.targets) expect(t.pass).toBe(judge(t.value, t.comparison, t.threshold));
  });

  it('is what BENCHMARKS.md shows, between the harness markers', () => {
    const doc = readFileSync(MD, 'utf8');
    const block = renderMarkdown(readResults(LATEST.pathname));
    expect(doc).toContain(`${MD_BEGIN}\n${block}\n${MD_END}`);
    // writing the same results again changes nothing
    expect(spliceMarkdown(doc, block)).toBe(doc);
  });

  it('rejects a file that is not a results file, naming the field', () => {
    const r = JSON.parse(readFileSync(LATEST, 'utf8'));
    delete r.machine.cpus;
    expect(() => parseResults(JSON.stringify(r))).toThrow(/cpus/);
    expect(() => parseResults('{"schema":2}')).toThrow();
  });

  it('renders a target row with its figure, threshold and verdict', () => {
    const r = parseResults(
      JSON.stringify({
        schema: 1,
        generatedAt: '2026-11-20T10:00:00.000Z',
        mode: 'full',
        machine: { cpus: 2, cpuModel: 'Test CPU', node: 'v20.0.0', platform: 'linux', memGiB: 4, loadAvgStart: [0.5, 0.4, 0.3], loadAvgEnd: [1, 1, 1] },
        versions: { zod: '4' },
        scenarios: [{ id: 's', title: 'S', setup: 'Setup.', runs: 3, subjects: [{ id: 'a', label: 'A', eventsPerSec: statJson([100, 300, 200]) }], ratios: [], notes: ['a note'] }],
        targets: [{ id: 't', description: 'T ≥ 1.5×', value: 1.2, threshold: 1.5, comparison: '>=', unit: '×', pass: false, detail: 'why' }],
        errors: [],
      }),
    );
    const md = renderMarkdown(r);
    expect(md).toContain('2 × Test CPU, 4 GiB, Node v20.0.0');
    expect(md).toContain('| T ≥ 1.5× | 1.20 × | >= 1.5 × | **MISS** | why |');
    expect(md).toContain('| A | 200 (100–300) |');
    expect(md).toContain('- a note');
  });
});

describe('bench results from a partial run', () => {
  it('names the partial run and dates each scenario and target', () => {
    const base = JSON.parse(readFileSync(LATEST, 'utf8'));
    const s0 = { id: 'a', title: 'A', setup: 'Setup.', runs: 3, subjects: [{ id: 'x', label: 'X', eventsPerSec: statJson([1, 2, 3]) }], ratios: [], notes: [] };
    const r = parseResults(
      JSON.stringify({
        ...base,
        generatedAt: '2026-11-21T10:00:00.000Z',
        partial: ['a'],
        scenarios: [{ ...s0, ranAt: '2026-11-21T10:00:00.000Z' }, { ...s0, id: 'b', title: 'B', ranAt: '2026-11-20T09:00:00.000Z' }],
        targets: [{ id: 't', description: 'T', value: 2, threshold: 1, comparison: '>=', unit: '×', pass: true, detail: 'why', ranAt: '2026-11-20T09:00:00.000Z' }],
      }),
    );
    const md = renderMarkdown(r);
    expect(md).toContain('Partial run 2026-11-21T10:00:00.000Z (full mode) of a; the other scenarios are from earlier runs');
    expect(md).toContain('Setup. 3 measured runs. Measured 2026-11-21T10:00:00.000Z.');
    expect(md).toContain('Setup. 3 measured runs. Measured 2026-11-20T09:00:00.000Z.');
    expect(md).toContain('| T | 2.00 × | >= 1 × | **pass** | why (measured 2026-11-20T09:00:00.000Z) |');
  });
});

describe('bench statistics', () => {
  it('median, min, max and per-run ratios', () => {
    expect(stat([3, 1, 2])).toEqual({ median: 2, min: 1, max: 3, values: [3, 1, 2] });
    expect(stat([4, 1, 2, 3]).median).toBe(2.5);
    expect(stat([NaN, 5]).median).toBe(5);
    expect(ratios([10, 20, 30], [5, 5, 10]).values).toEqual([2, 4, 3]);
    expect(statJson([NaN]).median).toBeNull();
  });
  it('percentiles by rank', () => {
    const s = Float64Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(s, 50)).toBe(50);
    expect(percentile(s, 99)).toBe(99);
    expect(percentile(s, 100)).toBe(100);
  });
});

describe('bench workload', () => {
  it('renders bodies of valid canonical events with fresh ids per body', () => {
    const t = ndjsonTemplate(100, '2026-11-20T10:00:00.000Z');
    const ids = new Set<string>();
    for (const seq of [1, 2]) {
      const lines = t.render(seq).split('\n');
      expect(lines).toHaveLength(100);
      for (const l of lines) {
        const r = validateCanonical(JSON.parse(l));
        expect(r.success).toBe(true);
        ids.add(r.data!.id);
      }
    }
    expect(ids.size).toBe(200); // a body repeating ids would be dropped as duplicates, and measure nothing
  });

  it('stamps every event with sent_ms for the tail', () => {
    const body = ndjsonTemplate(40, '2026-11-20T10:00:00.000Z', true).render(7);
    expect(body.match(/"sent_ms":0/g)).toHaveLength(40);
    for (const l of body.split('\n')) expect(validateCanonical(JSON.parse(l)).success).toBe(true);
  });

  it('gives bus publishers and mtail the same events', () => {
    const events = eventStrings(25, '2026-11-20T10:00:00.000Z').map((s) => JSON.parse(s));
    expect(new Set(events.map((e) => e.id)).size).toBe(25);
    const lines = logLines(25, '2026-11-20T10:00:00.000Z');
    expect(lines[5]).toBe(logLine(events[5]));
    expect(lines[5]).toBe('2026-11-20T10:00:00.000Z id=wf-0-0-5 type=task.completed source=orchestrator workflow_type=feature-dev workflow_id=wf-0-0 agent=coder stage=coding duration_ms=1840 priority=normal');
    expect(runEvents(0, 'x').map((e) => e.type)[9]).toBe('workflow.completed');
  });

  it('spreads series over workflow types, stages and agents', () => {
    const spread = seriesSpread(2, 3, 4, '2026-11-20T10:00:00.000Z').map((s) => JSON.parse(s));
    expect(spread).toHaveLength(2 * 3 * 2 + 4 * 2);
    expect(new Set(spread.map((e) => e.agent).filter(Boolean)).size).toBe(4);
    for (const e of spread) expect(validateCanonical(e).success).toBe(true);
  });
});
