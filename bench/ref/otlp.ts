// The OTLP floor (its own process): a bare fastify route that only decodes the same
// ExportTraceServiceRequest bodies with the same protobufjs types the exporter uses, and answers
// the empty success response. Mode `map` also runs the exporter's span mapping (SpanMapper, the
// same options as its defaults) on each decoded body and nothing after it: where between the
// floor and the whole pipeline the time goes. node otlp.js <port> [decode|map]
import { join } from 'node:path';
import Fastify from 'fastify';
import { protoModule } from '../lib/otlp.js';
import { ROOT } from '../lib/subjects.js';

const port = Number(process.argv[2] ?? 0);
const mode = process.argv[3] ?? 'decode';
const { otlpTypes } = await protoModule();
const { request } = otlpTypes() as unknown as { request: { decode(b: Uint8Array): { resourceSpans?: { scopeSpans?: { spans?: unknown[] }[] }[] } } };
type MappingModule = typeof import('../../src/sources/otlp/mapping.js');
const mapping = mode === 'map' ? ((await import(join(process.env.BENCH_DIST ?? join(ROOT, 'dist'), 'sources', 'otlp', 'mapping.js'))) as MappingModule) : undefined;
const mapper = mapping && new mapping.SpanMapper({ prices: {}, maxTokensPerSpan: mapping.DEFAULT_MAX_TOKENS_PER_SPAN, traceCacheSize: mapping.DEFAULT_TRACE_CACHE });
const app = Fastify({ logger: false });
app.addContentTypeParser('application/x-protobuf', { parseAs: 'buffer', bodyLimit: 4 << 20 }, (_req, body, done) => done(null, body));
app.post('/v1/traces', async (req, reply) => {
  const r = request.decode(req.body as Buffer);
  let spans = 0;
  if (mapper) spans = mapper.map(r as Parameters<typeof mapper.map>[0]).spans;
  else for (const rs of r.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) spans += ss.spans?.length ?? 0;
  if (spans === 0) return reply.code(400).send('no spans');
  return reply.code(200).type('application/x-protobuf').send(Buffer.alloc(0));
});
app.get('/readyz', async () => ({ ready: true }));
const address = await app.listen({ port, host: '127.0.0.1' });
process.send?.({ listening: address });
