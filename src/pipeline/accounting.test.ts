// RecentKeys: the bounded, ordered memory behind duplicate-id and out-of-order detection.
import { describe, expect, it } from 'vitest';
import { RecentKeys } from './accounting.js';

describe('RecentKeys', () => {
  it('forgets the oldest keys past its capacity', () => {
    const r = new RecentKeys<number>(3);
    for (const [i, k] of ['a', 'b', 'c', 'd'].entries()) r.set(k, i, i);
    expect([r.has('a'), r.has('b'), r.has('d')]).toEqual([false, true, true]);
    expect(r.size).toBe(3);
    expect(r.get('d')).toBe(3);
  });

  it('expires keys older than a cutoff, oldest first', () => {
    const r = new RecentKeys<true>(10);
    r.set('a', true, 100);
    r.set('b', true, 200);
    r.set('c', true, 300);
    r.expire(250);
    expect([r.has('a'), r.has('b'), r.has('c')]).toEqual([false, false, true]);
    expect(r.size).toBe(1);
  });

  it('a key deleted and set again is not dropped when its first slot ages out', () => {
    const r = new RecentKeys<number>(3);
    r.set('a', 1, 0);
    r.delete('a');
    r.set('b', 2, 1);
    r.set('a', 3, 2);
    // the ring is full: the next set evicts the first slot, which held the old 'a'
    r.set('c', 4, 3);
    expect(r.get('a')).toBe(3);
    expect(r.has('b')).toBe(true);
    r.set('d', 5, 4); // evicts b
    expect([r.has('b'), r.has('a'), r.has('c'), r.has('d')]).toEqual([false, true, true, true]);
  });

  it('stays bounded over many keys', () => {
    const r = new RecentKeys<true>(1000);
    for (let i = 0; i < 100_000; i++) r.set(`k${i}`, true, i);
    expect(r.size).toBe(1000);
    expect(r.has('k98999')).toBe(false);
    expect(r.has('k99000')).toBe(true);
  });
});
