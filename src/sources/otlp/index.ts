// The otlp kind: OTLP trace export on the exporter's server (POST /v1/traces) and, when configured,
// on ports of its own for OTLP/HTTP and OTLP/gRPC (see ../types.ts).
import type { SourceDescriptor } from '../types.js';
import { otlpListeners } from './listen.js';
import { OtlpSource, otlpHttpPlugin } from './otlp.js';

export const otlp: SourceDescriptor<'otlp', OtlpSource> = {
  defaultName: 'otlp',
  create: (name, config, { metrics, logger }) => new OtlpSource(name, config, metrics, logger),
  // an answer is the ack: it is sent after every sink took the batch
  acks: false,
  traceIds: () => true,
  routes: (server, source, config, { deadLetters, ingestGuard, ingestToken, host }) => {
    source.deadLetters = deadLetters;
    if (config.http) server.register(otlpHttpPlugin, { source, guard: ingestGuard });
    source.starters.push(...otlpListeners(source, { host: config.host ?? host, guard: ingestGuard, ingestToken }));
  },
};
