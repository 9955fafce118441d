import { describe, expect, it } from 'vitest';
import { compileRedaction } from './redact.js';
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

describe('dead letters of string messages', () => {
  it('keep a copy, not a slice that holds the whole request body alive', async () => {
    const { setFlagsFromString } = await import('node:v8');
    const { runInNewContext } = await import('node:vm');
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const { splitNdjson } = await import('../sources/http/http.js');
    const dl = new DeadLetters(64, 4096);
    gc();
    // large strings live outside the heap (external), smaller ones in it: count both
    const used = () => process.memoryUsage().heapUsed + process.memoryUsage().external;
    const before = used();
    // 32 ASCII bodies of 512 KiB, each with one bad line that the ring keeps
    for (let i = 0; i < 32; i++) {
      const body = Buffer.from(`{"an unclosed object, long enough to be a view":${i}\n{"pad":"${'x'.repeat(1 << 19)}"}\n`);
      const [bad] = splitNdjson(body);
      expect(typeof bad.data).toBe('string'); // the ASCII path hands out slices of one string
      await dl.record([dl.make('http', 'invalid_json', 'bad', bad.data)]);
    }
    // two collections: the first can leave the freed bodies' external memory for the next one
    gc();
    gc();
    const grownMiB = (used() - before) / 2 ** 20;
    // views would keep all 32 bodies (16 MiB); copies keep a few bytes each. Half the views' size
    // leaves room for what other test files in the same worker allocate meanwhile
    expect(grownMiB).toBeLessThan(8);
    expect(dl.list(1)[0].raw).toBe('{"an unclosed object, long enough to be a view":31');
  });

  it('keep every code unit of the message, a lone surrogate too', () => {
    const dl = new DeadLetters(4, 4096);
    expect(dl.make('redis', 'invalid_json', 'bad', '{"a":"\ud800é"').raw).toBe('{"a":"\ud800é"');
  });
});
