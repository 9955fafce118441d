// The demo kind: generated workflow traffic for `serve --demo` (see ../types.ts).
import type { SourceDescriptor } from '../types.js';
import { DemoSource, spanShare } from './demo.js';
import { demoBudgets } from './generator.js';

export const demo: SourceDescriptor<'demo', DemoSource> = {
  defaultName: 'demo',
  create: (name, config, { logger, metrics, now }) => new DemoSource(name, { rate: config.rate, seed: config.seed, timeScale: config.timeScale, spans: config.spans }, logger, metrics, now),
  acks: false,
  // with spans, its events come out of the otlp mapping and carry trace and span ids
  traceIds: (config) => spanShare(config.spans) > 0,
  // so the budget panel and the burn alert have a denominator in the demo
  agentBudgets: (config) => demoBudgets(config.rate),
};
