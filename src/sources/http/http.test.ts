import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RejectError } from '../../errors.js';
import { decode } from '../../pipeline/validate.js';
import { splitJson, splitNdjson } from './http.js';

const texts = (body: string) => splitJson(Buffer.from(body)).map((m) => (m.data as Buffer).toString('utf8'));

describe('splitJson', () => {
  it('cuts a JSON array into its top-level elements as raw text, whitespace trimmed', () => {
    expect(texts(' [ {"a":[1,2,{"b":"],}"}]} , 2,"x\\"]," ,null, [ [] ] ]\n')).toEqual(['{"a":[1,2,{"b":"],}"}]}', '2', '"x\\"],"', 'null', '[ [] ]']);
    expect(texts('[]')).toEqual([]);
    expect(texts('{"id":"one"}')).toEqual(['{"id":"one"}']);
  });

  it('keeps a body that is not a well-formed array whole, to be counted as invalid JSON', () => {
    for (const bad of ['[1,,2]', '[1,]', '[,1]', '[1', '[1]]', '[1] 2', '[{"a":1]', '["open', '[1}', '[}]']) {
      expect(texts(bad)).toEqual([bad]);
    }
  });

  it('gives back exactly the elements JSON.parse sees, for any array', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue(), { maxLength: 20 }), fc.boolean(), (arr, pretty) => {
        const body = JSON.stringify(arr, null, pretty ? 2 : undefined);
        expect(texts(body).map((t) => JSON.parse(t))).toEqual(JSON.parse(body));
      }),
      { numRuns: 300 },
    );
  });

  it('splits NDJSON on LF and CRLF, skipping empty lines', () => {
    expect(splitNdjson(Buffer.from('{"a":1}\r\n\n{"b":2}\n')).map((m) => String(m.data))).toEqual(['{"a":1}', '{"b":2}']);
  });

  it('hands out text for an all-ASCII body and bytes otherwise, so bad UTF-8 is still one line\'s rejection', () => {
    const ascii = splitNdjson(Buffer.from('{"a":1}\n{"b":"x"}\n'));
    expect(ascii.map((m) => typeof m.data)).toEqual(['string', 'string']);
    const arr = splitJson(Buffer.from('[{"a":1},{"b":2}]'));
    expect(arr.map((m) => typeof m.data)).toEqual(['string', 'string']);

    const mixed = splitNdjson(Buffer.concat([Buffer.from('{"name":"café"}\n{"bad":"'), Buffer.from([0xff]), Buffer.from('"}\n{"c":3}')]));
    expect(mixed.every((m) => Buffer.isBuffer(m.data))).toBe(true);
    expect(decode(mixed[0].data!, 1000)).toEqual({ name: 'café' });
    expect(() => decode(mixed[1].data!, 1000)).toThrow(RejectError);
    expect(decode(mixed[2].data!, 1000)).toEqual({ c: 3 });
  });

  it('counts bytes against the size limit on both paths', () => {
    const line = `{"p":"${'x'.repeat(90)}"}`; // 99 bytes
    for (const body of [Buffer.from(`${line}\n`), Buffer.from(`${line.slice(0, -3)}é"}\n`)]) {
      const [m] = splitNdjson(body);
      expect(() => decode(m.data!, Buffer.byteLength(String(m.data)) - 1)).toThrow(/exceeds/);
      expect(() => decode(m.data!, Buffer.byteLength(String(m.data)))).not.toThrow();
    }
  });

  it('gives back every line\'s value, as text or as bytes, for any NDJSON', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue(), { maxLength: 20 }), fc.boolean(), (values, crlf) => {
        const body = Buffer.from(values.map((v) => JSON.stringify(v)).join(crlf ? '\r\n' : '\n'), 'utf8');
        const msgs = splitNdjson(body);
        expect(msgs.map((m) => decode(m.data!, 1 << 20))).toEqual(values.map((v) => JSON.parse(JSON.stringify(v))));
      }),
      { numRuns: 300 },
    );
  });
});
