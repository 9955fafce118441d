// The otlp source's own ports: OTLP/HTTP (4318 by convention) on a Fastify server of its own and
// OTLP/gRPC (4317) on @grpc/grpc-js, both handing bodies to the same OtlpSource.export.
import type * as Grpc from '@grpc/grpc-js';
import type { onRequestHookHandler } from 'fastify';
import type { IngestTokenCheck } from '../types.js';
import { requireCjs } from '../../util/cjs.js';
import { OtlpRefusal, OtlpSource, otlpHttpPlugin, type OwnPort } from './otlp.js';
import { encodeResponseProtobuf, type ExportTraceServiceResponse } from './proto.js';

export const EXPORT_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

export interface ListenOptions {
  host: string;
  /** the ingest role's hook for the own OTLP/HTTP port */
  guard: onRequestHookHandler;
  /** the same check for gRPC metadata */
  ingestToken: IngestTokenCheck;
}

type Closer = OwnPort;

/** The listeners the source's config asks for, to be started with the source. */
export function otlpListeners(source: OtlpSource, opts: ListenOptions): (() => Promise<Closer>)[] {
  const out: (() => Promise<Closer>)[] = [];
  const { httpPort, grpcPort } = source.config;
  if (httpPort !== undefined) out.push(() => listenHttp(source, opts, httpPort));
  if (grpcPort !== undefined) out.push(() => listenGrpc(source, opts, grpcPort));
  return out;
}

async function listenHttp(source: OtlpSource, opts: ListenOptions, port: number): Promise<Closer> {
  const { default: Fastify, LogController } = requireCjs('fastify') as typeof import('fastify');
  const app = Fastify({
    loggerInstance: source.logger as never,
    logController: new LogController({ disableRequestLogging: true }),
    forceCloseConnections: 'idle',
    return503OnClosing: true,
  });
  await app.register(otlpHttpPlugin, { source, guard: opts.guard });
  await app.listen({ port, host: opts.host });
  const addr = app.server.address();
  const bound = typeof addr === 'object' && addr ? addr.port : port;
  source.logger.info({ source: source.name, port: bound }, 'OTLP/HTTP listening');
  return { protocol: 'http', port: bound, close: () => app.close() };
}

/** OTLP/gRPC status for a refusal: retryable ones are UNAVAILABLE (the OTLP spec's retryable code). */
function grpcCode(grpc: typeof Grpc, r: OtlpRefusal): Grpc.status {
  switch (r.status) {
    case 503:
      return grpc.status.UNAVAILABLE;
    case 429:
      return grpc.status.RESOURCE_EXHAUSTED;
    case 413:
      return grpc.status.RESOURCE_EXHAUSTED;
    default:
      return grpc.status.INVALID_ARGUMENT;
  }
}

async function listenGrpc(source: OtlpSource, opts: ListenOptions, port: number): Promise<Closer> {
  const grpc = requireCjs('@grpc/grpc-js') as typeof Grpc;
  const server = new grpc.Server({
    // applies to the message once decompressed (grpc-encoding: gzip), so it bounds a gzip bomb too
    'grpc.max_receive_message_length': source.config.maxDecompressedBytes,
  });
  // the request stays bytes here: OtlpSource.export decodes it with the same types as OTLP/HTTP
  const definition: Grpc.ServiceDefinition = {
    Export: {
      path: EXPORT_PATH,
      requestStream: false,
      responseStream: false,
      requestSerialize: (b: Buffer) => b,
      requestDeserialize: (b: Buffer) => b,
      responseSerialize: (r: ExportTraceServiceResponse) => Buffer.from(encodeResponseProtobuf(r)),
      responseDeserialize: (b: Buffer) => b,
    },
  };
  const retryAfter = (seconds: number | undefined) => {
    const md = new grpc.Metadata();
    // google.rpc.RetryInfo would need its proto; exporters also honour a plain retry delay here
    if (seconds !== undefined) md.set('retry-after', String(seconds));
    return md;
  };
  server.addService(definition, {
    Export: (call: Grpc.ServerUnaryCall<Buffer, ExportTraceServiceResponse>, callback: Grpc.sendUnaryData<ExportTraceServiceResponse>) => {
      const h = call.metadata.get('authorization')[0];
      const m = typeof h === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(h) : null;
      const auth = opts.ingestToken(h === undefined ? undefined : m ? m[1] : '');
      if (!auth.ok) {
        callback({ code: auth.status === 401 ? grpc.status.UNAUTHENTICATED : grpc.status.PERMISSION_DENIED, details: auth.message });
        return;
      }
      source.export(call.request, 'protobuf').then(
        (r) => callback(null, r.response),
        (err: unknown) => {
          if (err instanceof OtlpRefusal) callback({ code: grpcCode(grpc, err), details: err.message, metadata: retryAfter(err.retryAfter) });
          else {
            source.logger.error({ err, source: source.name }, 'OTLP/gRPC export failed');
            callback({ code: grpc.status.INTERNAL, details: 'internal error' });
          }
        },
      );
    },
  });
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  source.logger.info({ source: source.name, port: bound }, 'OTLP/gRPC listening');
  return {
    protocol: 'grpc',
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        // in-flight calls finish; a stuck one is cut after the grace
        const timer = setTimeout(() => server.forceShutdown(), 5000);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}
