// YAML mappings: turn a foreign message shape into canonical fields with paths, constants and value maps.
import type { MappingConfig } from '../config/schema.js';
import { RejectError } from '../errors.js';

type Obj = Record<string, unknown>;
type Reader = (msg: unknown, subject: string | undefined) => unknown;

const FORBIDDEN = new Set(['__proto__', 'constructor', 'prototype']);

/** Compiles `$.a.b[0]`, `a.b`, `$subject` or `$subject[1]` into a reader. */
export function compilePath(path: string): Reader {
  const subj = /^\$subject(?:\[(\d+)\])?$/.exec(path);
  if (subj) {
    const idx = subj[1] === undefined ? undefined : Number(subj[1]);
    return (_msg, subject) => (subject === undefined ? undefined : idx === undefined ? subject : subject.split('.')[idx]);
  }
  const body = path.replace(/^\$\.?/, '');
  const parts = body === '' ? [] : body.split(/\.|\[(\d+)\]/).filter((p) => p !== undefined && p !== '');
  for (const p of parts) if (FORBIDDEN.has(p)) throw new Error(`path ${path}: segment ${p} is not allowed`);
  return (msg) => {
    let cur: unknown = msg;
    for (const p of parts) {
      if (cur === null || typeof cur !== 'object') return undefined;
      cur = Object.prototype.hasOwnProperty.call(cur, p) ? (cur as Obj)[p] : undefined;
    }
    return cur;
  };
}

export function setDotted(target: Obj, dotted: string, value: unknown): void {
  const parts = dotted.split('.');
  let cur = target;
  for (let i = 0; i < parts.length - 1; i++) {
    const k = parts[i];
    let next = cur[k];
    if (typeof next !== 'object' || next === null) {
      next = {};
      cur[k] = next;
    }
    cur = next as Obj;
  }
  cur[parts[parts.length - 1]] = value;
}

export type Mapper = (msg: unknown, subject: string | undefined) => Obj;

export function compileMapping(cfg: MappingConfig): Mapper {
  const fields = Object.entries(cfg.fields).map(([target, spec]) => {
    for (const p of target.split('.')) if (FORBIDDEN.has(p)) throw new Error(`mapping field ${target} is not allowed`);
    if (typeof spec === 'string') {
      const read = compilePath(spec);
      return { target, get: read };
    }
    const read = spec.from !== undefined ? compilePath(spec.from) : undefined;
    const get: Reader = (msg, subject) => {
      let v: unknown = read ? read(msg, subject) : spec.value;
      if (v === undefined || v === null) v = spec.default;
      if (v !== undefined && spec.map) {
        const key = String(v);
        v = Object.prototype.hasOwnProperty.call(spec.map, key) ? spec.map[key] : spec.default ?? v;
      }
      // stream entries written field by field carry numbers as text: scale those too
      if (typeof v === 'string' && spec.scale !== undefined && v.trim() !== '' && Number.isFinite(Number(v))) v = Number(v);
      if (typeof v === 'number' && spec.scale !== undefined) v = v * spec.scale;
      return v;
    };
    return { target, get };
  });
  const match = cfg.match;
  const matchRead = match ? compilePath(match.path) : undefined;
  const equals = match?.equals === undefined ? undefined : new Set(Array.isArray(match.equals) ? match.equals : [match.equals]);
  return (msg, subject) => {
    if (matchRead) {
      const v = matchRead(msg, subject);
      if (v === undefined || (equals && !equals.has(String(v)))) {
        throw new RejectError('unmapped', `mapping does not apply: ${match!.path} is ${v === undefined ? 'missing' : JSON.stringify(v)}`);
      }
    }
    const out: Obj = {};
    for (const f of fields) {
      const v = f.get(msg, subject);
      if (v !== undefined) setDotted(out, f.target, v);
    }
    return out;
  };
}
