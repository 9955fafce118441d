// The ids the duplicate filter remembers, kept as 64-bit hashes in typed arrays rather than as
// strings in a Map: a fixed size per id however long the ids are, nothing for the garbage
// collector to trace or move, and no string kept alive per id (38 bytes per id against 124 for a
// Map of UUID strings, bench/micro/dedupe.ts).

/**
 * Two 32-bit hashes of a string's UTF-16 code units (murmur3-style mixing with different seeds, one
 * pass). Together they identify an id: two different ids agree on both with a probability of about
 * 2^-64 each, so with 200,000 ids held a fresh id is taken for a duplicate about once in 10^14.
 * Written to `out[0]` and `out[1]`.
 */
export function hashId(s: string, out: Int32Array): void {
  let a = 0x9747b28c;
  let b = 0x3c6ef372 ^ s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0xcc9e2d51);
    a = (a << 15) | (a >>> 17);
    b = Math.imul(b ^ c, 0x1b873593);
    b = (b << 13) | (b >>> 19);
    b = Math.imul(b, 5) + 0xe6546b64;
  }
  // finalizers, so that ids differing in their last characters spread over the whole table
  a ^= a >>> 16;
  a = Math.imul(a, 0x85ebca6b);
  a ^= a >>> 13;
  a = Math.imul(a, 0xc2b2ae35);
  a ^= a >>> 16;
  b ^= b >>> 15;
  b = Math.imul(b, 0x2c1b3c6d);
  b ^= b >>> 12;
  b = Math.imul(b, 0x297a2d39);
  b ^= b >>> 15;
  out[0] = a;
  out[1] = b;
}

/**
 * At most `cap` ids in arrival order; the oldest leave first, by count or by age (`expire`).
 *
 * A ring holds each id's two hashes and arrival time by arrival; an open-addressing table (linear
 * probing, at most half full) maps the first hash to the ring position. Deleting shifts the entries
 * behind back into the gap, so lookups never meet tombstones however many ids came and went.
 */
export class RecentIds {
  private readonly mask: number;
  /** per table slot: the ring position + 1 of its id (0 = empty), then the id's first hash, so a probe reads one cache line */
  private readonly table: Int32Array;
  private readonly ringA: Int32Array;
  private readonly ringB: Int32Array;
  private readonly ringTime: Float64Array;
  /** whether the ring position still names an id in the table (forget() leaves its position behind) */
  private readonly live: Uint8Array;
  private readonly h = new Int32Array(2);
  private seq = 0;
  private oldest = 0;
  private count = 0;

  constructor(private readonly cap: number) {
    let size = 16;
    while (size < cap * 2) size *= 2;
    this.mask = size - 1;
    this.table = new Int32Array(size * 2);
    this.ringA = new Int32Array(cap);
    this.ringB = new Int32Array(cap);
    this.ringTime = new Float64Array(cap);
    this.live = new Uint8Array(cap);
  }

  get size(): number {
    return this.count;
  }

  /** bytes held, whatever the ids' length */
  get bytes(): number {
    return this.table.byteLength + this.ringA.byteLength + this.ringB.byteLength + this.ringTime.byteLength + this.live.byteLength;
  }

  has(id: string): boolean {
    hashId(id, this.h);
    return this.find(this.h[0], this.h[1]) >= 0;
  }

  /** Remembers the id and returns true when it is new; false (and nothing changes) when it is held. */
  add(id: string, atMs: number): boolean {
    hashId(id, this.h);
    const a = this.h[0];
    const b = this.h[1];
    if (this.find(a, b) >= 0) return false;
    if (this.seq - this.oldest === this.cap) this.evict();
    const r = this.seq % this.cap;
    this.ringA[r] = a;
    this.ringB[r] = b;
    this.ringTime[r] = atMs;
    this.live[r] = 1;
    this.seq++;
    this.count++;
    const { table, mask } = this;
    let i = a & mask;
    while (table[2 * i] !== 0) i = (i + 1) & mask;
    table[2 * i] = r + 1;
    table[2 * i + 1] = a;
    return true;
  }

  /** Forgets an id (a failed batch's ids: its redelivery is not a duplicate); its ring place ages out as usual. */
  delete(id: string): boolean {
    hashId(id, this.h);
    const i = this.find(this.h[0], this.h[1]);
    if (i < 0) return false;
    this.live[this.table[2 * i] - 1] = 0;
    this.removeSlot(i);
    return true;
  }

  /** Drops ids that arrived before `cutoffMs`. */
  expire(cutoffMs: number): void {
    while (this.oldest < this.seq && this.ringTime[this.oldest % this.cap] < cutoffMs) this.evict();
  }

  /** the table slot holding the id with these hashes, or -1 */
  private find(a: number, b: number): number {
    const { table, mask, ringB } = this;
    for (let i = a & mask; ; i = (i + 1) & mask) {
      const e = table[2 * i];
      if (e === 0) return -1;
      if (table[2 * i + 1] === a && ringB[e - 1] === b) return i;
    }
  }

  private evict(): void {
    const r = this.oldest % this.cap;
    this.oldest++;
    if (this.live[r] === 0) return;
    this.live[r] = 0;
    const { table, mask } = this;
    let i = this.ringA[r] & mask;
    while (table[2 * i] !== r + 1) i = (i + 1) & mask;
    this.removeSlot(i);
  }

  /** Empties table slot `i` and moves later entries of the probe run back so none is cut off from its home. */
  private removeSlot(i: number): void {
    const { table, mask } = this;
    this.count--;
    let gap = i;
    for (let j = (i + 1) & mask; table[2 * j] !== 0; j = (j + 1) & mask) {
      const home = table[2 * j + 1] & mask;
      // the entry at j may fill the gap when its home is not in the cyclic range (gap, j]
      const inRange = gap <= j ? home > gap && home <= j : home > gap || home <= j;
      if (!inRange) {
        table[2 * gap] = table[2 * j];
        table[2 * gap + 1] = table[2 * j + 1];
        gap = j;
      }
    }
    table[2 * gap] = 0;
  }
}
