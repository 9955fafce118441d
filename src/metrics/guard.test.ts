import { describe, expect, it } from 'vitest';
import { CardinalityGuard, OVERFLOW, truncate, wellFormed, type OverflowKind } from './guard.js';

function guard(labels = {}, maxLabelValues = 3, maxLabelLength = 8) {
  const counted: [string, OverflowKind][] = [];
  const g = new CardinalityGuard({ labels, maxLabelValues, maxLabelLength }, (l, k) => counted.push([l, k]));
  return { g, counted };
}

describe('CardinalityGuard', () => {
  it('keeps values up to the cap, then folds new ones into __overflow__ and counts each', () => {
    const { g, counted } = guard();
    expect(['a', 'b', 'c'].map((v) => g.value('agent', v))).toEqual(['a', 'b', 'c']);
    expect(g.value('agent', 'd')).toBe(OVERFLOW);
    expect(g.value('agent', 'e')).toBe(OVERFLOW);
    // values seen before the cap keep their own series
    expect(g.value('agent', 'a')).toBe('a');
    expect(counted).toEqual([
      ['agent', 'cap'],
      ['agent', 'cap'],
    ]);
    expect(g.snapshot()).toEqual({ agent: { values: 3, max: 3 } });
  });

  it('caps each label on its own', () => {
    const { g } = guard();
    for (const v of ['a', 'b', 'c']) g.value('agent', v);
    expect(g.value('stage', 'a')).toBe('a');
  });

  it('applies an allow-list and a per-label cap from config', () => {
    const { g, counted } = guard({ agent: { allow: ['coder', 'tester'] }, stage: { maxValues: 1 } });
    expect(g.value('agent', 'coder')).toBe('coder');
    expect(g.value('agent', 'hacker')).toBe(OVERFLOW);
    expect(g.value('stage', 'plan')).toBe('plan');
    expect(g.value('stage', 'code')).toBe(OVERFLOW);
    expect(counted).toEqual([
      ['agent', 'not_allowed'],
      ['stage', 'cap'],
    ]);
  });

  it('truncates long values and counts it', () => {
    const { g, counted } = guard({}, 10, 8);
    expect(g.value('agent', 'x'.repeat(10_000))).toBe('xxxxxxxx');
    expect(counted).toEqual([['agent', 'truncated']]);
  });
});

describe('well-formed label values', () => {
  it('replaces lone surrogates with U+FFFD, so values that would render alike are one series, and counts it', () => {
    const { g, counted } = guard({}, 10, 64);
    const agents = ['a\ud800', 'a\udc00', 'a\ud801'].map((v) => g.value('agent', v));
    expect(agents).toEqual(['a\ufffd', 'a\ufffd', 'a\ufffd']);
    expect(g.value('agent', 'a\ufffd')).toBe('a\ufffd');
    expect(counted).toEqual([
      ['agent', 'malformed'],
      ['agent', 'malformed'],
      ['agent', 'malformed'],
    ]);
    expect(g.snapshot()).toEqual({ agent: { values: 1, max: 10 } });
  });

  it('truncates without splitting a surrogate pair', () => {
    const { g } = guard({}, 10, 8);
    // 7 code units, then a pair (U+1F600) across the cut at 8
    const v = g.value('agent', `abcdefg\u{1f600}tail`);
    expect(v).toBe('abcdefg');
    expect(v.isWellFormed()).toBe(true);
    expect(g.value('agent', `abcdef\u{1f600}tail`)).toBe(`abcdef\u{1f600}`);
  });

  it('helpers: wellFormed and truncate', () => {
    expect(wellFormed('x\udfffy')).toBe('x\ufffdy');
    expect(wellFormed('ok')).toBe('ok');
    expect(truncate('\u{1f600}\u{1f600}', 3)).toBe('\u{1f600}');
    expect(truncate('abc', 3)).toBe('abc');
  });
});
