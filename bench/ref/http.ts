// The HTTP reference (its own process): a bare fastify route taking the same NDJSON bodies, each line
// through refHandler (reference: JSON.parse + zod + prom-client; floor: JSON.parse only).
import Fastify from 'fastify';
import { refHandler, type RefMode } from './common.js';

const mode = process.argv[2] as RefMode;
const port = Number(process.argv[3] ?? 0);
const handle = refHandler(mode);
const app = Fastify({ logger: false });
app.addContentTypeParser('application/x-ndjson', { parseAs: 'string', bodyLimit: 1 << 20 }, (_req, body, done) => done(null, body));
app.post('/api/events', async (req, reply) => {
  const lines = (req.body as string).split('\n');
  let accepted = 0;
  for (const line of lines) {
    if (line.length === 0) continue;
    handle(line);
    accepted++;
  }
  return reply.code(202).send({ accepted });
});
app.get('/readyz', async () => ({ ready: true }));
const address = await app.listen({ port, host: '127.0.0.1' });
process.send?.({ listening: address });
