// validateBuilt's in-place check against the canonical schema: for events in the shape the otlp
// mapping builds, and for every way one can go wrong, both give the same verdict, and what both
// accept the schema returns unchanged but for the default priority.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { validateCanonical } from '../events/compiled.js';
import { MAX_COST_USD, MAX_DURATION_MS, MAX_EPOCH_MS, MAX_ID, MAX_NAME, MAX_TOKENS } from '../events/schema.js';
import { RejectError } from '../errors.js';
import { checkBuilt, validateBuilt, validateEvent } from './validate.js';

const limits = { maxMessageBytes: 1 << 20, maxPastSeconds: 7 * 86400, maxFutureSeconds: 300, maxDurationSeconds: 30 * 86400, maxDepth: 8 };
const NOW = Date.UTC(2026, 11, 3, 12);

// strings at and across the bounds, numbers at and across theirs
const str = (max: number) => fc.oneof(fc.constant(''), fc.string({ minLength: 1, maxLength: 8 }), fc.constant('x'.repeat(max)), fc.constant('x'.repeat(max + 1)));
const num = (max: number) => fc.oneof(fc.constant(0), fc.constant(max), fc.constant(max + 1), fc.constant(-1), fc.constant(NaN), fc.constant(Infinity), fc.double({ min: 0, max, noNaN: true }), fc.constant('5'));
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined, freq: 2 });
const odd = fc.oneof(fc.constant(null), fc.constant([]), fc.constant('x'), fc.constant(1), fc.constant(undefined));

const ok = (max: number) => fc.string({ minLength: 1, maxLength: 12 }).map((x) => x.slice(0, max));
const okNum = (max: number) => fc.double({ min: 0, max, noNaN: true });
/** an event in the shape the otlp mapping builds, every field valid */
const valid = fc.record(
  {
    id: ok(MAX_ID),
    type: fc.constantFrom('task.completed', 'span.internal', 'workflow.started', 'agent.response'),
    time: fc.integer({ min: NOW - 3600_000, max: NOW }),
    source: ok(MAX_NAME),
    workflow: fc.record({ id: ok(MAX_ID), type: ok(MAX_NAME) }),
    task: fc.record({ id: ok(MAX_ID), name: ok(MAX_NAME) }, { requiredKeys: ['id'] }),
    stage: ok(MAX_NAME),
    agent: ok(MAX_NAME),
    model: ok(MAX_NAME),
    tool: ok(MAX_NAME),
    duration_ms: okNum(1e6),
    tokens_in: fc.integer({ min: 0, max: 1e6 }),
    tokens_out: fc.integer({ min: 0, max: 1e6 }),
    cost_usd: okNum(10),
    attributes: fc.record({ trace_id: fc.string(), span: fc.dictionary(fc.string(), fc.string()) }),
  },
  { requiredKeys: ['id', 'type', 'time', 'source'] },
);
/** values at and across every bound, and of the wrong kinds */
const bad = {
  id: fc.oneof(str(MAX_ID), odd),
  type: fc.oneof(fc.constantFrom('bad type', '.x', 'a'.repeat(128), 'a'.repeat(129), ''), odd),
  time: fc.oneof(num(MAX_EPOCH_MS), fc.constant('2026-12-03T12:00:00Z'), fc.constant(NOW - 30 * 86400_000)),
  source: fc.oneof(str(MAX_NAME), odd),
  workflow: fc.oneof(fc.record({ id: str(MAX_ID), type: str(MAX_NAME) }), fc.record({ id: str(MAX_ID), type: str(MAX_NAME), extra: fc.constant(1) }), fc.record({ id: str(MAX_ID) }), odd),
  task: fc.oneof(fc.record({ id: str(MAX_ID), name: maybe(str(MAX_NAME)) }), fc.record({ id: str(MAX_ID), other: fc.constant(1) }), odd),
  stage: fc.oneof(str(MAX_NAME), odd),
  agent: fc.oneof(str(MAX_NAME), odd),
  model: fc.oneof(str(MAX_NAME), odd),
  tool: fc.oneof(str(MAX_NAME), odd),
  duration_ms: fc.oneof(num(MAX_DURATION_MS), fc.constant(31 * 86400_000)),
  tokens_in: num(MAX_TOKENS),
  tokens_out: num(MAX_TOKENS),
  cost_usd: num(MAX_COST_USD),
  priority: fc.constantFrom('normal', 'high', 'urgent', undefined),
  attributes: fc.oneof(fc.constant({ deep: { a: { b: { c: { d: { e: { f: { g: { h: 1 } } } } } } } } }), odd),
  queue_wait_ms: fc.constant(5),
  surprise: fc.constant(true),
};
const event = fc
  .tuple(valid, fc.array(fc.constantFrom(...(Object.keys(bad) as (keyof typeof bad)[])), { maxLength: 2 }))
  .chain(([base, keys]) => fc.tuple(...keys.map((k) => bad[k])).map((values) => Object.assign({ ...base }, Object.fromEntries(keys.map((k, i) => [k, values[i]])))));

describe('validateBuilt', () => {
  it('accepts in place exactly what the schema accepts unchanged', () => {
    let accepted = 0;
    fc.assert(
      fc.property(event, (e) => {
        const candidate = structuredClone(e) as Record<string, unknown>;
        const parsed = validateCanonical(structuredClone(e));
        if (checkBuilt(candidate)) {
          accepted++;
          expect(parsed.success).toBe(true);
          expect(parsed.data).toEqual({ ...candidate, priority: candidate.priority ?? 'normal' });
        }
        // the verdict and the message are the schema's either way
        const outcome = (f: () => unknown) => {
          try {
            f();
            return 'ok';
          } catch (err) {
            expect(err).toBeInstanceOf(RejectError);
            return `${(err as RejectError).reason}: ${(err as Error).message}`;
          }
        };
        expect(outcome(() => validateBuilt(structuredClone(e) as Record<string, unknown>, limits, NOW))).toBe(outcome(() => validateEvent(structuredClone(e) as Record<string, unknown>, limits, NOW)));
      }),
      { numRuns: 20_000 },
    );
    // the generator reaches the accepting side often enough to mean something
    expect(accepted).toBeGreaterThan(200);
  });

  it('takes the mapping events in place: same object, priority filled, time as RFC 3339', () => {
    const e: Record<string, unknown> = { id: 'a:b:task.completed', type: 'task.completed', time: NOW, source: 'svc', workflow: { id: 't', type: 'w' }, agent: 'planner', task: { id: 'b', name: 'planner' }, duration_ms: 5, attributes: { trace_id: 't' } };
    expect(checkBuilt(e)).toBe(true);
    const v = validateBuilt(e, limits, NOW);
    expect(v.event).toBe(e);
    expect(v.event.priority).toBe('normal');
    expect(v.event.time).toBe(new Date(NOW).toISOString());
    expect(v.timeMs).toBe(NOW);
  });
});
