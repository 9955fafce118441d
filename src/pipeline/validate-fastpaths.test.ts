import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RejectError } from '../errors.js';
import { decode, parseTime, rfc3339, utcTimestamp } from './validate.js';

const pad = (n: number, w: number) => String(n).padStart(w, '0');

/** Date.parse where the date exists, else NaN; for years 100 on without a leap second, where Date.parse reads RFC 3339 right */
function dateParseIfValid(t: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})/.exec(t);
  if (!m) return NaN;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number);
  const days = new Date(Date.UTC(2000 + (y % 400), mo, 0)).getUTCDate(); // day 0 of the next month
  return mo >= 1 && mo <= 12 && d >= 1 && d <= days && h <= 23 && mi <= 59 && s <= 59 ? Date.parse(t) : NaN;
}

describe('parseTime fast path', () => {
  it('agrees with the RFC 3339 reader, and with Date.parse on valid dates, in range and out of range', () => {
    const field = (max: number) => fc.integer({ min: 0, max });
    const stamp = fc
      .tuple(field(9999), field(19), field(39), field(29), field(69), field(69), field(999), fc.boolean())
      .map(([y, mo, d, h, mi, s, ms, withMs]) => `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}T${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}${withMs ? `.${pad(ms, 3)}` : ''}Z`);
    fc.assert(
      fc.property(stamp, (t) => {
        const fast = utcTimestamp(t);
        if (fast === fast) expect(fast).toBe(rfc3339(t));
        expect(parseTime(t)).toBe(rfc3339(t));
        if (!/:60/.test(t) && Number(t.slice(0, 4)) >= 100) expect(parseTime(t)).toBe(dateParseIfValid(t));
      }),
      { numRuns: 20_000 },
    );
  });

  it('agrees with the RFC 3339 reader on near misses and other shapes', () => {
    const near = fc
      .tuple(fc.constantFrom('2026-11-20T10:00:00.123Z', '2026-11-20T10:00:00Z'), fc.nat(23), fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 1 }))
      .map(([t, i, c]) => t.slice(0, i % t.length) + c + t.slice((i % t.length) + 1));
    fc.assert(
      fc.property(fc.oneof(near, fc.string(), fc.date({ noInvalidDate: true }).map((d) => d.toISOString())), (t) => {
        const fast = utcTimestamp(t);
        if (fast === fast) expect(fast).toBe(rfc3339(t));
        expect(parseTime(t)).toBe(rfc3339(t));
      }),
      { numRuns: 20_000 },
    );
    for (const t of ['2026-02-31T00:00:00.000Z', '2026-01-01T24:00:00.000Z', '2026-11-20T10:00:00+01:00', '2026-11-20T10:00:00.1Z', '2026-11-20 10:00:00Z']) {
      expect(parseTime(t)).toBe(dateParseIfValid(t.replace(' ', 'T')));
    }
    expect(parseTime('0099-01-01T00:00:00Z')).toBe(new Date('0099-01-01T00:00:00Z').getTime()); // not 1999, as Date.UTC would read it
    expect(parseTime('2016-12-31T23:59:60Z')).toBe(Date.UTC(2017, 0, 1)); // a leap second: the next second
  });

  it('reads the common shapes itself', () => {
    expect(utcTimestamp('2026-11-20T10:00:00.123Z')).toBe(Date.UTC(2026, 10, 20, 10, 0, 0, 123));
    expect(utcTimestamp('2026-11-20T10:00:00Z')).toBe(Date.UTC(2026, 10, 20, 10, 0, 0));
    expect(utcTimestamp('2026-11-20T10:00:00+00:00')).toBeNaN(); // left to rfc3339()
    expect(utcTimestamp('2026-02-29T10:00:00Z')).toBeNaN(); // not a leap year: no February 29
  });
});

describe('decode of Buffers', () => {
  const reason = (fn: () => unknown) => {
    try {
      fn();
      return 'ok';
    } catch (e) {
      return e instanceof RejectError ? `${e.reason}: ${e.message}` : 'thrown';
    }
  };
  it('decodes exactly like the fatal TextDecoder: BOM skipped, invalid UTF-8 rejected', () => {
    const td = new TextDecoder('utf-8', { fatal: true });
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 12 }),
      fc.jsonValue().map((v) => new TextEncoder().encode(JSON.stringify(v))),
      fc.jsonValue().map((v) => Uint8Array.from([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(JSON.stringify(v))])),
    );
    fc.assert(
      fc.property(bytes, (u8) => {
        let expected: unknown;
        try {
          expected = JSON.parse(td.decode(u8));
        } catch (e) {
          expected = e instanceof TypeError ? 'invalid_encoding' : 'invalid_json';
        }
        let got: unknown;
        try {
          got = decode(Buffer.from(u8), 1 << 20);
        } catch (e) {
          got = (e as RejectError).reason;
        }
        expect(got).toStrictEqual(expected);
        // a plain Uint8Array takes the TextDecoder path: same answers
        let plain: unknown;
        try {
          plain = decode(u8, 1 << 20);
        } catch (e) {
          plain = (e as RejectError).reason;
        }
        expect(plain).toStrictEqual(expected);
      }),
      { numRuns: 5000 },
    );
    expect(reason(() => decode(Buffer.from([0x7b, 0xff, 0x7d]), 100))).toBe('invalid_encoding: message is not valid UTF-8');
    expect(decode(Buffer.from('\ufeff{"a":1}'), 100)).toEqual({ a: 1 });
  });
});
