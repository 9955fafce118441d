// Unit tests of the history ring: bounds, paging with the before cursor, replay and resume.
import { describe, expect, test } from 'vitest';
import type { WorkflowEvent } from '../../events/schema.js';
import { compileFilter, MATCH_ALL } from './filter.js';
import { History } from './history.js';
import { busy, turnCounter } from '../../../test/helpers/turns.js';

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
    expect(h.replay(MATCH_ALL, 10, 'x')).toEqual({ entries: [], resumed: false, scanned: 0 });
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
    expect(h.replay(MATCH_ALL, 100, 'e30')).toEqual({ entries: [], resumed: true, scanned: 0 });
    // an id the ring no longer holds: the last n, or nothing when only a resume is wanted
    expect(ids(h.replay(MATCH_ALL, 2, 'e5').entries)).toEqual(['e29', 'e30']);
    expect(h.replay(MATCH_ALL, 2, 'e5', true)).toEqual({ entries: [], resumed: false, scanned: 0 });
  });
});

describe('a query bounded in work', () => {
  test('looks at most maxScan entries and says where to go on from; the pages together are the whole answer', async () => {
    const h = filled(1000, 1000);
    const rare = compileFilter({ types: ['task.completed'] });
    let looked = 0;
    const counted = (x: Parameters<typeof rare>[0]) => (looked++, rare(x));
    // every second entry matches: 100 asked, a budget of 150 finds 75
    const p1 = await h.query(counted, 100, Infinity, { maxScan: 150 });
    expect(looked).toBe(150);
    expect(p1.scanned).toBe(150);
    expect(p1.entries).toHaveLength(75);
    expect(p1.entries[0].event.id).toBe('e1000');
    expect(p1.nextBefore).toBe(851);
    const p2 = await h.query(rare, 100, p1.nextBefore!, { maxScan: 150 });
    expect(p2.entries[0].event.id).toBe('e850');
    // a full page: next_before is its last entry, as without a budget
    const full = await h.query(rare, 10, Infinity, { maxScan: 10_000 });
    expect(full.nextBefore).toBe(full.entries[9].seq);
    expect(full.scanned).toBe(19);
    // paged to the end: every match once, then null
    const all: string[] = [];
    let before: number | null = Infinity;
    for (let i = 0; i < 100 && before !== null; i++) {
      const p = await h.query(rare, 40, before, { maxScan: 150 });
      all.push(...ids(p.entries));
      before = p.nextBefore;
    }
    expect(before).toBeNull();
    expect(all).toEqual(Array.from({ length: 500 }, (_, i) => `e${1000 - 2 * i}`));
  });

  test('gives the event loop a turn while a costly filter runs, and reads the ring again after', async () => {
    const h = filled(100, 100);
    const turns = turnCounter();
    const before = turns.turn;
    let pushed = false;
    // 1 ms per entry: the clock is read every 16 entries, so each run of 16 ends a 10 ms slice
    const slow = (x: Parameters<typeof MATCH_ALL>[0]) => {
      busy(1);
      if (!pushed) {
        pushed = true;
        // while the query waits for its next slice, 50 new events push e1..e50 out of the ring
        setImmediate(() => {
          for (let i = 101; i <= 150; i++) h.push(e(i), 'test', i);
        });
      }
      return Number(x.event.id.slice(1)) % 2 === 0;
    };
    const p = await h.query(slow, 100, Infinity, { sliceMs: 10 });
    turns.stop();
    expect(turns.turn - before).toBeGreaterThanOrEqual(2);
    // what it had scanned before the ring moved plus what is still held down to the new oldest
    expect(h.oldestSeq).toBe(51);
    expect(p.scanned).toBe(50);
    expect(ids(p.entries)).toEqual(Array.from({ length: 25 }, (_, i) => `e${100 - 2 * i}`));
    expect(p.nextBefore).toBeNull();
  });

  test('a replay looks at most maxScan entries', () => {
    const h = filled(1000, 1000);
    let looked = 0;
    const r = h.replay((x) => (looked++, x.event.type === 'task.completed'), 1000, undefined, false, 100);
    expect(looked).toBe(100);
    expect(r.scanned).toBe(100);
    expect(ids(r.entries)).toEqual(Array.from({ length: 50 }, (_, i) => `e${902 + 2 * i}`));
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
