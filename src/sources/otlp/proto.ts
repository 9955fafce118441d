// The OTLP trace messages, from the official opentelemetry-proto files (proto/, tag v1.11.0) loaded by protobufjs.
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type * as Protobuf from 'protobufjs';
import { requireCjs } from '../../util/cjs.js';

// required, not imported: see util/cjs.ts
const protobuf = requireCjs('protobufjs') as typeof Protobuf;

/** The vendored .proto files; `npm run build` copies them beside the compiled module. */
export const PROTO_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'proto');
const SERVICE_FILE = 'opentelemetry/proto/collector/trace/v1/trace_service.proto';

/** A long.js value, as protobufjs decodes fixed64 / int64 (the part of its API used here). */
export interface LongValue {
  /** the high and low 32 bits, as signed 32-bit integers */
  high: number;
  low: number;
  toNumber(): number;
  toSigned(): LongValue;
  subtract(other: LongValue): LongValue;
  divide(n: number): LongValue;
  modulo(n: number): LongValue;
}
/** fixed64 / int64 as decoded: long.js, or a plain number when built from a small JSON number */
export type Long = LongValue | number;

export interface AnyValue {
  /** the name of the oneof member that is set (protobufjs virtual oneof field) */
  value?: 'stringValue' | 'boolValue' | 'intValue' | 'doubleValue' | 'arrayValue' | 'kvlistValue' | 'bytesValue' | 'stringValueStrindex';
  stringValue?: string;
  boolValue?: boolean;
  intValue?: Long;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
  kvlistValue?: { values?: KeyValue[] };
  bytesValue?: Uint8Array;
  stringValueStrindex?: number;
}
export interface KeyValue {
  key: string;
  value?: AnyValue;
}
export interface Span {
  traceId: Uint8Array;
  spanId: Uint8Array;
  parentSpanId: Uint8Array;
  name: string;
  kind: number;
  startTimeUnixNano: Long;
  endTimeUnixNano: Long;
  attributes?: KeyValue[];
  status?: { code?: number; message?: string };
}
export interface ScopeSpans {
  scope?: { name?: string; version?: string };
  spans?: Span[];
}
export interface ResourceSpans {
  resource?: { attributes?: KeyValue[] };
  scopeSpans?: ScopeSpans[];
}
export interface ExportTraceServiceRequest {
  resourceSpans?: ResourceSpans[];
}
export interface ExportTraceServiceResponse {
  partialSuccess?: { rejectedSpans?: number; errorMessage?: string };
}

export interface OtlpTypes {
  request: Protobuf.Type;
  response: Protobuf.Type;
  /** google.rpc.Status, the body of an OTLP/HTTP failure */
  status: Protobuf.Type;
}

let types: OtlpTypes | undefined;

/** Parses the .proto files once per process; every receiver shares the types. */
export function otlpTypes(): OtlpTypes {
  if (types) return types;
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => path.join(PROTO_DIR, target);
  root.loadSync(SERVICE_FILE);
  // google/rpc/status.proto's two fields an OTLP answer uses (details, field 3, is left out)
  root.add(
    new protobuf.Namespace('google').add(
      new protobuf.Namespace('rpc').add(new protobuf.Type('Status').add(new protobuf.Field('code', 1, 'int32')).add(new protobuf.Field('message', 2, 'string'))),
    ),
  );
  root.resolveAll();
  plainOneofName(root.lookupType('opentelemetry.proto.common.v1.AnyValue'), 'value');
  types = {
    status: root.lookupType('google.rpc.Status'),
    request: root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest'),
    response: root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse'),
  };
  return types;
}

/**
 * protobufjs gives a oneof a virtual property whose setter deletes every other member from the
 * message; the decoder sets it once per member read, so each attribute value paid seven deletes
 * (7% of the exporter's CPU at full load). Here the oneof's name is a plain field of the prototype
 * instead: the decoder still writes the name of the member it read last (the one proto3 keeps), and a
 * message built by fromObject, which never writes it, leaves it undefined (valueKind reads the member
 * then). Decoding is otherwise unchanged, the same generated code of the same library.
 */
function plainOneofName(type: Protobuf.Type, oneof: string): void {
  // the accessor is not configurable: a prototype in front of it holds the plain field
  const ctor = type.ctor as { prototype: object };
  const front = Object.create(ctor.prototype) as object;
  Object.defineProperty(front, oneof, { value: undefined, writable: true, enumerable: false, configurable: true });
  Object.defineProperty(front, 'constructor', { value: ctor, writable: true, enumerable: false, configurable: true });
  ctor.prototype = front;
}

const ANY_VALUE_MEMBERS = ['stringValue', 'boolValue', 'intValue', 'doubleValue', 'arrayValue', 'kvlistValue', 'bytesValue', 'stringValueStrindex'] as const;

/** The member of an AnyValue that is set: the decoder names it, a message built from JSON is asked. */
export function valueKind(v: AnyValue): AnyValue['value'] {
  if (v.value !== undefined) return v.value;
  for (const k of ANY_VALUE_MEMBERS) if (Object.hasOwn(v, k) && v[k] !== undefined && v[k] !== null) return k;
  return undefined;
}

/** An OTLP body that is not a well-formed message of the expected type. */
export class OtlpDecodeError extends Error {}

/** Binary protobuf (application/x-protobuf). */
export function decodeProtobuf(body: Uint8Array): ExportTraceServiceRequest {
  try {
    return otlpTypes().request.decode(body) as unknown as ExportTraceServiceRequest;
  } catch (err) {
    throw new OtlpDecodeError(`undecodable protobuf ExportTraceServiceRequest: ${(err as Error).message}`, { cause: err });
  }
}

const HEX = /^[0-9a-fA-F]*$/;

/**
 * OTLP/JSON replaces the proto3 JSON mapping in one place: trace and span ids are hex, not base64.
 * They are turned into bytes here; everything else (camelCase names, enums as integers, 64-bit
 * integers as strings or numbers, unknown fields ignored) is protobufjs' fromObject.
 */
function hexIds(o: Record<string, unknown>, keys: readonly string[]): void {
  for (const k of keys) {
    const v = o[k];
    if (typeof v !== 'string') continue;
    if (v.length % 2 !== 0 || !HEX.test(v)) throw new OtlpDecodeError(`${k} ${JSON.stringify(v.slice(0, 40))} is not hex`);
    o[k] = Buffer.from(v, 'hex');
  }
}
const SPAN_IDS = ['traceId', 'spanId', 'parentSpanId'] as const;
const LINK_IDS = ['traceId', 'spanId'] as const;

const asArray = (v: unknown): Record<string, unknown>[] => (Array.isArray(v) ? (v as Record<string, unknown>[]) : []);

/** OTLP/JSON (application/json). */
export function decodeJson(body: Uint8Array): ExportTraceServiceRequest {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
  } catch (err) {
    throw new OtlpDecodeError(`undecodable JSON ExportTraceServiceRequest: ${(err as Error).message}`, { cause: err });
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new OtlpDecodeError('JSON ExportTraceServiceRequest must be an object');
  try {
    for (const rs of asArray((value as Record<string, unknown>).resourceSpans)) {
      for (const ss of asArray(rs?.scopeSpans)) {
        for (const span of asArray(ss?.spans)) {
          if (span === null || typeof span !== 'object') continue;
          hexIds(span, SPAN_IDS);
          for (const link of asArray(span.links)) if (link && typeof link === 'object') hexIds(link, LINK_IDS);
        }
      }
    }
    return otlpTypes().request.fromObject(value) as unknown as ExportTraceServiceRequest;
  } catch (err) {
    if (err instanceof OtlpDecodeError) throw err;
    throw new OtlpDecodeError(`invalid JSON ExportTraceServiceRequest: ${(err as Error).message}`, { cause: err });
  }
}

export function encodeResponseProtobuf(res: ExportTraceServiceResponse): Uint8Array {
  const t = otlpTypes().response;
  return t.encode(t.fromObject(res)).finish();
}

export function encodeStatusProtobuf(code: number, message: string): Uint8Array {
  const t = otlpTypes().status;
  return t.encode(t.create({ code, message })).finish();
}

/** The JSON answer, with rejected_spans as a number (the JS and Go exporters read both forms). */
export function encodeResponseJson(res: ExportTraceServiceResponse): string {
  return JSON.stringify(res);
}
