// Unit tests of tail filters: globs, ANDed fields, query parsing and validation messages.
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { WorkflowEvent } from '../../events/schema.js';
import { compileFilter, FilterError, filterFromQuery, Glob, globMatch, MAX_GLOB_LENGTH, MAX_GLOBS, parseFilter, type MatchMeter, type TailFilter } from './filter.js';
import { TailEntry } from './history.js';

const ev = (e: Partial<WorkflowEvent> & { id: string; type: string }): TailEntry =>
  new TailEntry(1, { time: '2026-01-01T00:00:00.000Z', source: 'orchestrator', priority: 'normal', ...e } as WorkflowEvent, 'test', 0);

const events = [
  ev({ id: 'a', type: 'task.completed', agent: 'coder', workflow: { id: 'wf-1', type: 'feature-dev' } }),
  ev({ id: 'b', type: 'task.failed', agent: 'Reviewer', workflow: { id: 'wf-2', type: 'bug-fix' }, priority: 'high' }),
  ev({ id: 'c', type: 'workflow.failed', source: 'scheduler', workflow: { id: 'wf-1', type: 'feature-dev' }, attributes: { note: 'Disk FULL' } }),
  ev({ id: 'd', type: 'agent.heartbeat', agent: 'coder', priority: 'low' }),
  ev({ id: 'e', type: 'taskXcompletedY' }),
];
const ids = (f: TailFilter) => events.filter(compileFilter(f)).map((e) => e.event.id);

describe('compileFilter', () => {
  test('globs: * spans any characters, dots are literal, the match is anchored', () => {
    expect(ids({ types: ['task.*'] })).toEqual(['a', 'b']);
    expect(ids({ types: ['*.failed'] })).toEqual(['b', 'c']);
    expect(ids({ types: ['task.*', 'agent.heartbeat'] })).toEqual(['a', 'b', 'd']);
    expect(ids({ types: ['task'] })).toEqual([]);
    expect(ids({ types: ['*'] })).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  test('globMatch: literal characters, stars anywhere, anchored at both ends', () => {
    expect(globMatch('task.*', 'task.completed')).toBe(true);
    expect(globMatch('task.*', 'task.')).toBe(true);
    expect(globMatch('task.*', 'task')).toBe(false);
    expect(globMatch('*.fail*', 'stage.failed')).toBe(true);
    expect(globMatch('a*b*c', 'aXXbYYc')).toBe(true);
    expect(globMatch('a*b*c', 'aXXbYYcZ')).toBe(false);
    expect(globMatch('**', '')).toBe(true);
    expect(globMatch('', 'x')).toBe(false);
    expect(globMatch('a.c', 'abc')).toBe(false); // a dot is a dot
    // a pattern that makes a backtracking regular expression take exponential time
    expect(globMatch(`${'*a'.repeat(40)}*b`, 'a'.repeat(128))).toBe(false);
    expect(ids({ types: [`${'*a'.repeat(40)}*b`] })).toEqual([]);
  });

  test('each field filters, fields AND, empty lists and absent fields constrain nothing', () => {
    expect(ids({})).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(ids({ types: [], agents: [] })).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(ids({ sources: ['scheduler'] })).toEqual(['c']);
    expect(ids({ workflow_types: ['feature-dev'] })).toEqual(['a', 'c']);
    expect(ids({ workflow_id: 'wf-1' })).toEqual(['a', 'c']);
    expect(ids({ workflow_id: ['wf-1', 'wf-2'] })).toEqual(['a', 'b', 'c']);
    expect(ids({ agents: ['coder'] })).toEqual(['a', 'd']);
    expect(ids({ priorities: ['high', 'low'] })).toEqual(['b', 'd']);
    expect(ids({ agents: ['coder'], types: ['task.*'] })).toEqual(['a']);
    expect(ids({ workflow_id: 'wf-1', types: ['*.failed'], sources: ['scheduler'] })).toEqual(['c']);
  });

  test('q is case-insensitive text over the whole event JSON', () => {
    expect(ids({ q: 'disk full' })).toEqual(['c']);
    expect(ids({ q: 'REVIEWER' })).toEqual(['b']);
    expect(ids({ q: '"wf-2"' })).toEqual(['b']);
    expect(ids({ q: 'coder', types: ['agent.*'] })).toEqual(['d']);
  });
});

/** The textbook dynamic programme over (pattern prefix, text prefix): slow, and obviously right. */
function reference(p: string, s: string): boolean {
  let row = Array.from({ length: s.length + 1 }, (_, j) => j === 0);
  for (const c of p) {
    const next = new Array<boolean>(s.length + 1).fill(false);
    next[0] = c === '*' && row[0];
    for (let j = 1; j <= s.length; j++) next[j] = c === '*' ? row[j] || next[j - 1] : row[j - 1] && s[j - 1] === c;
    row = next;
  }
  return row[s.length];
}

describe('Glob: linear-time wildcard matching', () => {
  test('agrees with the reference on random patterns and texts over a small alphabet', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('a', 'b', '.', '*'), maxLength: 12 }), fc.string({ unit: fc.constantFrom('a', 'b', '.'), maxLength: 16 }), (p, s) => {
        expect(new Glob(p).match(s)).toBe(reference(p, s));
      }),
      { numRuns: 5000 },
    );
  });

  // shapes that are slow for a backtracking regular expression (*a*a*a…) or for a greedy
  // two-pointer match, which re-reads the text after a star for a long literal (*aaaa…ab)
  const hostile: [string, string][] = [
    ['*a'.repeat(64), 'a'.repeat(127)],
    [`${'*a'.repeat(63)}*b`, 'a'.repeat(128)],
    [`*${'a'.repeat(64)}b`, 'a'.repeat(128)],
    [`*${'a'.repeat(63)}b*`, 'a'.repeat(128)],
    [`*${'ab'.repeat(31)}c*`, 'ab'.repeat(64)],
    [`*${'a'.repeat(40)}*${'a'.repeat(40)}b*`, 'a'.repeat(128)],
  ];

  test.each(hostile)('at most 2 x (text + pattern) comparisons: %s', (p, s) => {
    const meter: MatchMeter = { steps: 0 };
    expect(new Glob(p).match(s, meter)).toBe(reference(p, s));
    expect(meter.steps).toBeGreaterThan(0);
    expect(meter.steps).toBeLessThanOrEqual(2 * (s.length + p.length));
  });

  test('the work grows linearly with the text: twice the text, at most twice the steps (plus the pattern)', () => {
    const p = `*${'a'.repeat(32)}b`;
    const steps = (n: number) => {
      const meter: MatchMeter = { steps: 0 };
      expect(new Glob(p).match('a'.repeat(n), meter)).toBe(false);
      return meter.steps;
    };
    // a greedy two-pointer match takes about 33 x n here: 4225 comparisons at n = 128
    expect(steps(128)).toBeLessThanOrEqual(2 * 128);
    expect(steps(4096)).toBeLessThanOrEqual(2 * steps(2048) + p.length);
  });

  test('compiles to no regular expression', () => {
    const g = new Glob('task.*');
    expect(Object.values(g).some((v) => v instanceof RegExp)).toBe(false);
  });
});

describe('parseFilter and filterFromQuery', () => {
  test(`limits: at most ${MAX_GLOBS} globs of ${MAX_GLOB_LENGTH} characters, refused with code filter_limit`, () => {
    const tooMany = Array.from({ length: MAX_GLOBS + 1 }, (_, i) => `t${i}.*`);
    expect(() => parseFilter({ types: tooMany })).toThrow(/^filter\.types: Too big: expected array to have <=16 items$/);
    expect(() => parseFilter({ types: ['*'.repeat(MAX_GLOB_LENGTH + 1)] })).toThrow(/^filter\.types\.0: Too big: expected string to have <=128 characters$/);
    for (const f of [{ types: tooMany }, { types: ['a'.repeat(129)] }, { agents: Array.from({ length: 65 }, (_, i) => `a${i}`) }]) {
      try {
        parseFilter(f);
        expect.unreachable();
      } catch (err) {
        expect((err as FilterError).code).toBe('filter_limit');
      }
    }
    expect(parseFilter({ types: tooMany.slice(0, MAX_GLOBS) }).types).toHaveLength(MAX_GLOBS);
    try {
      parseFilter({ types: 'task.*' });
      expect.unreachable();
    } catch (err) {
      expect((err as FilterError).code).toBe('invalid_filter');
    }
  });


  test('errors name the field', () => {
    expect(() => parseFilter({ types: 'task.*' })).toThrow(FilterError);
    expect(() => parseFilter({ types: 'task.*' })).toThrow(/^filter\.types: /);
    expect(() => parseFilter({ priorities: ['urgent'] })).toThrow(/^filter\.priorities\.0: /);
    expect(() => parseFilter({ colour: 'red' })).toThrow(/colour/);
    expect(() => parseFilter({ types: Array.from({ length: 17 }, (_, i) => `t${i}`) })).toThrow(/^filter\.types: /);
    expect(() => parseFilter({ q: 'x'.repeat(257) })).toThrow(/^filter\.q: /);
    expect(() => parseFilter([1])).toThrow(/^filter: /);
  });

  test('query lists are comma-separated or repeated; empty values are dropped', () => {
    expect(filterFromQuery({ types: 'task.*, agent.*', agents: ['coder', 'tester,planner'], workflow_id: 'wf-1', q: 'boom', sources: '' })).toEqual({
      types: ['task.*', 'agent.*'],
      agents: ['coder', 'tester', 'planner'],
      workflow_id: 'wf-1',
      q: 'boom',
    });
    expect(filterFromQuery({ workflow_id: 'a,b' })).toEqual({ workflow_id: ['a', 'b'] });
    expect(() => filterFromQuery({ priorities: 'urgent' })).toThrow(/filter\.priorities\.0/);
  });
});
