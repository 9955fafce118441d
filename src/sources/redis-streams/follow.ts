// The tail follower's reader of a redis-streams source: XREAD without a group from where the
// history read ended (or the keys' newest entries), on its own connection.
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { RawMessage } from '../../events/raw.js';
import type { BatchHandler } from '../../pipeline/types.js';
import { openRedis } from '../../util/redis-client.js';
import { ReaderHealth, RETRY_MS, sleep } from '../reader-health.js';
import { positionKey, type StreamPositions, type TailReader } from '../types.js';
import { entryToRaw, redisConnectOptions } from './connect.js';
import type { RedisSourceConfig } from './redis-streams.js';

/** XREAD without a group, from the last entry id seen, on its own connection (a blocking read holds it). */
export class RedisTailReader implements TailReader {
  private redis?: Redis;
  private stopped = false;
  private loop?: Promise<void>;
  private ids: string[] = [];
  private readonly health: ReaderHealth;

  constructor(
    private readonly name: string,
    private readonly cfg: RedisSourceConfig,
    private readonly handler: BatchHandler,
    private readonly logger: Logger,
  ) {
    this.health = new ReaderHealth(logger, { source: name, keys: cfg.keys });
  }

  /** Resolves once the start ids are known (or finding them failed once; the loop retries). */
  async start(positions?: StreamPositions): Promise<void> {
    const cfg = this.cfg;
    // commands wait for a reconnect (maxRetriesPerRequest null), so a Redis restart is followed through
    const redis = await openRedis(cfg, { ...redisConnectOptions(cfg, `${this.name}:tail`), maxRetriesPerRequest: null, retryStrategy: (times) => Math.min(times * 200, 2000), lazyConnect: true });
    if (this.stopped) return;
    this.redis = redis;
    redis.on('error', () => {}); // reported by the read loop; ioredis reconnects on its own
    redis.on('close', () => {
      if (!this.stopped) this.health.fail(undefined, 'redis connection lost');
    });
    return new Promise((first) => {
      this.loop = this.run(redis, positions, first);
    });
  }

  /** Where each key is followed from: after the history read, else after its newest entry now. */
  private startIds(redis: Redis, positions: StreamPositions | undefined): Promise<string[]> {
    return Promise.all(
      this.cfg.keys.map(async (key) => {
        const at = positions?.get(positionKey(this.name, key));
        if (typeof at === 'string') return at;
        const newest = await redis.xrevrange(key, '+', '-', 'COUNT', 1);
        return newest.length > 0 ? newest[0][0] : '0-0'; // a missing key is followed from its first entry
      }),
    );
  }

  private async run(redis: Redis, positions: StreamPositions | undefined, first: () => void): Promise<void> {
    const { keys, batch, blockMs, field } = this.cfg;
    const fieldBytes = Buffer.from(field);
    while (!this.stopped) {
      try {
        if (this.ids.length === 0) {
          this.ids = await this.startIds(redis, positions);
          first();
        }
        const res = await redis.xreadBuffer('COUNT', batch, 'BLOCK', blockMs, 'STREAMS', ...keys, ...this.ids);
        this.health.ok();
        for (const [keyBuf, entries] of res ?? []) {
          const key = keyBuf.toString();
          const raw: RawMessage[] = [];
          let id = '';
          for (const [idBuf, fields] of entries) {
            id = idBuf.toString();
            const m = entryToRaw(key, fieldBytes, id, fields);
            if (m) raw.push(m);
          }
          if (id) this.ids[keys.indexOf(key)] = id;
          if (raw.length > 0) await this.handler(raw);
        }
      } catch (err) {
        first();
        if (this.stopped) break;
        this.health.fail(err, 'read failed');
        await sleep(RETRY_MS);
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    // ends a blocking read at once instead of after blockMs
    this.redis?.disconnect();
    await this.loop;
  }
}
