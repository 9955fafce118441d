// Unit tests of the history ring: bounds, paging with the before cursor, replay and resume.
import { describe, expect, test } from 'vitest';
import type { WorkflowEvent } from '../../events/schema.js';
import { compileFilter, MATCH_ALL } from './filter.js';
import { History } from './history.js';

const e = (i: number, type = i % 2 === 0 ? 'task.completed' : 'task.started'): WorkflowEvent =>
  ({ id: `e${i}`, type, time: '2026-01-01T00:00:00.000Z', source: 's', priority: 'normal' }) as WorkflowEvent;

function filled(capacity: number, n: number): History {
  const h = new History(capacity);
  for (let i = 1; i <= n; i++) h.push(e(i), 'test', i);
  return h;
}
const ids = (list: { event: WorkflowEvent }[]) => list.map((x) => x.event.id);

describe('History', () => {
  test('keeps the newest `capacity` events', () => {
    const h = filled(5, 12);
    expect(h.size).toBe(5);
    expect(h.oldestSeq).toBe(8);
    expect(h.newestSeq).toBe(12);
    expect(ids(h.select(MATCH_ALL))).toEqual(['e8', 'e9', 'e10', 'e11', 'e12']);
    expect(h.at(7)).toBeUndefined();
    expect(h.at(9)!.event.id).toBe('e9');
  });

  test('an empty ring answers every query with nothing', () => {
    const h = new History(10);
    expect(h.page(MATCH_ALL, 10)).toEqual([]);
    expect(h.select(MATCH_ALL)).toEqual([]);
    expect(h.replay(MATCH_ALL, 10, 'x')).toEqual({ entries: [], resumed: false });
    expect(h.at(0)).toBeUndefined();
  });

  test('capacity 0 keeps nothing', () => {
    const h = filled(0, 3);
    expect(h.size).toBe(0);
    expect(ids(h.select(MATCH_ALL))).toEqual([]);
    expect(h.replay(MATCH_ALL, 10).entries).toEqual([]);
    expect(h.page(MATCH_ALL, 10)).toEqual([]);
  });

  test('pages newest first with a before cursor, filtered', () => {
    const h = filled(100, 20);
    const even = compileFilter({ types: ['task.completed'] });
    const p1 = h.page(even, 3);
    expect(ids(p1)).toEqual(['e20', 'e18', 'e16']);
    const p2 = h.page(even, 3, p1[2].seq);
    expect(ids(p2)).toEqual(['e14', 'e12', 'e10']);
    expect(ids(h.page(even, 100, p2[2].seq))).toEqual(['e8', 'e6', 'e4', 'e2']);
  });

  test('replays the last n matching, oldest first; resumes after a known id only', () => {
    const h = filled(10, 30);
    expect(ids(h.replay(MATCH_ALL, 3).entries)).toEqual(['e28', 'e29', 'e30']);
    const r = h.replay(MATCH_ALL, 100, 'e26');
    expect(r.resumed).toBe(true);
    expect(ids(r.entries)).toEqual(['e27', 'e28', 'e29', 'e30']);
    expect(h.replay(MATCH_ALL, 100, 'e30')).toEqual({ entries: [], resumed: true });
    // an id the ring no longer holds: the last n, or nothing when only a resume is wanted
    expect(ids(h.replay(MATCH_ALL, 2, 'e5').entries)).toEqual(['e29', 'e30']);
    expect(h.replay(MATCH_ALL, 2, 'e5', true)).toEqual({ entries: [], resumed: false });
  });
});

describe('entries prepared on first read', () => {
  test('a resume by id scans the ring without preparing the entries it passes', () => {
    let prepared = 0;
    const h = new History(100, (e) => {
      prepared++;
      return { ...e };
    });
    for (let i = 1; i <= 50; i++) h.push({ id: `e${i}`, type: 'task.started', time: '2026-01-01T00:00:00.000Z' } as WorkflowEvent, 'test', i);
    const { entries, resumed } = h.replay((x) => x.event.type === 'task.started', 100, 'e45');
    expect(resumed).toBe(true);
    expect(entries.map((e) => e.id)).toEqual(['e46', 'e47', 'e48', 'e49', 'e50']);
    expect(prepared).toBe(5); // only the five after e45, which the filter read
  });
});
