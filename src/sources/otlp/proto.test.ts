import { describe, expect, it } from 'vitest';
import { otlpTypes, valueKind, type AnyValue } from './proto.js';

const anyValue = () => otlpTypes().request.root.lookupType('opentelemetry.proto.common.v1.AnyValue');

describe('AnyValue oneof as a plain field', () => {
  it('names the member the decoder read, the last one on the wire as proto3 keeps', () => {
    const t = anyValue();
    // field 1 (string "a") then field 3 (int64 7): two members of the oneof in one message
    const wire = Uint8Array.from([0x0a, 0x01, 0x61, 0x18, 0x07]);
    const v = t.decode(wire) as unknown as AnyValue;
    expect(valueKind(v)).toBe('intValue');
    expect(Number(v.intValue)).toBe(7);
    const s = t.decode(Uint8Array.from([0x0a, 0x01, 0x61])) as unknown as AnyValue;
    expect(valueKind(s)).toBe('stringValue');
    expect(s.stringValue).toBe('a');
  });

  it('finds the member of a message built from JSON, which never names it', () => {
    const t = anyValue();
    expect(valueKind(t.fromObject({ boolValue: false }) as unknown as AnyValue)).toBe('boolValue');
    expect(valueKind(t.fromObject({ doubleValue: 1.5 }) as unknown as AnyValue)).toBe('doubleValue');
    expect(valueKind(t.fromObject({}) as unknown as AnyValue)).toBeUndefined();
  });

  it('keeps decoded messages instances of their type', () => {
    const t = anyValue();
    const v = t.decode(Uint8Array.from([0x10, 0x01]));
    expect(v).toBeInstanceOf(t.ctor);
    expect((v as unknown as AnyValue).boolValue).toBe(true);
  });
});
