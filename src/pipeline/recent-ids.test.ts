// RecentIds: the duplicate filter's hashed id memory, checked against a plain model (a Map in arrival order).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hashId, RecentIds } from './recent-ids.js';

/** What RecentIds promises, written the obvious way: ids in arrival order, oldest first out. */
class Model {
  private readonly order: { id: string; at: number; live: boolean }[] = [];
  private readonly held = new Map<string, { id: string; at: number; live: boolean }>();
  constructor(private readonly cap: number) {}
  has(id: string): boolean {
    return this.held.has(id);
  }
  add(id: string, at: number): boolean {
    if (this.held.has(id)) return false;
    if (this.order.length === this.cap) this.drop();
    const e = { id, at, live: true };
    this.order.push(e);
    this.held.set(id, e);
    return true;
  }
  delete(id: string): boolean {
    const e = this.held.get(id);
    if (!e) return false;
    e.live = false;
    this.held.delete(id);
    return true;
  }
  expire(cutoff: number): void {
    while (this.order.length > 0 && this.order[0].at < cutoff) this.drop();
  }
  private drop(): void {
    const e = this.order.shift()!;
    if (e.live) this.held.delete(e.id);
  }
  get size(): number {
    return this.held.size;
  }
}

type Op = { k: 'add'; id: string; at: number } | { k: 'delete'; id: string } | { k: 'expire'; at: number } | { k: 'has'; id: string };

describe('RecentIds', () => {
  it('behaves as the model under random adds, deletes, expiries and lookups (small capacities, so the ring wraps and probe runs collide)', () => {
    // ids from a small alphabet so the same ids come back; a tiny table so deletions shift entries
    const id = fc.stringMatching(/^[a-e]{1,3}$/);
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ k: fc.constant('add' as const), id, at: fc.integer({ min: 0, max: 100 }) }),
      fc.record({ k: fc.constant('delete' as const), id }),
      fc.record({ k: fc.constant('expire' as const), at: fc.integer({ min: 0, max: 100 }) }),
      fc.record({ k: fc.constant('has' as const), id }),
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.array(op, { maxLength: 300 }), (cap, ops) => {
        const r = new RecentIds(cap);
        const m = new Model(cap);
        let t = 0;
        for (const o of ops) {
          if (o.k === 'add') {
            t = Math.max(t, o.at); // arrival times only grow, as the pipeline's clock does
            expect(r.add(o.id, t)).toBe(m.add(o.id, t));
          } else if (o.k === 'delete') expect(r.delete(o.id)).toBe(m.delete(o.id));
          else if (o.k === 'expire') {
            r.expire(o.at);
            m.expire(o.at);
          } else expect(r.has(o.id)).toBe(m.has(o.id));
          expect(r.size).toBe(m.size);
        }
        for (const x of ['a', 'b', 'c', 'd', 'e', 'aa', 'ab', 'abc', 'eee']) expect(r.has(x)).toBe(m.has(x));
      }),
      { numRuns: 500 },
    );
  });

  it('stays bounded over many ids and remembers exactly the newest', () => {
    const r = new RecentIds(1000);
    let added = 0;
    for (let i = 0; i < 100_000; i++) if (r.add(`k${i}`, i)) added++;
    expect(added).toBe(100_000);
    expect(r.size).toBe(1000);
    expect(r.has('k98999')).toBe(false);
    let held = 0;
    for (let i = 99_000; i < 100_000; i++) if (r.has(`k${i}`)) held++;
    expect(held).toBe(1000);
    expect(r.add('k99999', 100_000)).toBe(false);
  });

  it('takes no more memory for long ids than for short ones', () => {
    const short = new RecentIds(10_000);
    const long = new RecentIds(10_000);
    for (let i = 0; i < 20_000; i++) {
      short.add(`${i}`, i);
      long.add(`${'x'.repeat(500)}-${i}`, i);
    }
    expect(long.bytes).toBe(short.bytes);
    expect(short.bytes).toBeLessThan(10_000 * 48);
    // the table (8 bytes a slot) has room for twice the ids, so probes stay short at capacity
    const slots = (short.bytes - 10_000 * (4 + 4 + 8 + 1)) / 8;
    expect(slots).toBeGreaterThanOrEqual(2 * short.size);
    expect(short.size).toBe(10_000);
  });

  it('hashes 200,000 UUIDs with no pair of equal 64-bit hashes, and spreads the first hash evenly', () => {
    const seen = new Set<string>();
    const h = new Int32Array(2);
    const buckets = new Array<number>(64).fill(0);
    for (let i = 0; i < 200_000; i++) {
      hashId(crypto.randomUUID(), h);
      seen.add(`${h[0]}:${h[1]}`);
      buckets[h[0] & 63]++;
    }
    expect(seen.size).toBe(200_000);
    // 3,125 expected per bucket; a fair hash stays well within ±10% (about 5.6 standard deviations)
    for (const b of buckets) expect(Math.abs(b - 3125)).toBeLessThan(312);
  });

  it('tells apart ids that differ in one character anywhere, and ids that are prefixes of each other', () => {
    const r = new RecentIds(100_000);
    const base = 'run-0001-stage-build-task-compile';
    expect(r.add(base, 0)).toBe(true);
    for (let i = 0; i < base.length; i++) {
      const v = base.slice(0, i) + String.fromCharCode(base.charCodeAt(i) + 1) + base.slice(i + 1);
      expect(r.add(v, 0)).toBe(true);
      expect(r.add(base.slice(0, i), 0)).toBe(true);
    }
    expect(r.has(base)).toBe(true);
  });
});
