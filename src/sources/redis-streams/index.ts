// The redis-streams kind: what it can do besides delivering batches (see ../types.ts).
import { loadRedis } from '../../util/bus-clients.js';
import type { SourceDescriptor } from '../types.js';
import { RedisControlBus } from './control.js';
import { RedisTailReader } from './follow.js';
import { redisHistory } from './history.js';
import { RedisStreamsSource } from './redis-streams.js';

export const redisStreams: SourceDescriptor<'redis-streams', RedisStreamsSource> = {
  defaultName: 'redis',
  create: (name, config, { logger, metrics }) => new RedisStreamsSource(name, config, logger, metrics),
  acks: true,
  redeliveryMs: (config) => config.claimIdleMs,
  loadClients: loadRedis,
  readHistory: redisHistory,
  follow: (name, config, handler, logger) => new RedisTailReader(name, config, handler, logger),
  deadLetters: { setting: 'redisStream', output: (source, config) => source.deadLetterOutput(config.redisStream!, config.redisMaxLen) },
  control: { bus: 'redis', create: (source, config) => new RedisControlBus(() => source.client, config.redisStream, config.redisMaxLen) },
};
