// Picks the control bus from config and the configured sources: NATS, Redis, or the polled queue.
import type { Config } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import type { Source } from '../pipeline/types.js';
import { NatsJetStreamSource } from '../sources/nats-jetstream/nats-jetstream.js';
import { RedisStreamsSource } from '../sources/redis-streams/redis-streams.js';
import type { ControlBus } from './command.js';
import { NatsControlBus } from './nats.js';
import { QueueControlBus } from './queue.js';
import { RedisControlBus } from './redis.js';

export function createControlBus(cfg: Config['control'], sources: Source[]): ControlBus {
  const nats = sources.find((s): s is NatsJetStreamSource => s instanceof NatsJetStreamSource);
  const redis = sources.find((s): s is RedisStreamsSource => s instanceof RedisStreamsSource);
  const bus = cfg.bus === 'auto' ? (nats ? 'nats' : redis ? 'redis' : 'queue') : cfg.bus;
  if (bus === 'nats') {
    if (!nats) throw new ConfigError('control.bus nats needs a nats-jetstream source', [{ path: 'control.bus', message: 'no nats-jetstream source' }]);
    return new NatsControlBus(() => nats.connection, cfg.natsSubjectPrefix);
  }
  if (bus === 'redis') {
    if (!redis) throw new ConfigError('control.bus redis needs a redis-streams source', [{ path: 'control.bus', message: 'no redis-streams source' }]);
    return new RedisControlBus(() => redis.client, cfg.redisStream, cfg.redisMaxLen);
  }
  return new QueueControlBus(cfg.queueSize);
}
