import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { generateParser } from './codegen.js';
import { compileValidator, validateCanonical } from './compiled.js';
import { canonicalEventSchema, LIFECYCLE_TYPES, MAX_COST_USD, MAX_DURATION_MS, MAX_EPOCH_MS, MAX_ID, MAX_NAME, MAX_QUEUE_DEPTH, MAX_TOKENS, PRIORITIES } from './schema.js';
import { expectZodAgreement } from '../../test/helpers/zod-agreement.js';

const generated = generateParser(canonicalEventSchema);

/** The compiled validator, the generated code alone and zod's safeParse agree. */
const agree = (input: unknown) => expectZodAgreement(canonicalEventSchema, generated, validateCanonical, input);

const len = (min: number, max: number) =>
  fc.oneof(
    fc.string({ minLength: min, maxLength: Math.min(max, 24) }),
    fc.string({ unit: 'binary', minLength: min, maxLength: Math.min(max, 24) }),
    fc.constantFrom('x'.repeat(max), 'é'.repeat(max), '😀'.repeat(Math.floor(max / 2))), // at the limit, in UTF-16 units
  );
const name = len(1, MAX_NAME);
const id = len(1, MAX_ID);
const finite = fc.double({ noNaN: true, noDefaultInfinity: true });
/** a number within [0, max], its ends included */
const upTo = (max: number) => fc.oneof(fc.double({ min: 0, max, noNaN: true }), fc.constantFrom(0, max));
const eventType = fc.oneof(fc.constantFrom(...LIFECYCLE_TYPES), fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,40}$/));
const time = fc.oneof(
  fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
  len(1, 64),
  upTo(MAX_EPOCH_MS),
);

const validEvent = fc.record(
  {
    id,
    type: eventType,
    time,
    source: name,
    workflow: fc.record({ id, type: name }),
    stage: name,
    task: fc.record({ id, name }, { requiredKeys: ['id'] }),
    agent: name,
    duration_ms: upTo(MAX_DURATION_MS),
    priority: fc.constantFrom(...PRIORITIES),
    queue: fc.record({ name, depth: upTo(MAX_QUEUE_DEPTH) }),
    tokens_in: upTo(MAX_TOKENS),
    tokens_out: upTo(MAX_TOKENS),
    model: name,
    cost_usd: upTo(MAX_COST_USD),
    tool: name,
    enqueued_at: time,
    queue_wait_ms: fc.double({ max: MAX_DURATION_MS, noNaN: true, noDefaultInfinity: true }),
    attributes: fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 6 }),
    unknown_field: fc.jsonValue(), // stripped by both
  },
  { requiredKeys: ['id', 'type', 'time', 'source'] },
);

/** Values that break some rule: wrong types, empty, too long, non-finite, near misses. */
const badValue = fc.oneof(
  fc.constantFrom(undefined, null, NaN, Infinity, -Infinity, '', true, 0, -0, [], {}, 'Normal', 'urgent', 'bad type!', '.leading-dot'),
  fc.string({ minLength: 257, maxLength: 300 }),
  fc.string({ minLength: 65, maxLength: 80 }),
  fc.string({ minLength: 129, maxLength: 140 }),
  fc.double(),
  // just past each numeric bound
  fc.constantFrom(-Number.MIN_VALUE, -1e-9, MAX_TOKENS + 1, MAX_COST_USD * (1 + 1e-15), MAX_DURATION_MS + 0.5, MAX_QUEUE_DEPTH + 1, MAX_EPOCH_MS + 1, 1.79e308),
  fc.array(fc.jsonValue(), { maxLength: 3 }),
  fc.record({ id: fc.oneof(fc.constant(''), fc.integer(), id), type: fc.oneof(fc.constant(undefined), name), name: fc.oneof(fc.constant(''), name) }),
  fc.record({ name: fc.oneof(fc.constant(''), name), depth: fc.oneof(fc.constant(NaN), fc.constant('3'), fc.constant(MAX_QUEUE_DEPTH + 1), fc.constant(-1), finite) }),
  fc.anything(),
);
const FIELDS = [...Object.keys(canonicalEventSchema.shape), 'extra'];

const invalidEvent = fc.oneof(
  // one field set to a bad value (or removed), the rest valid
  fc.tuple(validEvent, fc.constantFrom(...FIELDS), badValue, fc.boolean()).map(([e, k, v, remove]) => {
    const out: Record<string, unknown> = { ...e };
    if (remove) delete out[k];
    else out[k] = v;
    return out;
  }),
  // two fields broken: the first issue reported must be the same one
  fc.tuple(validEvent, fc.constantFrom(...FIELDS), badValue, fc.constantFrom(...FIELDS), badValue).map(([e, k1, v1, k2, v2]) => ({ ...e, [k1]: v1, [k2]: v2 })),
  // anything at all, including non-objects, arrays and null-prototype objects
  fc.anything({ withNullPrototype: true, withBoxedValues: true, withDate: true, withMap: true }),
);

describe('compiled canonical validator', () => {
  it('is generated code, from our straight-line generator, not the runtime parser', () => {
    expect(validateCanonical.compiled).toBe(true);
    expect(validateCanonical.compiler).toBe('codegen');
  });

  it('agrees with zod on random valid events (output, key order, defaults)', () => {
    let accepted = 0;
    fc.assert(
      fc.property(validEvent, (e) => {
        if (agree(e)) accepted++;
      }),
      { numRuns: 3000 },
    );
    // the generator may produce a time zod rejects only by design; nearly all must pass
    expect(accepted).toBe(3000);
  });

  it('agrees with zod on random invalid and arbitrary inputs (verdict and exact issues)', () => {
    let rejected = 0;
    fc.assert(
      fc.property(invalidEvent, (e) => {
        if (!agree(e)) rejected++;
      }),
      { numRuns: 5000 },
    );
    expect(rejected).toBeGreaterThan(2500); // most inputs of this generator are invalid
  });

  it('agrees at, inside and just past every numeric bound (issue 14 item 4)', () => {
    const base = { id: 'e1', type: 'task.started', time: '2026-11-20T10:00:00Z', source: 'orchestrator' };
    const bounds: [string, number][] = [
      ['duration_ms', MAX_DURATION_MS],
      ['tokens_in', MAX_TOKENS],
      ['tokens_out', MAX_TOKENS],
      ['cost_usd', MAX_COST_USD],
      ['queue_wait_ms', MAX_DURATION_MS],
      ['time', MAX_EPOCH_MS],
      ['enqueued_at', MAX_EPOCH_MS],
    ];
    const verdicts: string[] = [];
    for (const [k, max] of bounds) {
      for (const v of [-1, -0, 0, max, max + 1, 1.79e308]) verdicts.push(`${k}=${v}:${agree({ ...base, [k]: v })}`);
    }
    for (const depth of [-1, 0, MAX_QUEUE_DEPTH, MAX_QUEUE_DEPTH + 1]) verdicts.push(`depth=${depth}:${agree({ ...base, queue: { name: 'q', depth } })}`);
    expect(verdicts.filter((v) => v.endsWith(':true'))).toEqual([
      ...bounds.flatMap(([k, max]) => [...(k === 'queue_wait_ms' ? [`${k}=-1`] : []), `${k}=0`, `${k}=0`, `${k}=${max}`].map((v) => `${v}:true`)),
      'depth=0:true',
      `depth=${MAX_QUEUE_DEPTH}:true`,
    ]);
  });

  it('agrees on JSON that uses __proto__ and constructor as keys', () => {
    for (const text of [
      '{"id":"a","type":"t","time":"x","source":"s","__proto__":{"priority":"bogus"}}',
      '{"id":"a","type":"t","time":"x","source":"s","attributes":{"__proto__":{"polluted":1},"constructor":2}}',
      '{"id":"a","type":"t","time":"x","source":"s","attributes":{"__proto__":null}}',
      '{"__proto__":{"id":"a","type":"t","time":"x","source":"s"}}',
    ]) {
      agree(JSON.parse(text));
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('gives the same messages as zod for the usual mistakes', () => {
    const base = { id: 'e1', type: 'task.completed', time: '2026-11-20T10:00:00Z', source: 'orchestrator' };
    const first = (v: unknown) => {
      const r = validateCanonical(v);
      return r.success ? 'ok' : `${r.error.issues[0].path.join('.')}: ${r.error.issues[0].message}`;
    };
    expect(first(base)).toBe('ok');
    expect(first({ ...base, id: '' })).toBe('id: Too small: expected string to have >=1 characters');
    expect(first({ ...base, type: 'has space' })).toBe('type: type must be dotted words such as task.completed');
    expect(first({ ...base, priority: 'urgent' })).toBe('priority: Invalid option: expected one of "low"|"normal"|"high"|"critical"');
    expect(first({ ...base, duration_ms: '12' })).toBe('duration_ms: Invalid input: expected number, received string');
    expect(first({ ...base, workflow: { id: 'w' } })).toBe('workflow.type: Invalid input: expected string, received undefined');
    expect(validateCanonical(base)).toEqual({ success: true, data: { ...base, priority: 'normal' } });
  });

  it('falls back to the runtime parser for a schema zod cannot compile, with the same answers', () => {
    // zod's compiler refuses reference cycles; the validator still answers, on the runtime parser
    const node: z.ZodType = z.object({
      name: z.string().min(1),
      get children() {
        return z.array(node).optional();
      },
    });
    const v = compileValidator(node);
    expect(v.compiled).toBe(false);
    const good = { name: 'a', children: [{ name: 'b' }] };
    expect(v(good)).toEqual({ success: true, data: good });
    const bad = { name: 'a', children: [{ name: '' }] };
    expect(v(bad).error!.issues).toStrictEqual(node.safeParse(bad).error!.issues);
    expect(v(bad).error!.issues[0].path).toEqual(['children', 0, 'name']);
  });
});
