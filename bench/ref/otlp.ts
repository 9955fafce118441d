// The OTLP floor (its own process): a bare fastify route that only decodes the same
// ExportTraceServiceRequest bodies with the same protobufjs types the exporter uses, and answers
// the empty success response.
import Fastify from 'fastify';
import { protoModule } from '../lib/otlp.js';

const port = Number(process.argv[2] ?? 0);
const { otlpTypes } = await protoModule();
const { request } = otlpTypes() as unknown as { request: { decode(b: Uint8Array): { resourceSpans?: { scopeSpans?: { spans?: unknown[] }[] }[] } } };
const app = Fastify({ logger: false });
app.addContentTypeParser('application/x-protobuf', { parseAs: 'buffer', bodyLimit: 4 << 20 }, (_req, body, done) => done(null, body));
app.post('/v1/traces', async (req, reply) => {
  const r = request.decode(req.body as Buffer);
  let spans = 0;
  for (const rs of r.resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) spans += ss.spans?.length ?? 0;
  if (spans === 0) return reply.code(400).send('no spans');
  return reply.code(200).type('application/x-protobuf').send(Buffer.alloc(0));
});
app.get('/readyz', async () => ({ ready: true }));
const address = await app.listen({ port, host: '127.0.0.1' });
process.send?.({ listening: address });
