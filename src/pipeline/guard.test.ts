import { describe, expect, it } from 'vitest';
import { CardinalityGuard, OVERFLOW, type OverflowKind } from './guard.js';

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
