// Unit tests of tail filters: globs, ANDed fields, query parsing and validation messages.
import { describe, expect, test } from 'vitest';
import type { WorkflowEvent } from '../../events/schema.js';
import { compileFilter, FilterError, filterFromQuery, globMatch, parseFilter, type TailFilter } from './filter.js';
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

describe('parseFilter and filterFromQuery', () => {
  test('errors name the field', () => {
    expect(() => parseFilter({ types: 'task.*' })).toThrow(FilterError);
    expect(() => parseFilter({ types: 'task.*' })).toThrow(/^filter\.types: /);
    expect(() => parseFilter({ priorities: ['urgent'] })).toThrow(/^filter\.priorities\.0: /);
    expect(() => parseFilter({ colour: 'red' })).toThrow(/colour/);
    expect(() => parseFilter({ types: Array.from({ length: 65 }, (_, i) => `t${i}`) })).toThrow(/^filter\.types: /);
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
