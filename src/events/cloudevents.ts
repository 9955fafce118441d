// CloudEvents 1.0 structured JSON mode onto the canonical event.
import { RejectError } from '../errors.js';
import { LIFECYCLE_TYPES } from './schema.js';

type Obj = Record<string, unknown>;

const KNOWN = new Set<string>(LIFECYCLE_TYPES);

export function isCloudEvent(v: Obj): boolean {
  return v.specversion !== undefined;
}

/**
 * Reverse-DNS types such as `com.acme.workflow.task.completed` end in a canonical type;
 * take the longest known suffix so dashboards see `task.completed`.
 */
export function canonicalType(t: string): string {
  if (KNOWN.has(t)) return t;
  const parts = t.split('.');
  for (let i = 1; i < parts.length - 1; i++) {
    const suffix = parts.slice(i).join('.');
    if (KNOWN.has(suffix)) return suffix;
  }
  return t;
}

export function fromCloudEvent(v: Obj): Obj {
  if (v.specversion !== '1.0') {
    throw new RejectError('invalid_cloudevent', `unsupported specversion ${JSON.stringify(v.specversion)}; only 1.0 is accepted`);
  }
  for (const k of ['id', 'source', 'type'] as const) {
    if (typeof v[k] !== 'string' || v[k] === '') throw new RejectError('invalid_cloudevent', `CloudEvent attribute ${k} is required`);
  }
  if (v.data_base64 !== undefined) throw new RejectError('invalid_cloudevent', 'data_base64 is not supported; send JSON data');
  const data = v.data;
  if (data !== undefined && (data === null || typeof data !== 'object' || Array.isArray(data))) {
    throw new RejectError('invalid_cloudevent', 'CloudEvent data must be a JSON object');
  }
  const out: Obj = { ...(data as Obj | undefined) };
  out.id = v.id;
  out.type = canonicalType(v.type as string);
  out.source = v.source;
  out.time = v.time ?? out.time;
  return out;
}
