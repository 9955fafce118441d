// The preset registry matches the config's preset names, and normalization finds each by name.
import { describe, expect, it } from 'vitest';
import { sourceSchema } from '../../config/schema.js';
import { createNormalizer } from '../normalize.js';
import { PRESETS } from './index.js';

describe('PRESETS', () => {
  it('registers exactly the presets the config accepts, under their own names', () => {
    expect(Object.keys(PRESETS).sort()).toEqual(['agentic-sdlc', 'saas-factory', 'swe-ai-fleet']);
    for (const [name, p] of Object.entries(PRESETS)) {
      expect(p.name).toBe(name);
      expect(sourceSchema.safeParse({ kind: 'http', preset: name }).success).toBe(true);
    }
    expect(sourceSchema.safeParse({ kind: 'http', preset: 'nope' }).success).toBe(false);
  });

  it('is what a source configured with `preset` normalizes through', () => {
    const n = createNormalizer({ preset: 'saas-factory' });
    const e = n({ event_type: 'agent_request', data: { request_id: 'r1', agent: 'idea_agent' }, timestamp: '2025-11-20T10:00:00+00:00' }, {}, 0);
    expect([e.type, e.task, e.agent]).toEqual(['task.started', { id: 'r1' }, 'idea_agent']);
    expect(() => createNormalizer({ preset: 'nope' })).toThrow('unknown preset nope; known: swe-ai-fleet, agentic-sdlc, saas-factory');
  });
});
