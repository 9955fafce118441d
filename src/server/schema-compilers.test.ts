import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { onDemandSchemaCompilers } from './schema-compilers.js';

// a route with a body, a querystring and a response schema: validation goes through ajv, the reply
// through fast-json-stringify, both built on first use by the on-demand factories
function withRoute(app: FastifyInstance): FastifyInstance {
  app.post(
    '/thing',
    {
      schema: {
        body: { type: 'object', required: ['n'], properties: { n: { type: 'integer', minimum: 1 }, tag: { type: 'string' } } },
        querystring: { type: 'object', properties: { twice: { type: 'boolean' } } },
        response: { 200: { type: 'object', properties: { n: { type: 'integer' }, tag: { type: 'string' } } } },
      },
    },
    async (req) => {
      const body = req.body as { n: number; tag?: string };
      const q = req.query as { twice?: boolean };
      // `secret` is not in the response schema: the serializer drops it
      return { n: q.twice ? body.n * 2 : body.n, tag: body.tag, secret: 'dropped' };
    },
  );
  return app;
}

describe('on-demand schema compilers', () => {
  const apps: FastifyInstance[] = [];
  afterEach(async () => {
    for (const a of apps.splice(0)) await a.close();
  });

  const requests = [
    { payload: { n: 3, tag: 'a' }, url: '/thing' },
    { payload: { n: '4' }, url: '/thing?twice=true' }, // coerced by ajv, as fastify's default does
    { payload: { n: 0 }, url: '/thing' },
    { payload: { tag: 'x' }, url: '/thing' },
    { payload: { n: 2 }, url: '/thing?twice=maybe' },
  ];

  it('validate and serialize exactly as the compilers fastify builds itself', async () => {
    const lazy = withRoute(Fastify({ schemaController: onDemandSchemaCompilers() }));
    const eager = withRoute(Fastify());
    apps.push(lazy, eager);
    const got: { status: number; body: string }[] = [];
    for (const r of requests) {
      const a = await lazy.inject({ method: 'POST', ...r });
      const b = await eager.inject({ method: 'POST', ...r });
      expect({ status: a.statusCode, body: a.body }).toEqual({ status: b.statusCode, body: b.body });
      got.push({ status: a.statusCode, body: a.body });
    }
    expect(got.map((g) => g.status)).toEqual([200, 200, 400, 400, 400]);
    expect(JSON.parse(got[0].body)).toEqual({ n: 3, tag: 'a' });
    expect(JSON.parse(got[1].body)).toEqual({ n: 8 });
    expect(JSON.parse(got[2].body).message).toBe('body/n must be >= 1');
    expect(JSON.parse(got[3].body).message).toBe("body must have required property 'n'");
    expect(JSON.parse(got[4].body).message).toBe('querystring/twice must be boolean');
  });
});
