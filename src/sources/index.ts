// Every source kind, one line each. The record is typed over the config's kind union, so a kind
// added to the config schema without a line here (or the other way round) does not compile.
//
// Adding a kind: a folder src/sources/<kind>/ with the source class (implements Source from
// pipeline/types.ts) and an index.ts exporting its SourceDescriptor (types.ts says what each field
// means; only defaultName, create and acks are required); its config entry in config/schema.ts
// (`sourceSchema`); one line below. Everything else (the build in app.ts, ack tracing, the tail's
// history and follower, dead-letter outputs, the control bus, routes on the server, loading the
// client library) reads the descriptor, so nothing else names the kind.
import type { SourceKind } from '../config/schema.js';
import { demo } from './demo/index.js';
import { file } from './file/index.js';
import { http } from './http/index.js';
import { memory } from './memory/index.js';
import { natsJetStream } from './nats-jetstream/index.js';
import { redisStreams } from './redis-streams/index.js';
import type { SourceDescriptor } from './types.js';

/**
 * The order is the order of preference where one source serves the exporter: control.bus auto
 * takes the first kind with a control bus that has a source (NATS before Redis), and dead-letter
 * outputs and capability lists follow it.
 */
export const SOURCES: { readonly [K in SourceKind]: SourceDescriptor<K> } = {
  'nats-jetstream': natsJetStream,
  'redis-streams': redisStreams,
  http,
  memory,
  demo,
  file,
};

/** The descriptor of a kind, with its config typed as any source config (the kind picks the entry, so they match). */
export function descriptorOf(kind: SourceKind): SourceDescriptor<SourceKind> {
  return SOURCES[kind] as SourceDescriptor<SourceKind>;
}

/** The kinds that have capability `cap`, in the order above, with their descriptors. */
export function kindsWith<C extends keyof SourceDescriptor<SourceKind>>(cap: C): [SourceKind, SourceDescriptor<SourceKind> & Required<Pick<SourceDescriptor<SourceKind>, C>>][] {
  return (Object.keys(SOURCES) as SourceKind[]).flatMap((kind) => {
    const d = descriptorOf(kind);
    return d[cap] ? [[kind, d as SourceDescriptor<SourceKind> & Required<Pick<SourceDescriptor<SourceKind>, C>>]] : [];
  });
}
