// A validator built from a zod schema against zod's own safeParse: same verdict, same output in the
// same key order, same issues. Shared by the generated-parser and compiled-validator tests.
import { expect } from 'vitest';
import { z } from 'zod';

/** Keys in order, recursively: a generated output must be built in the same order as zod's. */
export function keyOrder(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return typeof v;
  if (Array.isArray(v)) return v.map(keyOrder);
  return Object.keys(v).map((k) => [k, keyOrder((v as Record<string, unknown>)[k])]);
}

type Result = { success: boolean; data?: unknown; error?: z.ZodError };

/**
 * Expects `validate` (safeParse-shaped) and `parse` (the generated code alone: value or z.INVALID)
 * to agree with `schema.safeParse` on `input`; returns zod's verdict. The generated code is checked
 * on its own because a false rejection would otherwise hide behind the fallback to zod's runtime
 * (the right answer, at twice the work), and a false acceptance would be returned as it is.
 */
export function expectZodAgreement(schema: z.ZodType, parse: (input: unknown) => unknown, validate: (input: unknown) => Result, input: unknown): boolean {
  const zod = schema.safeParse(input);
  const mine = validate(input);
  expect(parse(input) !== z.INVALID).toBe(zod.success);
  expect(mine.success).toBe(zod.success);
  if (zod.success) {
    expect(mine.data).toStrictEqual(zod.data);
    expect(keyOrder(mine.data)).toEqual(keyOrder(zod.data));
    expect(mine.data).not.toBe(input); // a fresh object, like zod's: callers may mutate it
  } else {
    expect(mine.error!.issues).toStrictEqual(zod.error.issues);
    expect(mine.error!.message).toBe(zod.error.message);
  }
  return zod.success;
}
