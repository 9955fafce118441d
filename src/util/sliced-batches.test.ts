import { describe, expect, it } from 'vitest';
import { busy, turnCounter } from '../../test/helpers/turns.js';
import { SLICE_MS, SlicedBatches } from './sliced-batches.js';

describe('SlicedBatches', () => {
  it('gathers what is pushed in one turn into batches of at most max, in order', async () => {
    const seen: number[][] = [];
    const b = new SlicedBatches<number>(4, async (batch) => void seen.push(batch), (err) => expect.fail(String(err)));
    for (let i = 0; i < 10; i++) b.push(i);
    await b.drain();
    expect(seen).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
  });

  it('with waitMs, gathers items of several turns into one batch, and flushes early once max is reached', async () => {
    const seen: number[][] = [];
    const b = new SlicedBatches<number>(5, async (batch) => void seen.push(batch), (err) => expect.fail(String(err)), 40);
    b.push(0);
    await new Promise((r) => setTimeout(r, 5));
    b.push(1);
    await new Promise((r) => setImmediate(r));
    b.push(2);
    // three turns later nothing has gone yet: the batch waits for more
    await new Promise((r) => setTimeout(r, 5));
    expect(seen).toEqual([]);
    await new Promise((r) => setTimeout(r, 60));
    expect(seen).toEqual([[0, 1, 2]]);
    // a full batch does not wait
    for (let i = 3; i < 8; i++) b.push(i);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(seen).toEqual([[0, 1, 2], [3, 4, 5, 6, 7]]);
    // drain takes what waits at once
    b.push(8);
    await b.drain();
    expect(seen).toEqual([[0, 1, 2], [3, 4, 5, 6, 7], [8]]);
  });

  it('runs one batch at a time, the next only after the last one settled', async () => {
    let inRun = 0;
    let most = 0;
    const order: number[] = [];
    const b = new SlicedBatches<number>(
      2,
      async (batch) => {
        most = Math.max(most, ++inRun);
        await new Promise((r) => setTimeout(r, 2));
        order.push(...batch);
        inRun--;
      },
      () => {},
    );
    for (let i = 0; i < 9; i++) b.push(i);
    await b.drain();
    expect(most).toBe(1);
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('keeps fast batches in one turn and gives the loop a turn once a slice is used up', async () => {
    const counter = turnCounter();
    try {
      const fast: number[] = [];
      const f = new SlicedBatches<number>(1, async () => void fast.push(counter.turn), () => {});
      for (let i = 0; i < 20; i++) f.push(i);
      await f.drain();
      // twenty batches that take no time run back to back in the turn they started in (two turns
      // at most, should the machine stall for a whole slice in between)
      expect(new Set(fast).size).toBeLessThanOrEqual(2);

      const slow: number[] = [];
      const s = new SlicedBatches<number>(
        1,
        async () => {
          slow.push(counter.turn);
          busy(SLICE_MS + 2);
        },
        () => {},
      );
      for (let i = 0; i < 5; i++) s.push(i);
      await s.drain();
      // each batch uses a whole slice: every one starts on a turn of its own
      expect(slow.every((t, i) => i === 0 || t > slow[i - 1])).toBe(true);
    } finally {
      counter.stop();
    }
  });

  it('hands a failed batch, thrown or rejected, to onError and goes on with the next', async () => {
    const errors: string[] = [];
    const done: number[] = [];
    const b = new SlicedBatches<number>(
      1,
      (batch) => {
        if (batch[0] === 1) throw new Error('thrown');
        if (batch[0] === 2) return Promise.reject(new Error('rejected'));
        done.push(batch[0]);
        return Promise.resolve();
      },
      (err) => errors.push((err as Error).message),
    );
    for (let i = 0; i < 4; i++) b.push(i);
    await b.drain();
    expect(errors).toEqual(['thrown', 'rejected']);
    expect(done).toEqual([0, 3]);
  });

  it('lists what is not done yet, and resolves every drain once all is done', async () => {
    let release!: () => void;
    const b = new SlicedBatches<string>(2, () => new Promise<void>((r) => (release = r)), () => {});
    for (const x of ['a', 'b', 'c']) b.push(x);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    // a and b are a batch in run; c waits in the buffer
    expect([...b.pending()]).toEqual(['a', 'b', 'c']);
    const drains = [b.drain(), b.drain()];
    release();
    await new Promise((r) => setImmediate(r));
    release(); // the batch holding c
    await Promise.all(drains);
    expect([...b.pending()]).toEqual([]);
    await b.drain(); // nothing in flight: resolves at once
  });
});
