// Validators compiled from zod schemas: the happy path runs a function generated from the schema
// (zod's own compiler, new Function), a failure re-runs zod's parser so the error is zod's, word for word.
import { z } from 'zod';
import { canonicalEventSchema, type WorkflowEvent } from './schema.js';

export type SafeParse<T> = { success: true; data: T; error?: undefined } | { success: false; data?: undefined; error: z.ZodError };

export interface CompiledValidator<T> {
  (input: unknown): SafeParse<T>;
  /**
   * True when the fast path is generated code. False when zod refused to compile the schema (a
   * feature its compiler cannot model): then every call is plain safeParse, correct but slower.
   */
  readonly compiled: boolean;
}

/**
 * Compiles `schema` once. The schema stays the single source of truth: zod walks it and generates a
 * specialized parser (a fresh output object, unknown keys stripped, defaults filled, exactly as
 * safeParse would build it); only when that parser rejects does zod's runtime parse again, so error
 * messages and paths are unchanged. Equivalence is property-tested in compiled.test.ts.
 */
export function compileValidator<S extends z.ZodType>(schema: S): CompiledValidator<z.output<S>> {
  // compiled on first use, not when built: a process starts without paying for it (a few ms)
  let fast: S | undefined;
  let compiled = false;
  const compile = (): S => {
    try {
      fast = z.compile(schema, { strict: true });
      compiled = true;
    } catch {
      // an uncompilable schema keeps working on the runtime parser; `compiled` tells the caller
      fast = schema;
    }
    return fast;
  };
  const validate = (input: unknown) => (fast ?? compile()).safeParse(input) as SafeParse<z.output<S>>;
  return Object.defineProperty(validate, 'compiled', {
    get: () => {
      if (!fast) compile();
      return compiled;
    },
    enumerable: true,
  }) as CompiledValidator<z.output<S>>;
}

/** The canonical event schema, compiled when the first event is validated (a few milliseconds, once). */
export const validateCanonical: CompiledValidator<WorkflowEvent> = compileValidator(canonicalEventSchema);
