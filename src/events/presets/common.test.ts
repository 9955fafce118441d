// The presets' shared readers: timestamps as the platforms write them, derived ids, tolerant fields.
import { describe, expect, it } from 'vitest';
import { compact, derivedId, firstNum, normalizeTime, num, objOrJson, pickInto, str } from './common.js';

describe('normalizeTime', () => {
  it('repairs Python timestamps and passes the rest to the validator unchanged', () => {
    expect(normalizeTime('2025-11-20T10:00:00.123456+00:00Z')).toBe('2025-11-20T10:00:00.123456+00:00'); // isoformat() + "Z"
    expect(normalizeTime('2025-11-20T10:00:00.123456')).toBe('2025-11-20T10:00:00.123456Z'); // naive utcnow()
    expect(normalizeTime('2025-11-20 10:00:00')).toBe('2025-11-20 10:00:00Z');
    expect(normalizeTime('2025-11-20T10:00:00+02:00')).toBe('2025-11-20T10:00:00+02:00');
    expect(normalizeTime('2025-11-20T10:00:00Z')).toBe('2025-11-20T10:00:00Z');
    expect(normalizeTime(' 1763632800.5 ')).toBe(1763632800.5); // epoch text from a Redis field
    expect(normalizeTime(1763632800123)).toBe(1763632800123);
    expect(normalizeTime('yesterday')).toBe('yesterday'); // the validator rejects it as invalid_timestamp
    expect([normalizeTime(''), normalizeTime(NaN), normalizeTime(null), normalizeTime({})]).toEqual([undefined, undefined, undefined, undefined]);
  });

  it('yields times Date.parse reads as UTC whatever the process time zone', () => {
    expect(Date.parse(normalizeTime('2025-11-20T10:00:00.5') as string)).toBe(Date.UTC(2025, 10, 20, 10, 0, 0, 500));
    expect(Date.parse(normalizeTime('2025-11-20T10:00:00.500000+00:00Z') as string)).toBe(Date.UTC(2025, 10, 20, 10, 0, 0, 500));
  });
});

describe('derivedId', () => {
  it('hashes subject and payload: bytes, text and decoded value of one payload agree', () => {
    const msg = { a: 1, b: 'x' };
    const text = JSON.stringify(msg);
    const id = derivedId('p', { subject: 's.t' }, msg);
    expect(id).toMatch(/^p:[0-9a-f]{32}$/);
    expect(derivedId('p', { subject: 's.t', data: text }, msg)).toBe(id);
    expect(derivedId('p', { subject: 's.t', data: new TextEncoder().encode(text) }, msg)).toBe(id);
  });

  it('differs when the subject, the bytes or the preset differ', () => {
    const msg = { a: 1 };
    const id = derivedId('p', { subject: 's' }, msg);
    expect(derivedId('p', { subject: 's2' }, msg)).not.toBe(id);
    expect(derivedId('p', {}, msg)).not.toBe(id);
    expect(derivedId('q', { subject: 's' }, msg)).not.toBe(id);
    // the same value sent with other whitespace is other bytes: only exact redeliveries share an id
    expect(derivedId('p', { subject: 's', data: '{ "a": 1 }' }, msg)).not.toBe(id);
  });
});

describe('field readers', () => {
  it('read strings and numbers tolerantly, Redis text included', () => {
    expect([str('a'), str(''), str(3), str(NaN), str(null), str(true)]).toEqual(['a', undefined, '3', undefined, undefined, undefined]);
    expect([num(2), num('2.5'), num(' '), num('-1'), num(-1), num('x'), num(Infinity)]).toEqual([2, 2.5, undefined, undefined, undefined, undefined, undefined]);
    expect(firstNum({ a: 'x', b: '40', c: 5 }, ['a', 'b', 'c'])).toBe(40);
  });

  it('objOrJson parses only JSON object text', () => {
    expect(objOrJson({ a: 1 })).toEqual({ a: 1 });
    expect(objOrJson('{"a":1}')).toEqual({ a: 1 });
    expect([objOrJson('[1]'), objOrJson('{bad'), objOrJson('"s"'), objOrJson(3), objOrJson(null)]).toEqual([undefined, undefined, undefined, undefined, undefined]);
  });

  it('pickInto copies named fields that are set; compact drops undefined ones without touching the input', () => {
    expect(pickInto({ keep: 1 }, { a: 1, b: null, c: 0, d: 'x' }, new Set(['a', 'b', 'c', 'z']))).toEqual({ keep: 1, a: 1, c: 0 });
    expect(pickInto({}, undefined, new Set(['a']))).toEqual({});
    const input = { a: 1, b: undefined };
    expect(compact(input)).toEqual({ a: 1 });
    expect(Object.keys(compact(input))).toEqual(['a']);
    expect('b' in input).toBe(true);
  });
});
