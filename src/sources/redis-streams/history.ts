// Reads the last entries of a redis-streams source's keys back for the tail's history at start.
import type { RawMessage } from '../../events/raw.js';
import { openRedis } from '../../util/redis-client.js';
import { positionKey, type HistoryReadOptions } from '../types.js';
import { entryToRaw, redisConnectOptions, type Entry } from './connect.js';
import type { RedisSourceConfig } from './redis-streams.js';

export async function redisHistory(name: string, cfg: RedisSourceConfig, deps: HistoryReadOptions): Promise<RawMessage[]> {
  const redis = await openRedis(cfg, {
    lazyConnect: true,
    ...redisConnectOptions(cfg, `${name}:history`),
    maxRetriesPerRequest: 1,
    retryStrategy: () => null, // one attempt: history is a nicety, the source itself retries
    connectTimeout: deps.timeoutMs,
  });
  redis.on('error', () => {});
  const out: RawMessage[] = [];
  const field = Buffer.from(cfg.field);
  try {
    await redis.connect();
    for (const key of cfg.keys) {
      if (deps.signal.aborted) break;
      let upto = '+';
      if (!deps.positions) {
        let groups: unknown[][] = [];
        try {
          groups = (await redis.xinfo('GROUPS', key)) as unknown[][];
        } catch {
          continue; // no stream yet
        }
        const g = groups.find((row) => row[row.indexOf('name') + 1] === cfg.group);
        if (g) upto = String(g[g.indexOf('last-delivered-id') + 1]);
        else if (cfg.startId !== '$') continue; // a group created from the start delivers everything live
      }
      // a missing key reads as no entries
      const entries = (await redis.xrevrangeBuffer(key, upto, '-', 'COUNT', deps.limit)) as unknown as Entry[];
      deps.positions?.set(positionKey(name, key), entries.length > 0 ? entries[0][0].toString() : '0-0');
      for (let i = entries.length - 1; i >= 0; i--) {
        const m = entryToRaw(key, field, entries[i][0].toString(), entries[i][1]);
        if (m) out.push(m);
      }
    }
  } finally {
    redis.disconnect();
  }
  return out;
}
