// The straight-line parser generator against zod's own safeParse, on a schema using every node kind
// it accepts (the canonical event's agreement is in compiled.test.ts), and what it refuses.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CodegenUnsupported, generateParser } from './codegen.js';
import { compileValidator } from './compiled.js';
import { expectZodAgreement } from '../../test/helpers/zod-agreement.js';

const schema = z.object({
  name: z.string().min(2).max(5),
  code: z.string().regex(/^[a-z]+$/),
  when: z.union([z.string().min(1), z.number(), z.object({ at: z.number(), tz: z.string().optional() })]),
  level: z.enum(['a', 'b', 'c']).default('b'),
  count: z.number().optional(),
  score: z.number().min(-1).max(1).optional(),
  ratio: z.number().positive().lt(10).optional(),
  inner: z.object({ id: z.string().max(3), note: z.string().optional(), tags: z.record(z.string(), z.unknown()).optional() }).optional(),
  extra: z.record(z.string(), z.unknown()).optional(),
});

const parse = generateParser(schema);
const generated = z.withParser(schema, parse as (input: unknown) => z.output<typeof schema>);
const agree = (input: unknown) => expectZodAgreement(schema, parse, (i) => generated.safeParse(i), input);

const str = fc.oneof(fc.string({ maxLength: 7 }), fc.constantFrom('😀😀', '😀', 'ab', 'abcde', 'abcdef', 'é'), fc.string({ unit: 'binary', maxLength: 6 }));
const value = fc.oneof(str, fc.double(), fc.integer(), fc.constantFrom(undefined, null, NaN, Infinity, 'a', 'b', 'c', 'd', true), fc.jsonValue(), fc.array(fc.nat(), { maxLength: 2 }));
const candidate = fc.record(
  {
    name: fc.oneof(str, value),
    code: fc.oneof(fc.stringMatching(/^[a-z]{1,4}$/), value),
    when: fc.oneof(str, fc.double(), fc.record({ at: fc.oneof(fc.double(), value), tz: fc.oneof(str, value) }, { requiredKeys: [] }), value),
    level: fc.oneof(fc.constantFrom('a', 'b', 'c', undefined), value),
    count: fc.oneof(fc.double(), value),
    score: fc.oneof(fc.double({ min: -2, max: 2 }), fc.constantFrom(-1, 1, -0, 0, 1 + Number.EPSILON), value),
    ratio: fc.oneof(fc.double({ min: -1, max: 11 }), fc.constantFrom(0, -0, 10, Number.MIN_VALUE), value),
    inner: fc.oneof(fc.record({ id: fc.oneof(str, value), note: fc.oneof(str, value), tags: fc.oneof(fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 3 }), value) }, { requiredKeys: [] }), value),
    extra: fc.oneof(fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 4 }), value),
    stray: value,
  },
  { requiredKeys: [] },
);

const finite = fc.double({ noNaN: true, noDefaultInfinity: true });
const valid = fc.record(
  {
    name: fc.oneof(fc.string({ minLength: 2, maxLength: 5 }), fc.constantFrom('😀😀', 'é😀')),
    code: fc.stringMatching(/^[a-z]{1,4}$/),
    when: fc.oneof(fc.string({ minLength: 1, maxLength: 6 }), finite, fc.record({ at: finite, tz: fc.string() }, { requiredKeys: ['at'] })),
    level: fc.constantFrom('a', 'b', 'c'),
    count: finite,
    score: fc.double({ min: -1, max: 1, noNaN: true }),
    ratio: fc.double({ min: Number.MIN_VALUE, max: 9.999, noNaN: true }),
    inner: fc.record({ id: fc.string({ maxLength: 3 }), note: fc.string(), tags: fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 3 }) }, { requiredKeys: ['id'] }),
    extra: fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 4 }),
    stray: value,
  },
  { requiredKeys: ['name', 'code', 'when'] },
);

describe('straight-line parser generator', () => {
  it('agrees with zod on every node kind it accepts: verdict, output, key order, defaults', () => {
    let accepted = 0;
    fc.assert(
      fc.property(fc.oneof(valid, candidate, fc.anything({ withNullPrototype: true, withBoxedValues: true, withMap: true })), (c) => {
        if (agree(c)) accepted++;
      }),
      { numRuns: 6000 },
    );
    expect(accepted).toBeGreaterThan(1500); // both paths are exercised: a third of the inputs are valid
  });

  it('agrees on the edges: explicit undefined for optional keys, an absent default, __proto__ keys, symbols, inherited keys', () => {
    const sym = Symbol('s');
    const inherited = Object.create({ name: 'abc' }) as Record<string, unknown>;
    Object.assign(inherited, { code: 'x', when: 1 });
    for (const input of [
      { name: 'ab', code: 'x', when: 'w' },
      { name: 'ab', code: 'x', when: 'w', count: undefined, inner: undefined },
      { name: 'ab', code: 'x', when: { at: 1 }, inner: { id: 'i', note: undefined } },
      { name: 'ab', code: 'x', when: 'w', level: undefined },
      { name: 'ab', code: 'x', when: 'w', level: 'd' },
      { name: 'ab', code: 'x', when: 'w', extra: { [sym]: 1 } },
      { name: 'ab', code: 'x', when: 'w', extra: Object.defineProperty({}, sym, { value: 1, enumerable: false }) },
      JSON.parse('{"name":"ab","code":"x","when":"w","extra":{"__proto__":{"p":1},"k":2}}'),
      JSON.parse('{"name":"ab","code":"x","when":"w","__proto__":{"level":"c"}}'),
      inherited,
      { name: '😀😀', code: 'x', when: 'w' },
      { name: '😀😀😀😀😀😀', code: 'x', when: 'w' },
      { name: 'ab', code: 'x', when: '' },
      { name: 'ab', code: 'x', when: NaN },
      { name: 'ab', code: 'x', when: new Date() },
      new Map(),
      [],
      null,
    ]) {
      agree(input);
    }
  });

  it('a required key whose check would pass undefined must be present, as in zod', () => {
    for (const s of [z.object({ a: z.union([z.string(), z.unknown()]) }), z.object({ a: z.union([z.number(), z.string().optional()]).optional() }), z.object({ a: z.union([z.string(), z.enum(['x'])]) })]) {
      const p = generateParser(s);
      const v = z.withParser(s, p as (input: unknown) => z.output<typeof s>);
      for (const input of [{}, { a: undefined }, { a: 1 }, { a: 'x' }, JSON.parse('{"__proto__":{"a":"x"}}')]) expectZodAgreement(s, p, (i) => v.safeParse(i), input);
    }
  });

  it('refuses what it cannot model, and the validator then uses zod\'s compiler', () => {
    for (const s of [
      z.object({ a: z.string().email() }),
      z.object({ a: z.number().int() }),
      z.object({ a: z.number().multipleOf(2) }),
      z.object({ a: z.string() }).strict(),
      z.object({ a: z.string() }).passthrough(),
      z.object({ a: z.array(z.string()) }),
      z.object({ a: z.object({ b: z.string() }).default({ b: 'x' }) }),
      z.object({ a: z.unknown() }),
      z.object({ a: z.string().refine((v) => v !== 'x') }),
      z.object({ a: z.coerce.number() }),
    ]) {
      expect(() => generateParser(s)).toThrow(CodegenUnsupported);
      const v = compileValidator(s);
      expect(v.compiler).not.toBe('codegen');
    }
    expect(compileValidator(schema).compiler).toBe('codegen');
  });
});
