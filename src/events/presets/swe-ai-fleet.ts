// Preset swe-ai-fleet (placeholder until implemented).
import { RejectError } from '../../errors.js';
import type { Preset } from './index.js';

export const sweAiFleet: Preset = {
  name: 'swe-ai-fleet',
  defaults: {},
  normalize() {
    throw new RejectError('unmapped', 'preset swe-ai-fleet is not implemented yet');
  },
};
