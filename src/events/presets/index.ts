// Built-in presets: the event shapes of the platforms our first users run, mapped onto canonical events.
import { agenticSdlc } from './agentic-sdlc.js';
import { saasFactory } from './saas-factory.js';
import { sweAiFleet } from './swe-ai-fleet.js';
import type { Preset } from './preset.js';

export const PRESETS: Record<string, Preset> = {
  [sweAiFleet.name]: sweAiFleet,
  [agenticSdlc.name]: agenticSdlc,
  [saasFactory.name]: saasFactory,
};
