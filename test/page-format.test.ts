// The live page's duration formatter at every unit boundary: rounding up carries into the next unit.
import { describe, expect, it } from 'vitest';

// The page is plain JavaScript typed by JSDoc (src/page/tsconfig.json checks it); the test takes
// the functions with the signatures the JSDoc declares.
const dom = (await import('../src/page/dom.js' as string)) as {
  seconds(s: number | null | undefined): string;
  millis(ms: number | undefined): string;
};

describe('page duration formatter', () => {
  it.each([
    // milliseconds to seconds
    [0, '0 ms'],
    [0.0004, '0 ms'],
    [0.8404, '840 ms'],
    [0.9994, '999 ms'],
    [0.9996, '1.00 s'],
    // hundredths to tenths of a second
    [4.254, '4.25 s'],
    [9.994, '9.99 s'],
    [9.996, '10.0 s'],
    // seconds to minutes
    [42.54, '42.5 s'],
    [59.94, '59.9 s'],
    [59.95, '1m 0s'],
    [60, '1m 0s'],
    [119.4, '1m 59s'],
    [119.6, '2m 0s'],
    [125, '2m 5s'],
    // minutes to hours
    [3599.4, '59m 59s'],
    [3599.6, '1h 0m'],
    [3629.9, '1h 0m'],
    [3630, '1h 1m'],
    [7199.9, '2h 0m'],
    [12_000, '3h 20m'],
    [86_399, '24h 0m'],
  ])('%s s reads %s', (s, text) => {
    expect(dom.seconds(s)).toBe(text);
  });

  it('reads a dash for no value, and millis() takes milliseconds', () => {
    expect([null, undefined, NaN, Infinity].map((v) => dom.seconds(v))).toEqual(['–', '–', '–', '–']);
    expect(dom.millis(119_600)).toBe('2m 0s');
    expect(dom.millis(undefined)).toBe('');
  });
});
