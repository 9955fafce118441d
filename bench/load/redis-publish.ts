// Redis preloader (its own process): XADD `count` events (field data = the JSON event) in pipelines,
// then reports over IPC. Runs before the measured drain, never during it.
import { Redis } from 'ioredis';
import { eventStrings } from '../lib/events.js';

export interface RedisPublishOptions {
  url: string;
  key: string;
  count: number;
}

const opts = JSON.parse(process.argv[2]) as RedisPublishOptions;
const PIPELINE = 1000;

async function main(): Promise<void> {
  const redis = new Redis(opts.url);
  const events = eventStrings(Math.min(opts.count, 100_000), new Date().toISOString());
  const t0 = performance.now();
  for (let i = 0; i < opts.count; i += PIPELINE) {
    const p = redis.pipeline();
    for (let j = i; j < Math.min(opts.count, i + PIPELINE); j++) {
      const base = events[j % events.length];
      p.xadd(opts.key, '*', 'data', j < events.length ? base : base.replace('"id":"', `"id":"b${Math.floor(j / events.length)}-`));
    }
    await p.exec();
  }
  const seconds = (performance.now() - t0) / 1000;
  await redis.quit();
  process.send?.({ result: { published: opts.count, seconds } }, () => process.exit(0));
}

main().catch((err) => process.send?.({ failed: String((err as Error).stack ?? err) }, () => process.exit(1)));
