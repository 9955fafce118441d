import { describe, expect, it } from 'vitest';
import { compileRedaction } from '../../pipeline/redact.js';
import { DeadLetters, type RawRedactor } from './dead-letters.js';

const redactor = (mode: 'mask' | 'remove') =>
  compileRedaction({ fields: ['attributes.api_key', 'attributes.*.password'], mode, mask: '[REDACTED]' }) as RawRedactor;

describe('dead letters under redaction', () => {
  it('keep raw text as it came when no redaction is configured', () => {
    const dl = new DeadLetters(4, 4096);
    const l = dl.make('http', 'invalid_event', 'bad', Buffer.from('{"attributes":{"api_key":"k1"}}'));
    expect(l.raw).toBe('{"attributes":{"api_key":"k1"}}');
    expect(l.redaction).toBeUndefined();
  });

  it('mask the configured fields of a JSON message, bytes or string, at the top level and in CloudEvents data', () => {
    const dl = new DeadLetters(4, 4096, undefined, redactor('mask'));
    const bytes = dl.make('nats', 'invalid_event', 'bad', Buffer.from('{"type":"x","attributes":{"api_key":"k1","db":{"password":"p","user":"u"}}}'));
    expect(JSON.parse(bytes.raw)).toEqual({ type: 'x', attributes: { api_key: '[REDACTED]', db: { password: '[REDACTED]', user: 'u' } } });
    expect(bytes.redaction).toBe('redacted');
    const ce = dl.make('http', 'invalid_event', 'bad', '{"specversion":"0.3","data":{"attributes":{"api_key":"k2"}}}');
    expect(JSON.parse(ce.raw)).toEqual({ specversion: '0.3', data: { attributes: { api_key: '[REDACTED]' } } });
  });

  it('remove them in mode remove, element by element for an array, and for already parsed values', () => {
    const dl = new DeadLetters(4, 4096, undefined, redactor('remove'));
    const arr = dl.make('http', 'invalid_event', 'bad', '[{"attributes":{"api_key":"a"}},{"attributes":{"api_key":"b","keep":1}},3]');
    expect(JSON.parse(arr.raw)).toEqual([{ attributes: {} }, { attributes: { keep: 1 } }, 3]);
    const parsed = dl.make('http', 'not_an_object', 'bad', { attributes: { api_key: 'c', x: 2 } });
    expect(JSON.parse(parsed.raw)).toEqual({ attributes: { x: 2 } });
  });

  it('withhold what cannot be read as JSON (bad UTF-8, truncated JSON, a scalar), keeping only its size', () => {
    const dl = new DeadLetters(4, 4096, undefined, redactor('mask'));
    const badUtf8 = dl.make('redis', 'invalid_encoding', 'bad', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]));
    expect(badUtf8).toMatchObject({ raw: '[withheld: 4 bytes that are not a JSON object or array; redaction is configured]', redaction: 'withheld', truncated: false });
    const truncated = dl.make('http', 'invalid_json', 'bad', '{"attributes":{"api_key":"secret"');
    expect(truncated.raw).toBe('[withheld: 33 bytes that are not a JSON object or array; redaction is configured]');
    expect(truncated.raw).not.toContain('secret');
    expect(dl.make('http', 'not_an_object', 'bad', '"api_key"').redaction).toBe('withheld');
  });

  it('redact a message longer than the raw text kept, then cut the redacted text', () => {
    const dl = new DeadLetters(4, 64, undefined, redactor('mask'));
    const long = Buffer.from(JSON.stringify({ attributes: { pad: 'x'.repeat(400), api_key: 'secret' } }));
    const l = dl.make('nats', 'invalid_event', 'bad', long);
    expect(l.redaction).toBe('redacted');
    expect(l.truncated).toBe(true);
    expect(l.raw).toBe(JSON.stringify({ attributes: { pad: 'x'.repeat(400), api_key: '[REDACTED]' } }).slice(0, 64));
  });
});
