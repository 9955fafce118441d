// Validators compiled from zod schemas: the happy path runs a function generated from the schema
// (our straight-line generator, codegen.ts, else zod's own compiler), a failure re-runs zod's parser
// so the error is zod's, word for word.
import { z } from 'zod';
import { CodegenUnsupported, generateParser } from './codegen.js';
import { canonicalEventSchema, type WorkflowEvent } from './schema.js';

export type SafeParse<T> = { success: true; data: T; error?: undefined } | { success: false; data?: undefined; error: z.ZodError };

export interface CompiledValidator<T> {
  (input: unknown): SafeParse<T>;
  /**
   * True when the fast path is generated code. False when neither generator could model the schema:
   * then every call is plain safeParse, correct but slower.
   */
  readonly compiled: boolean;
  /** which generator made the fast path: codegen.ts, zod's z.compile, or none (the runtime parser) */
  readonly compiler: 'codegen' | 'zod' | 'runtime';
}

/**
 * Compiles `schema` once. The schema stays the single source of truth: the generator walks it and
 * emits a specialized parser (a fresh output object, unknown keys stripped, defaults filled, exactly
 * as safeParse would build it); only when that parser rejects does zod's runtime parse again, so
 * error messages and paths are unchanged. A schema codegen.ts cannot model goes to zod's compiler,
 * and one that refuses too to the runtime parser. Equivalence is property-tested in compiled.test.ts.
 */
export function compileValidator<S extends z.ZodType>(schema: S): CompiledValidator<z.output<S>> {
  // compiled on first use, not when built: a process starts without paying for it (a few ms)
  let fast: S | undefined;
  let compiler: CompiledValidator<unknown>['compiler'] = 'runtime';
  const compile = (): S => {
    try {
      fast = z.withParser(schema, generateParser(schema) as (input: unknown) => z.output<S>);
      compiler = 'codegen';
      return fast;
    } catch (err) {
      if (!(err instanceof CodegenUnsupported)) throw err;
    }
    try {
      fast = z.compile(schema, { strict: true });
      compiler = 'zod';
    } catch {
      // an uncompilable schema keeps working on the runtime parser; `compiled` tells the caller
      fast = schema;
    }
    return fast;
  };
  const validate = (input: unknown) => (fast ?? compile()).safeParse(input) as SafeParse<z.output<S>>;
  const which = () => {
    if (!fast) compile();
    return compiler;
  };
  Object.defineProperty(validate, 'compiler', { get: which, enumerable: true });
  return Object.defineProperty(validate, 'compiled', { get: () => which() !== 'runtime', enumerable: true }) as CompiledValidator<z.output<S>>;
}

/** The canonical event schema, compiled when the first event is validated (a few milliseconds, once). */
export const validateCanonical: CompiledValidator<WorkflowEvent> = compileValidator(canonicalEventSchema);
