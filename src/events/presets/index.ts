// Built-in presets: the event shapes of the platforms our first users run, mapped onto canonical events.
import type { RawMessage } from '../../pipeline/types.js';
import { agenticSdlc } from './agentic-sdlc.js';
import { saasFactory } from './saas-factory.js';
import { sweAiFleet } from './swe-ai-fleet.js';

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

export const PRESETS: Record<string, Preset> = {
  [sweAiFleet.name]: sweAiFleet,
  [agenticSdlc.name]: agenticSdlc,
  [saasFactory.name]: saasFactory,
};
