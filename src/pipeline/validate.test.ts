import { describe, expect, it } from 'vitest';
import { configFrom } from '../config/load.js';
import { RejectError } from '../errors.js';
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
    expect(reason(() => validateEvent({ ...good, queue: { name: 'q', depth: -3 } }, limits, NOW))).toMatch(/^invalid_event: queue.depth/);
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
