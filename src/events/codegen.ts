// A parser generated from a zod schema as straight-line code: no closure per field, no payload objects,
// one fresh output object per object node. zod's own compiler (z.compile) wraps every optional field and
// union branch in an immediately invoked closure; for the canonical event that allocates more per event
// than JSON.parse does (docs/benchmarks-log.md), because the function is too large for V8 to inline them all.
// Only the node kinds and checks whose meaning is written out below are accepted; anything else is
// refused (CodegenUnsupported) and the caller falls back to zod's compiler. The generated function
// returns the parsed value or z.INVALID, the contract of z.withParser, which runs zod's own parser on
// INVALID so a rejection's issues are zod's. compiled.test.ts checks output, key order and verdicts
// against zod's safeParse on random inputs.
import { z } from 'zod';

export class CodegenUnsupported extends Error {}

interface Ctx {
  consts: unknown[];
  lines: string[];
  vars: number;
  labels: number;
}

// zod's internals, read as zod's own compiler reads them
interface ZodInternals {
  def: Record<string, unknown> & { type: string; checks?: { _zod: { def: Record<string, unknown> & { check: string } } }[] };
  optin?: 'optional' | 'defaulted';
  optout?: 'optional';
  values?: Set<unknown>;
  traits?: Set<string>;
}

const internals = (s: unknown): ZodInternals => (s as { _zod: ZodInternals })._zod;

function constant(ctx: Ctx, value: unknown): string {
  ctx.consts.push(value);
  return `c${ctx.consts.length - 1}`;
}

function newVar(ctx: Ctx): string {
  return `v${ctx.vars++}`;
}

/** whether the emitted check of `schema` lets undefined through (an accepted node kind) */
function passesUndefined(schema: unknown): boolean {
  const zi = internals(schema);
  switch (zi.def.type) {
    case 'string':
    case 'number':
    case 'object':
    case 'record':
      return false;
    case 'enum':
      return zi.values?.has(undefined) ?? true;
    case 'union':
      return (zi.def.options as unknown[]).some(passesUndefined);
    default:
      return true; // unknown, optional, default
  }
}

/**
 * Emits the checks of `schema` on the value in variable `v`; on failure runs `fail` (a return or a
 * break). Returns the expression of the output value.
 */
function emit(ctx: Ctx, schema: unknown, v: string, fail: string): string {
  const zi = internals(schema);
  const def = zi.def;
  if (def.coerce) throw new CodegenUnsupported('coercion');
  const w = (line: string) => ctx.lines.push(line);
  switch (def.type) {
    case 'string': {
      w(`if (typeof ${v} !== "string") ${fail}`);
      for (const chk of def.checks ?? []) {
        const d = chk._zod.def;
        // zod gives length checks a default `when` (skip nullish values) that a string never meets;
        // it cannot be told from a custom one, so, like zod's compiler, it is taken as the default
        if (d.when !== undefined && d.check !== 'min_length' && d.check !== 'max_length') throw new CodegenUnsupported('conditional check');
        if (d.check === 'min_length') {
          // zod counts code points, computing them only when UTF-16 units leave the answer in doubt
          const min = d.minimum as number;
          w(`if ((${v}.length >= ${min} && ${v}.length < ${min * 2} ? cpl(${v}) : ${v}.length) < ${min}) ${fail}`);
        } else if (d.check === 'max_length') {
          const max = d.maximum as number;
          w(`if ((${v}.length > ${max} ? cpl(${v}) : ${v}.length) > ${max}) ${fail}`);
        } else if (d.check === 'string_format' && d.format === 'regex' && d.pattern instanceof RegExp) {
          const re = constant(ctx, d.pattern);
          w(`${re}.lastIndex = 0;`);
          w(`if (!${re}.test(${v})) ${fail}`);
        } else throw new CodegenUnsupported(`string check ${d.check}`);
      }
      return v;
    }
    case 'number': {
      w(`if (typeof ${v} !== "number" || !Number.isFinite(${v})) ${fail}`);
      // bounds (min, max, positive, nonnegative…) as zod's checks compare them; nothing else
      for (const chk of def.checks ?? []) {
        const d = chk._zod.def;
        if (d.when !== undefined) throw new CodegenUnsupported('conditional check');
        const bound = d.value;
        if ((d.check !== 'greater_than' && d.check !== 'less_than') || typeof bound !== 'number' || Number.isNaN(bound)) {
          throw new CodegenUnsupported(`number check ${d.check}`);
        }
        const op = d.check === 'greater_than' ? (d.inclusive ? '>=' : '>') : d.inclusive ? '<=' : '<';
        w(`if (!(${v} ${op} ${constant(ctx, bound)})) ${fail}`);
      }
      return v;
    }
    case 'unknown':
      if (def.checks?.length) throw new CodegenUnsupported('unknown with checks');
      return v;
    case 'enum': {
      if (!zi.values) throw new CodegenUnsupported('enum without values');
      w(`if (!${constant(ctx, zi.values)}.has(${v})) ${fail}`);
      return v;
    }
    case 'optional': {
      if (zi.traits?.has('$ZodExactOptional')) throw new CodegenUnsupported('exact optional');
      const inner = def.innerType;
      if (internals(inner).optin === 'defaulted') throw new CodegenUnsupported('optional default');
      const out = newVar(ctx);
      w(`let ${out};`);
      w(`if (${v} !== undefined) {`);
      w(`${out} = ${emit(ctx, inner, v, fail)};`);
      w('}');
      return out;
    }
    case 'default': {
      const value = def.defaultValue;
      // only a primitive default: an object would need zod's copy per parse
      if (value === undefined || (typeof value === 'object' && value !== null) || typeof value === 'function') throw new CodegenUnsupported('non-primitive default');
      const dv = constant(ctx, value);
      const out = newVar(ctx);
      w(`let ${out};`);
      w(`if (${v} === undefined) ${out} = ${dv};`);
      w('else {');
      const inner = emit(ctx, def.innerType, v, fail);
      w(`${out} = ${inner} === undefined ? ${dv} : ${inner};`);
      w('}');
      return out;
    }
    case 'union': {
      const options = def.options as unknown[];
      if (def.discriminator !== undefined || def.inclusive === false || options.length === 0) throw new CodegenUnsupported('union kind');
      // the first option that accepts the value gives the output, as in zod
      const out = newVar(ctx);
      const done = `L${ctx.labels++}`;
      w(`let ${out};`);
      w(`${done}: {`);
      for (const opt of options) {
        const label = `L${ctx.labels++}`;
        w(`${label}: {`);
        const o = emit(ctx, opt, v, `break ${label};`);
        w(`${out} = ${o};`);
        w(`break ${done};`);
        w('}');
      }
      w(fail);
      w('}');
      return out;
    }
    case 'record': {
      const key = internals(def.keyType);
      const val = internals(def.valueType);
      if (key.def.type !== 'string' || key.def.checks?.length || val.def.type !== 'unknown' || val.def.checks?.length) throw new CodegenUnsupported('record other than string to unknown');
      // as zod copies it: own enumerable string keys but __proto__, and no enumerable symbol key
      const out = newVar(ctx);
      const names = newVar(ctx);
      const syms = newVar(ctx);
      const i = newVar(ctx);
      const k = newVar(ctx);
      w(`if (!isPlainObject(${v})) ${fail}`);
      w(`const ${out} = {};`);
      w(`const ${syms} = Object.getOwnPropertySymbols(${v});`);
      w(`const ${names} = Object.getOwnPropertyNames(${v});`);
      w(`for (let ${i} = 0; ${i} < ${names}.length; ${i}++) {`);
      w(`const ${k} = ${names}[${i}];`);
      w(`if (${k} === "__proto__" || !isEnumerable.call(${v}, ${k})) continue;`);
      w(`${out}[${k}] = ${v}[${k}];`);
      w('}');
      w(`for (let ${i} = 0; ${i} < ${syms}.length; ${i}++) if (isEnumerable.call(${v}, ${syms}[${i}])) ${fail}`);
      return out;
    }
    case 'object': {
      if (def.catchall !== undefined) throw new CodegenUnsupported('object catchall (strict or loose)');
      const shape = def.shape as Record<string, unknown>;
      if (Object.getOwnPropertySymbols(shape).length > 0) throw new CodegenUnsupported('symbol keys');
      const keys = Object.keys(shape);
      if (keys.includes('__proto__')) throw new CodegenUnsupported('__proto__ key');
      if (def.checks?.length) throw new CodegenUnsupported('object checks');
      w(`if (typeof ${v} !== "object" || ${v} === null || Array.isArray(${v})) ${fail}`);
      const outs: [string, string, 'always' | 'if-present'][] = [];
      for (const key of keys) {
        const prop = internals(shape[key]);
        const kx = JSON.stringify(key);
        const pv = newVar(ctx);
        w(`const ${pv} = ${v}[${kx}];`); // read once, as zod does
        let when: 'always' | 'if-present';
        if (prop.optin === 'optional' && prop.optout === 'optional') when = 'if-present';
        else if (prop.optin === 'defaulted' && prop.optout === undefined) when = 'always';
        else if (prop.optin === undefined && prop.optout === undefined && ['string', 'number', 'object', 'union', 'enum', 'record'].includes(prop.def.type)) {
          when = 'always';
          // reading an absent key gives undefined: a check that would pass it needs the key present,
          // which is what zod's runtime asks of a required key
          if (passesUndefined(shape[key])) w(`if (!(${kx} in ${v})) ${fail}`);
        } else throw new CodegenUnsupported(`property ${key}: optin ${prop.optin}, optout ${prop.optout}, ${prop.def.type}`);
        outs.push([kx, emit(ctx, shape[key], pv, fail), when]);
      }
      const out = newVar(ctx);
      // in shape order, like zod's output; an optional key is kept when the input has it, even undefined
      if (outs.every(([, , when]) => when === 'always')) {
        w(`const ${out} = { ${outs.map(([kx, o]) => `${kx}: ${o}`).join(', ')} };`);
        return out;
      }
      w(`const ${out} = {};`);
      for (const [kx, o, when] of outs) w(when === 'always' ? `${out}[${kx}] = ${o};` : `if (${kx} in ${v}) ${out}[${kx}] = ${o};`);
      return out;
    }
    default:
      throw new CodegenUnsupported(`schema type ${def.type}`);
  }
}

/** The generated parser for `schema` (value or z.INVALID); throws CodegenUnsupported for what it cannot model. */
export function generateParser(schema: z.ZodType): (input: unknown) => unknown {
  const ctx: Ctx = { consts: [], lines: [], vars: 0, labels: 0 };
  const out = emit(ctx, schema, 'input', 'return INVALID;');
  ctx.lines.push(`return ${out};`);
  const body = ctx.lines.join('\n');
  // the source is built from the schema alone, never from input
  const consts = ctx.consts.map((_, i) => `const c${i} = c[${i}];\n`).join('');
  const make = new Function('c', 'INVALID', 'cpl', 'isPlainObject', 'isEnumerable', `${consts}return function parse(input) {\n${body}\n};`);
  return make(ctx.consts, z.INVALID, z.util.codePointLength, z.util.isPlainObject, Object.prototype.propertyIsEnumerable) as (input: unknown) => unknown;
}
