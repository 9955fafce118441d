// NATS preloader (its own process): creates the stream and publishes `count` events with batched
// awaits, then reports over IPC. Runs before the measured drain, never during it.
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { eventStrings } from '../lib/events.js';

export interface NatsPublishOptions {
  url: string;
  stream: string;
  subject: string;
  count: number;
}

const opts = JSON.parse(process.argv[2]) as NatsPublishOptions;
const IN_FLIGHT = 1000; // publish acks awaited in groups: one round trip per thousand, not per event

async function main(): Promise<void> {
  const nc = await connect({ servers: opts.url, noAsyncTraces: true });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: opts.stream, subjects: [`${opts.subject}.>`] });
  const js = jetstream(nc);
  const events = eventStrings(Math.min(opts.count, 100_000), new Date().toISOString());
  const t0 = performance.now();
  const enc = new TextEncoder();
  let pending: Promise<unknown>[] = [];
  for (let i = 0; i < opts.count; i++) {
    // ids repeat every 100k events; the exporter's dedupe window would drop them, so suffix the block
    const base = events[i % events.length];
    const text = i < events.length ? base : base.replace('"id":"', `"id":"b${Math.floor(i / events.length)}-`);
    pending.push(js.publish(`${opts.subject}.${i % 10}`, enc.encode(text)));
    if (pending.length >= IN_FLIGHT) {
      await Promise.all(pending);
      pending = [];
    }
  }
  await Promise.all(pending);
  const seconds = (performance.now() - t0) / 1000;
  await nc.drain();
  process.send?.({ result: { published: opts.count, seconds } }, () => process.exit(0));
}

main().catch((err) => process.send?.({ failed: String((err as Error).stack ?? err) }, () => process.exit(1)));
