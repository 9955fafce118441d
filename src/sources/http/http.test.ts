import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
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
});
