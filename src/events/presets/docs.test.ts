// docs/PRESETS.md stays true: every config example validates, and names the presets and streams the code has.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { configSchema } from '../../config/schema.js';
import { PRESETS } from './index.js';

const doc = readFileSync(new URL('../../../docs/PRESETS.md', import.meta.url), 'utf8');
const yamlBlocks = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]);

describe('docs/PRESETS.md', () => {
  it('has a config example per preset plus the intro one, and each validates', () => {
    expect(yamlBlocks.length).toBe(4);
    const presets = yamlBlocks.map((y) => {
      const parsed = configSchema.safeParse(parseYaml(y));
      expect(parsed.success, parsed.success ? '' : JSON.stringify(parsed.error.issues)).toBe(true);
      return parsed.success ? parsed.data.sources.map((s) => s.preset) : [];
    });
    expect(presets).toEqual([['saas-factory'], ['swe-ai-fleet'], ['agentic-sdlc'], ['saas-factory']]);
  });

  it('documents each preset and the streams its defaults name', () => {
    for (const p of Object.values(PRESETS)) {
      expect(doc).toContain(`## ${p.name}`);
      for (const s of p.defaults.nats ?? []) expect(doc).toContain(`{ stream: ${s.stream}, subjects: ["${s.subjects[0]}"]`);
      for (const k of p.defaults.redis?.keys ?? []) expect(doc).toContain(`      - ${k}`);
    }
  });
});
