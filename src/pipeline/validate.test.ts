import { describe, expect, it } from 'vitest';
import { configFrom } from '../config/load.js';
import { RejectError } from '../errors.js';
import { createNormalizer } from '../events/normalize.js';
import { decode, parseTime, validateEvent } from './validate.js';

const limits = configFrom({}).validation;
const NOW = Date.parse('2026-11-20T10:00:00Z');
const good = { id: 'e1', type: 'task.completed', time: '2026-11-20T09:59:59.500Z', source: 'orchestrator', agent: 'coder', duration_ms: 1840 };

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof RejectError) return `${e.reason}: ${e.message}`;
    throw e;
  }
  return 'accepted';
}

describe('decode', () => {
  it('parses JSON text and bytes', () => {
    expect(decode('{"a":1}', 100)).toEqual({ a: 1 });
    expect(decode(new TextEncoder().encode('[1]'), 100)).toEqual([1]);
  });
  it('rejects with a reason: invalid UTF-8, bad JSON, too large', () => {
    expect(reason(() => decode(new Uint8Array([0x7b, 0xff, 0x7d]), 100))).toBe('invalid_encoding: message is not valid UTF-8');
    expect(reason(() => decode('{"a":', 100))).toMatch(/^invalid_json: not valid JSON/);
    expect(reason(() => decode('{"a":NaN}', 100))).toMatch(/^invalid_json/);
    expect(reason(() => decode('x'.repeat(101), 100))).toBe('too_large: message of 101 characters exceeds 100 bytes');
  });
});

describe('validateEvent', () => {
  it('accepts a canonical event, defaults priority, parses time', () => {
    const v = validateEvent({ ...good }, limits, NOW);
    expect(v.event.priority).toBe('normal');
    expect(v.timeMs).toBe(NOW - 500);
    expect(v.event.duration_ms).toBe(1840);
  });

  it('accepts epoch seconds and milliseconds and normalizes them to RFC 3339', () => {
    expect(validateEvent({ ...good, time: NOW / 1000 }, limits, NOW).event.time).toBe('2026-11-20T10:00:00.000Z');
    expect(validateEvent({ ...good, time: NOW }, limits, NOW).timeMs).toBe(NOW);
  });

  it('strips unknown top-level keys, including __proto__ from JSON', () => {
    const v = validateEvent(JSON.parse('{"id":"e","type":"x.y","time":"2026-11-20T10:00:00Z","source":"s","__proto__":{"polluted":1},"extra":1}'), limits, NOW);
    expect(Object.keys(v.event)).not.toContain('extra');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('names the field and the rule on schema failures', () => {
    expect(reason(() => validateEvent({ ...good, id: '' }, limits, NOW))).toMatch(/^invalid_event: id: /);
    expect(reason(() => validateEvent({ ...good, type: 'has space' }, limits, NOW))).toBe('invalid_event: type: type must be dotted words such as task.completed');
    expect(reason(() => validateEvent({ ...good, priority: 'urgent' }, limits, NOW))).toMatch(/^invalid_event: priority: /);
    expect(reason(() => validateEvent({ ...good, workflow: { id: 'w' } }, limits, NOW))).toMatch(/^invalid_event: workflow.type: /);
  });

  it('rejects bad times and durations with their own reasons', () => {
    expect(reason(() => validateEvent({ ...good, time: 'yesterday' }, limits, NOW))).toBe('invalid_timestamp: time "yesterday" is not RFC 3339 or epoch');
    expect(reason(() => validateEvent({ ...good, time: '1970-01-01T00:00:00Z' }, limits, NOW))).toMatch(/^invalid_timestamp: .* in the past/);
    expect(reason(() => validateEvent({ ...good, time: '2030-01-01T00:00:00Z' }, limits, NOW))).toMatch(/^invalid_timestamp: .* in the future/);
    expect(reason(() => validateEvent({ ...good, duration_ms: -1 }, limits, NOW))).toMatch(/^invalid_duration/);
    // zod refuses non-finite numbers itself (JSON cannot carry them; in-process pushes can)
    expect(reason(() => validateEvent({ ...good, duration_ms: Infinity }, limits, NOW))).toMatch(/^invalid_event: duration_ms: /);
    expect(reason(() => validateEvent({ ...good, duration_ms: 1e15 }, limits, NOW))).toMatch(/^invalid_duration/);
    expect(reason(() => validateEvent({ ...good, queue: { name: 'q', depth: -3 } }, limits, NOW))).toBe('out_of_range: queue.depth: Too small: expected number to be >=0');
  });

  it('bounds every numeric field, rejecting past the bound with a counted reason (issue 14 item 4)', () => {
    const at = (extra: Record<string, unknown>) => reason(() => validateEvent({ ...good, ...extra }, limits, NOW));
    expect(at({ cost_usd: 1.79e308 })).toBe('out_of_range: cost_usd: Too big: expected number to be <=1000000');
    expect(at({ tokens_in: 1e10 })).toBe('out_of_range: tokens_in: Too big: expected number to be <=1000000000');
    expect(at({ tokens_out: -1 })).toBe('out_of_range: tokens_out: Too small: expected number to be >=0');
    expect(at({ queue: { name: 'q', depth: 1e300 } })).toBe('out_of_range: queue.depth: Too big: expected number to be <=1000000000');
    expect(at({ type: 'task.started', queue_wait_ms: 1e308 })).toBe('out_of_range: queue_wait_ms: Too big: expected number to be <=31622400000');
    expect(at({ duration_ms: 1e308 })).toBe('invalid_duration: duration_ms: Too big: expected number to be <=31622400000');
    expect(at({ time: 1e300 })).toBe('invalid_timestamp: time: Too big: expected number to be <=253402300799999');
    expect(at({ time: -1 })).toBe('invalid_timestamp: time: Too small: expected number to be >=0');
    expect(at({ type: 'task.started', enqueued_at: 1e300 })).toBe('invalid_timestamp: enqueued_at: Too big: expected number to be <=253402300799999');
    // at the bound is accepted; a negative wait is clock skew, kept and counted as an anomaly downstream
    expect(at({ cost_usd: 1e6, tokens_in: 1e9, tokens_out: 0, queue: { name: 'q', depth: 1e9 } })).toBe('accepted');
    expect(at({ type: 'task.started', queue_wait_ms: -5 })).toBe('accepted');
  });

  it('takes only RFC 3339 times: no US dates, no date alone, no zone-less time, no rolled-over days (issue 14 item 10)', () => {
    const march = Date.parse('2026-03-03T00:00:00Z');
    const at = (time: string, now = NOW) => reason(() => validateEvent({ ...good, time }, limits, now));
    for (const t of ['11/20/2026', '2026-11-20', '2026-11-20T09:00:00', '20 Nov 2026 09:00:00 GMT', '2026-11-20T09:00Z', '2026-11-20T09:00:00+0100', '2026-11-20T09:00:00+24:00', '+002026-11-20T09:00:00Z']) {
      expect(at(t)).toBe(`invalid_timestamp: time ${JSON.stringify(t)} is not RFC 3339 or epoch`);
    }
    // Date.parse rolls these into March 2 and 3, inside the accepted window
    expect(at('2026-02-30T10:00:00Z', march)).toBe('invalid_timestamp: time "2026-02-30T10:00:00Z" is not RFC 3339 or epoch');
    expect(at('2026-02-29T10:00:00.5+01:00', march)).toBe('invalid_timestamp: time "2026-02-29T10:00:00.5+01:00" is not RFC 3339 or epoch');
    expect(validateEvent({ ...good, time: '2024-02-29T10:00:00Z' }, { ...limits, maxPastSeconds: 1e9 }, NOW).timeMs).toBe(Date.UTC(2024, 1, 29, 10));
    // the RFC 3339 forms other than the common one: offsets, any fraction, lower case, a space for T
    expect(validateEvent({ ...good, time: '2026-11-20T10:59:59.5+01:00' }, limits, NOW).timeMs).toBe(NOW - 500);
    expect(validateEvent({ ...good, time: '2026-11-20t09:59:59.123456z' }, limits, NOW).timeMs).toBe(NOW - 877);
    expect(validateEvent({ ...good, time: '2026-11-20 04:29:59-05:30' }, limits, NOW).timeMs).toBe(NOW - 1000);
  });

  it('applies the same rule to CloudEvents and preset times', () => {
    const ce = createNormalizer({ format: 'auto' });
    const saas = createNormalizer({ preset: 'saas-factory' });
    const raw = {};
    const run = (n: typeof ce, v: Record<string, unknown>) => reason(() => validateEvent(n(v, raw, NOW), limits, NOW));
    const cloud = { specversion: '1.0', id: 'c1', source: 'orchestrator', type: 'task.completed' };
    expect(run(ce, { ...cloud, time: '11/20/2026' })).toBe('invalid_timestamp: time "11/20/2026" is not RFC 3339 or epoch');
    expect(run(ce, { ...cloud, time: '2026-11-20' })).toBe('invalid_timestamp: time "2026-11-20" is not RFC 3339 or epoch');
    expect(run(ce, { ...cloud, time: '2026-11-20T09:59:59Z' })).toBe('accepted');
    const msg = { event_type: 'agent_response', source: 'saas', data: { agent: 'a' } };
    expect(run(saas, { ...msg, timestamp: '11/20/2026 09:00' })).toBe('invalid_timestamp: time "11/20/2026 09:00" is not RFC 3339 or epoch');
    // the presets' documented repair stays: a naive ISO time from Python's utcnow() is read as UTC
    expect(run(saas, { ...msg, timestamp: '2026-11-20T09:59:59' })).toBe('accepted');
  });

  it('rejects attributes nested past the depth limit', () => {
    let deep: Record<string, unknown> = {};
    const root = deep;
    for (let i = 0; i < 40; i++) deep = deep.a = {} as Record<string, unknown>;
    expect(reason(() => validateEvent({ ...good, attributes: root }, limits, NOW))).toBe('too_deep: attributes nest deeper than 32 levels');
  });

  it('parseTime treats small numbers as seconds', () => {
    expect(parseTime(1_700_000_000)).toBe(1_700_000_000_000);
    expect(parseTime(1_700_000_000_000)).toBe(1_700_000_000_000);
  });
});
