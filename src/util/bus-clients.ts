// The NATS and Redis client libraries, loaded on first use: a process with no bus source, no Redis
// state store and no tail read-back never imports them (a large part of a cold start, docs/benchmarks-log.md).
// Modules that only need their types use `import type`; each import below happens once per process.
import type * as NatsJetStream from '@nats-io/jetstream';
import type * as NatsTransport from '@nats-io/transport-node';
import type * as IoRedis from 'ioredis';
import { requireCjs } from './cjs.js';

export interface NatsClients {
  transport: typeof NatsTransport;
  jetstream: typeof NatsJetStream;
}

let nats: Promise<NatsClients> | undefined;
let natsLoaded: NatsClients | undefined;
let redis: Promise<typeof IoRedis> | undefined;

/** @nats-io/transport-node and @nats-io/jetstream. */
export function loadNats(): Promise<NatsClients> {
  nats ??= Promise.all([import('@nats-io/transport-node'), import('@nats-io/jetstream')]).then(([transport, jetstream]) => (natsLoaded = { transport, jetstream }));
  return nats;
}

/** ioredis. */
export function loadRedis(): Promise<typeof IoRedis> {
  // required, not imported (util/cjs.ts); on a later turn, like the import it replaces
  redis ??= Promise.resolve().then(() => requireCjs('ioredis') as typeof IoRedis);
  return redis;
}

/** The NATS libraries when something has loaded them already, else undefined (then no NATS error can exist). */
export function natsIfLoaded(): NatsClients | undefined {
  return natsLoaded;
}
