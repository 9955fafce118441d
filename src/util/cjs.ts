// CommonJS packages on the start-up path are loaded with require(), not import. Importing a CommonJS
// module from an ES module makes Node read its source (and that of every module it re-exports) with
// its export lexer before running it; for fastify, its helmet and websocket plugins, pino, prom-client
// and ws together that was about a third longer imported than required, most of a second of cold
// start being module loading (figures: docs/benchmarks-log.md, "Figures behind code comments"). Types still come from `import type`.
import { createRequire } from 'node:module';

export const requireCjs = createRequire(import.meta.url);

/** prom-client, required (a third faster to load than imported) */
export const promClient = requireCjs('prom-client') as typeof import('prom-client');
