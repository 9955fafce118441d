// NATS paced publisher (its own process): publishes events to a stream's subjects at a fixed rate
// for a bounded time, then reports over IPC. Core publishes (no per-message ack): the stream
// stores them as it would a JetStream publish, and the publisher stays cheap beside what it feeds.
import { connect } from '@nats-io/transport-node';
import { eventStrings } from '../lib/events.js';

export interface NatsRateOptions {
  url: string;
  subject: string;
  /** events per second */
  rate: number;
  seconds: number;
  /** prefixed to every event id, so two runs' ids never meet in a dedupe window */
  idPrefix: string;
}

const opts = JSON.parse(process.argv[2]) as NatsRateOptions;
const TICK_MS = 10; // the rate is kept per 10 ms tick: rate/100 events at a time, so no burst outlasts a tick

async function main(): Promise<void> {
  const nc = await connect({ servers: opts.url, noAsyncTraces: true });
  const events = eventStrings(100_000, new Date().toISOString());
  const enc = new TextEncoder();
  const total = Math.round(opts.rate * opts.seconds);
  const t0 = performance.now();
  let sent = 0;
  while (sent < total) {
    // catch up to where the clock says we should be: a late tick sends more, never fewer in all
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * opts.rate));
    for (; sent < due; sent++) {
      const base = events[sent % events.length];
      const text = base.replace('"id":"', `"id":"${opts.idPrefix}-${Math.floor(sent / events.length)}-`);
      nc.publish(`${opts.subject}.${sent % 10}`, enc.encode(text));
    }
    await nc.flush();
    await new Promise((r) => setTimeout(r, TICK_MS));
  }
  const seconds = (performance.now() - t0) / 1000;
  await nc.drain();
  process.send?.({ result: { published: sent, seconds } }, () => process.exit(0));
}

main().catch((err) => process.send?.({ failed: String((err as Error).stack ?? err) }, () => process.exit(1)));
