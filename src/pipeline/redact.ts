// Redaction: a copy of an event with configured fields masked or removed, made before events reach the
// tail, its history and the export; metrics never carry these fields (attributes are never labels).
import type { Config } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import type { WorkflowEvent } from '../events/schema.js';

export const DEFAULT_MASK = '[REDACTED]';
// the tail resumes by id, filters by type and orders by time: those cannot be hidden from it
const PROTECTED = new Set(['id', 'type', 'time']);

export type RedactConfig = Config['redact'];
export type Redactor = (event: WorkflowEvent) => WorkflowEvent;

const REMOVE = Symbol('remove');

/** Parses `attributes.user.*.token` into segments; fails naming the config path of a bad entry. */
export function parseRedactPath(field: string, where: string): string[] {
  const segs = field.split('.');
  if (segs.some((s) => s === '')) throw new ConfigError(`${where}: ${JSON.stringify(field)} has an empty segment`, [{ path: where, message: 'empty segment' }]);
  if (PROTECTED.has(segs[0])) {
    throw new ConfigError(`${where}: ${segs[0]} cannot be redacted (the tail needs id, type and time)`, [{ path: where, message: 'protected field' }]);
  }
  return segs;
}

/**
 * The redactor for a config, or undefined when nothing is configured (no cost then). Paths are
 * dotted; `*` matches every key of an object or every element of an array at its level. The copy
 * shares every branch it did not touch with the original, which the other sinks still read.
 */
export function compileRedaction(cfg: RedactConfig): Redactor | undefined {
  if (cfg.fields.length === 0) return undefined;
  const paths = cfg.fields.map((f, i) => parseRedactPath(f, `redact.fields.${i}`));
  const replacement = cfg.mode === 'remove' ? REMOVE : cfg.mask;
  return (event) => {
    let out: unknown = event;
    for (const p of paths) out = redactAt(out, p, 0, replacement);
    return out as WorkflowEvent;
  };
}

function redactAt(node: unknown, path: string[], depth: number, replacement: string | typeof REMOVE): unknown {
  if (node === null || typeof node !== 'object') return node;
  const seg = path[depth];
  const last = depth === path.length - 1;
  const isArray = Array.isArray(node);
  const src = node as Record<string, unknown>;
  const keys = seg === '*' ? Object.keys(src) : Object.hasOwn(src, seg) ? [seg] : [];
  let copy: Record<string, unknown> | undefined;
  let removed = false;
  for (const k of keys) {
    const next = last ? replacement : redactAt(src[k], path, depth + 1, replacement);
    if (next === src[k]) continue;
    copy ??= (isArray ? [...(node as unknown[])] : { ...src }) as Record<string, unknown>;
    if (next === REMOVE) {
      if (isArray) {
        copy[k] = REMOVE;
        removed = true;
      } else delete copy[k];
    } else copy[k] = next;
  }
  if (!copy) return node;
  return removed ? (copy as unknown as unknown[]).filter((v) => v !== REMOVE) : copy;
}
