// Decode and validate: bytes to JSON, candidate to canonical event, with a counted reason on failure.
import type { Config } from '../config/schema.js';
import { RejectError } from '../errors.js';
import { validateCanonical } from '../events/compiled.js';
import type { WorkflowEvent } from '../events/schema.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function decode(data: string | Uint8Array, maxBytes: number): unknown {
  let text: string;
  if (typeof data === 'string') {
    // length is UTF-16 units; a cheap bound that never under-counts by more than 3x
    if (data.length > maxBytes) throw new RejectError('too_large', `message of ${data.length} characters exceeds ${maxBytes} bytes`);
    text = data;
  } else {
    if (data.byteLength > maxBytes) throw new RejectError('too_large', `message of ${data.byteLength} bytes exceeds ${maxBytes}`);
    try {
      text = utf8.decode(data);
    } catch (cause) {
      throw new RejectError('invalid_encoding', 'message is not valid UTF-8', { cause });
    }
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new RejectError('invalid_json', `not valid JSON: ${(cause as Error).message}`, { cause });
  }
}

/** Epoch ms from an RFC 3339 string or a number (seconds below 1e11, else milliseconds). */
export function parseTime(t: string | number): number {
  if (typeof t === 'number') return t < 1e11 ? t * 1000 : t;
  return Date.parse(t);
}

function depthExceeds(v: unknown, max: number): boolean {
  if (v === null || typeof v !== 'object') return false;
  if (max <= 0) return true;
  for (const k in v as object) {
    if (depthExceeds((v as Record<string, unknown>)[k], max - 1)) return true;
  }
  return false;
}

export type Limits = Config['validation'];

export interface Validated {
  event: WorkflowEvent;
  timeMs: number;
}

export function validateEvent(candidate: Record<string, unknown>, limits: Limits, nowMs: number): Validated {
  // compiled from the zod schema: generated code on the happy path, zod's own issue on failure
  const parsed = validateCanonical(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue.path.map(String).join('.') || '(event)';
    throw new RejectError('invalid_event', `${path}: ${issue.message}`);
  }
  const event = parsed.data;
  const timeMs = parseTime(event.time);
  if (!Number.isFinite(timeMs)) throw new RejectError('invalid_timestamp', `time ${JSON.stringify(event.time)} is not RFC 3339 or epoch`);
  if (timeMs < nowMs - limits.maxPastSeconds * 1000) {
    throw new RejectError('invalid_timestamp', `time ${event.time} is more than ${limits.maxPastSeconds}s in the past`);
  }
  if (timeMs > nowMs + limits.maxFutureSeconds * 1000) {
    throw new RejectError('invalid_timestamp', `time ${event.time} is more than ${limits.maxFutureSeconds}s in the future`);
  }
  if (typeof event.time === 'number') event.time = new Date(timeMs).toISOString();
  const d = event.duration_ms;
  if (d !== undefined && (!Number.isFinite(d) || d < 0 || d > limits.maxDurationSeconds * 1000)) {
    throw new RejectError('invalid_duration', `duration_ms ${d} must be between 0 and ${limits.maxDurationSeconds * 1000}`);
  }
  if (event.queue && (!Number.isFinite(event.queue.depth) || event.queue.depth < 0)) {
    throw new RejectError('invalid_event', `queue.depth ${event.queue.depth} must be a finite non-negative number`);
  }
  for (const k of ['tokens_in', 'tokens_out', 'cost_usd'] as const) {
    const v = event[k];
    if (v !== undefined && (!Number.isFinite(v) || v < 0)) throw new RejectError('invalid_event', `${k} ${v} must be a finite non-negative number`);
  }
  if (event.attributes && depthExceeds(event.attributes, limits.maxDepth)) {
    throw new RejectError('too_deep', `attributes nest deeper than ${limits.maxDepth} levels`);
  }
  return { event, timeMs };
}
