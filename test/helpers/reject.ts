// Runs a function expected to reject an input, and returns the RejectError so a test can check reason and message.
import { RejectError } from '../../src/errors.js';

export function rejectOf(fn: () => unknown): RejectError {
  try {
    fn();
  } catch (err) {
    if (err instanceof RejectError) return err;
    throw err;
  }
  throw new Error('expected a RejectError');
}
