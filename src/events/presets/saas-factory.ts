// Preset saas-factory (placeholder until implemented).
import { RejectError } from '../../errors.js';
import type { Preset } from './index.js';

export const saasFactory: Preset = {
  name: 'saas-factory',
  defaults: {},
  normalize() {
    throw new RejectError('unmapped', 'preset saas-factory is not implemented yet');
  },
};
