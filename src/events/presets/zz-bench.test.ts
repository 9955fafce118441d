import { readFileSync } from 'node:fs';
import { it } from 'vitest';
import { PRESETS } from './index.js';
const rd = (p: string) => readFileSync('test/fixtures/presets/' + p, 'utf8');
it('bench', () => {
  const swe = JSON.parse(rd('swe-ai-fleet/messages.json')).map((m: any) => [m.payload, { subject: m.subject }]);
  const ag = JSON.parse(rd('agentic-sdlc/entries.json')).map((e: any) => {
    const f = Object.fromEntries(Object.entries(e.fields).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
    return ['data' in f ? JSON.parse(f.data as string) : f, { subject: 'workflow:events' }];
  });
  const saas = rd('saas-factory/events.ndjson').split('\n').filter(Boolean).map((l) => [JSON.parse(l), {}]);
  for (const [name, set] of [['swe-ai-fleet', swe], ['agentic-sdlc', ag], ['saas-factory', saas]] as const) {
    const p = PRESETS[name];
    const res: string[] = [];
    for (let r = 0; r < 5; r++) {
      const N = 200_000;
      const t0 = performance.now();
      for (let i = 0; i < N; i++) { const [m, raw] = set[i % set.length]; p.normalize(m, raw, 0); }
      res.push((((performance.now() - t0) * 1000) / N).toFixed(2));
    }
    console.log(`${name}: ${res.join(' ')} us/event`);
  }
}, 120000);
