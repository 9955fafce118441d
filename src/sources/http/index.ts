// The http kind: batches from POST /api/events on the exporter's own server (see ../types.ts).
import type { SourceDescriptor } from '../types.js';
import { HttpSource, ingestPlugin } from './http.js';

export const http: SourceDescriptor<'http', HttpSource> = {
  defaultName: 'http',
  create: (name, config) => new HttpSource(name, config.bodyLimitBytes, config.maxEventsPerRequest),
  acks: false,
  routes: (server, source, config, { metrics, deadLetters, ingestGuard }) => {
    server.register(ingestPlugin, { source, metrics, deadLetters, guard: ingestGuard, rateLimit: config.rateLimit });
  },
};
