// Unit tests of redaction: masks and removals at exact paths and wildcards, the original untouched.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import type { WorkflowEvent } from '../events/schema.js';
import { compileRedaction } from './redact.js';

const event = (): WorkflowEvent =>
  ({
    id: 'e1',
    type: 'agent.request',
    time: '2026-01-01T00:00:00.000Z',
    source: 'orchestrator',
    agent: 'coder',
    priority: 'normal',
    workflow: { id: 'wf-1', type: 'feature' },
    attributes: {
      api_key: 'sk-live-123',
      user: { email: 'a@example.com', name: 'Ada' },
      headers: { authorization: 'Bearer x', accept: 'json' },
      messages: [
        { role: 'user', content: 'secret prompt' },
        { role: 'assistant', content: 'secret answer' },
      ],
      keep: 1,
    },
  }) as WorkflowEvent;

describe('compileRedaction', () => {
  it('is undefined when nothing is configured', () => {
    expect(compileRedaction({ fields: [], mode: 'mask', mask: '[REDACTED]' })).toBeUndefined();
  });

  it('masks exact paths and wildcards, and leaves the original event untouched', () => {
    const r = compileRedaction({ fields: ['attributes.api_key', 'attributes.user.email', 'attributes.messages.*.content', 'attributes.missing.deep'], mode: 'mask', mask: '***' })!;
    const original = event();
    const before = structuredClone(original);
    const out = r(original);
    expect(out.attributes).toEqual({
      api_key: '***',
      user: { email: '***', name: 'Ada' },
      headers: { authorization: 'Bearer x', accept: 'json' },
      messages: [
        { role: 'user', content: '***' },
        { role: 'assistant', content: '***' },
      ],
      keep: 1,
    });
    expect(original).toEqual(before);
    // untouched branches are shared, not copied
    expect((out.attributes as Record<string, unknown>).headers).toBe((original.attributes as Record<string, unknown>).headers);
  });

  it('removes keys and array elements in remove mode; a wildcard over an object masks every value', () => {
    const remove = compileRedaction({ fields: ['attributes.api_key', 'attributes.messages.1', 'agent'], mode: 'remove', mask: '[REDACTED]' })!;
    const out = remove(event());
    expect(out.agent).toBeUndefined();
    expect('agent' in out).toBe(false);
    expect(out.attributes).not.toHaveProperty('api_key');
    expect((out.attributes as { messages: unknown[] }).messages).toEqual([{ role: 'user', content: 'secret prompt' }]);
    const mask = compileRedaction({ fields: ['attributes.headers.*'], mode: 'mask', mask: '[REDACTED]' })!;
    expect((mask(event()).attributes as Record<string, unknown>).headers).toEqual({ authorization: '[REDACTED]', accept: '[REDACTED]' });
  });

  it('returns the same object when no configured field is present', () => {
    const r = compileRedaction({ fields: ['attributes.password'], mode: 'mask', mask: '[REDACTED]' })!;
    const e = event();
    expect(r(e)).toBe(e);
  });

  it('refuses id, type and time and empty segments, naming the config path', () => {
    expect(() => compileRedaction({ fields: ['attributes.a', 'id'], mode: 'mask', mask: 'x' })).toThrow(ConfigError);
    expect(() => compileRedaction({ fields: ['time'], mode: 'mask', mask: 'x' })).toThrow(/redact.fields.0: time cannot be redacted/);
    expect(() => compileRedaction({ fields: ['attributes..x'], mode: 'mask', mask: 'x' })).toThrow(/redact.fields.0: .* empty segment/);
  });

  it('never follows a __proto__ key into the prototype', () => {
    const e = JSON.parse('{"id":"p","type":"t.x","time":"2026-01-01T00:00:00Z","source":"s","attributes":{"__proto__":{"token":"t"}}}') as WorkflowEvent;
    const r = compileRedaction({ fields: ['attributes.__proto__.token'], mode: 'mask', mask: 'M' })!;
    const out = r(e);
    expect(Object.getPrototypeOf(out.attributes)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).token).toBeUndefined();
  });
});
