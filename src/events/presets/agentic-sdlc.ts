// Preset agentic-sdlc (placeholder until implemented).
import { RejectError } from '../../errors.js';
import type { Preset } from './index.js';

export const agenticSdlc: Preset = {
  name: 'agentic-sdlc',
  defaults: {},
  normalize() {
    throw new RejectError('unmapped', 'preset agentic-sdlc is not implemented yet');
  },
};
