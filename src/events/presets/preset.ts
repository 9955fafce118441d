// What a preset is: the contract every built-in platform mapping implements; its own file so the
// presets and their index import it without importing each other.
import type { RawMessage } from '../raw.js';

type Obj = Record<string, unknown>;

export interface Preset {
  readonly name: string;
  /**
   * Turns one decoded message into a canonical candidate (validated afterwards), or throws
   * RejectError('unmapped', …) naming what it did not recognise.
   */
  normalize(msg: Obj, raw: RawMessage, nowMs: number): Obj;
  /** where the platform publishes, so `create: true` and docs can use it */
  readonly defaults: {
    nats?: { stream: string; subjects: string[] }[];
    redis?: { keys: string[] };
  };
}
