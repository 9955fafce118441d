// Clients of the shared NATS and Redis for one describe block: connected before its tests; the
// streams and keys its tests register are deleted after them.
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { natsUrl, redisUrl } from './brokers.js';

export interface Buses {
  nurl: string;
  nc: NatsConnection;
  jsm: JetStreamManager;
  rurl: string;
  redis: Redis;
  /** JetStream streams to delete afterwards */
  streams: string[];
  /** Redis keys to delete afterwards */
  keys: string[];
}

/** Call inside a describe block; the fields are set once its beforeAll ran. */
export function useBuses(): Buses {
  const b = { streams: [] as string[], keys: [] as string[] } as Buses;
  beforeAll(async () => {
    b.nurl = await natsUrl();
    b.nc = await connect({ servers: b.nurl });
    b.jsm = await jetstreamManager(b.nc);
    b.rurl = await redisUrl();
    b.redis = new Redis(b.rurl);
  });
  afterAll(async () => {
    for (const s of b.streams) await b.jsm.streams.delete(s).catch(() => {});
    await b.nc?.drain();
    if (b.keys.length) await b.redis.del(...b.keys);
    b.redis?.disconnect();
  });
  return b;
}
