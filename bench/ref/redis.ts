// The Redis reference (its own process): a consumer-group loop on the same stream. reference:
// XREADGROUP COUNT 500 + JSON.parse + zod + prom-client + one XACK per batch; floor: XREADGROUP NOACK + JSON.parse.
import { Redis } from 'ioredis';
import { refHandler, type RefMode } from './common.js';

const [mode, url, key, group] = process.argv.slice(2) as [RefMode, string, string, string];
const handle = refHandler(mode);
const COUNT = 500; // the exporter's default batch

const redis = new Redis(url);
await redis.xgroup('CREATE', key, group, '0');
process.send?.({ ready: url });
type Reply = [string, [string, string[]][]][] | null;
for (;;) {
  const res = (mode === 'floor'
    ? await redis.xreadgroup('GROUP', group, 'c1', 'COUNT', COUNT, 'BLOCK', 1000, 'NOACK', 'STREAMS', key, '>')
    : await redis.xreadgroup('GROUP', group, 'c1', 'COUNT', COUNT, 'BLOCK', 1000, 'STREAMS', key, '>')) as Reply;
  if (!res) continue;
  for (const [, entries] of res) {
    for (const [, fields] of entries) handle(fields[1]);
    if (mode !== 'floor') await redis.xack(key, group, ...entries.map((e) => e[0]));
  }
}
