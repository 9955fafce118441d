// Fastify's JSON-schema compilers (@fastify/ajv-compiler and @fastify/fast-json-stringify-compiler),
// loaded the first time a route with a schema needs one instead of when the server is built. No
// route of the exporter declares a schema, so a start never loads ajv (a measurable part of a cold start).
import { createRequire } from 'node:module';
import type { FastifyServerOptions } from 'fastify';
import { requireCjs } from '../util/cjs.js';

type SchemaController = NonNullable<FastifyServerOptions['schemaController']>;
type Factories = NonNullable<SchemaController['compilersFactory']>;
type Builder = (...args: unknown[]) => unknown;

/** The factory fastify would build from `pkg` itself (its own copy, resolved from fastify), made on first call. */
function onDemand(pkg: string): Builder {
  let build: Builder | undefined;
  return (...args) => {
    if (!build) {
      const fromFastify = createRequire(requireCjs.resolve('fastify'));
      build = (fromFastify(pkg) as () => Builder)();
    }
    return build(...args);
  };
}

/**
 * For Fastify's `schemaController` option. Fastify treats a factory given here as "custom", which
 * changes one thing: a route's `headers` schema is not lower-cased for it. No route here has one;
 * a route that adds one should lower-case its header names.
 */
export function onDemandSchemaCompilers(): SchemaController {
  return {
    compilersFactory: {
      buildValidator: onDemand('@fastify/ajv-compiler') as Factories['buildValidator'],
      buildSerializer: onDemand('@fastify/fast-json-stringify-compiler') as Factories['buildSerializer'],
    },
  };
}
