// `simulate`: publishes demo traffic to a real bus (NATS JetStream, Redis Streams, HTTP, or OTLP spans) at a set rate.
import cliProgress from 'cli-progress';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import type { CanonicalEventInput } from '../../events/schema.js';
import { DemoGenerator } from './generator.js';

export const SIMULATE_TICK_MS = 50;

export interface SimulateOptions {
  to: 'nats' | 'redis' | 'http' | 'otlp';
  rate: number;
  durationS: number;
  url?: string;
  /** NATS: subjects are `${subject}.${event.type}`; the stream is created when missing */
  subject?: string;
  stream?: string;
  /** Redis stream key */
  key?: string;
  seed?: number;
  timeScale?: number;
  progress?: boolean;
  /** stop scheduling new events after this many (bounds a run in count as well as time) */
  maxEvents?: number;
}

export interface Publisher {
  publish(events: CanonicalEventInput[]): Promise<void>;
  close(): Promise<void>;
}

export async function natsPublisher(url: string, stream: string, subject: string): Promise<Publisher> {
  const nc = await connect({ servers: url, name: 'workflow-exporter:simulate' });
  const jsm = await jetstreamManager(nc);
  try {
    await jsm.streams.info(stream);
  } catch {
    await jsm.streams.add({ name: stream, subjects: [`${subject}.>`] });
  }
  const js = jetstream(nc);
  return {
    async publish(events) {
      // publish the whole tick, then await the acks together: one round trip's latency per tick
      await Promise.all(events.map((e) => js.publish(`${subject}.${e.type}`, JSON.stringify(e))));
    },
    async close() {
      await nc.drain();
    },
  };
}

export async function redisPublisher(url: string, key: string): Promise<Publisher> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 3 });
  await redis.connect();
  return {
    async publish(events) {
      const p = redis.pipeline();
      for (const e of events) p.xadd(key, '*', 'data', JSON.stringify(e));
      const res = await p.exec();
      const failed = res?.find(([err]) => err);
      if (failed) throw failed[0];
    },
    async close() {
      await redis.quit();
    },
  };
}

export function httpPublisher(url: string): Publisher {
  return {
    async publish(events) {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-ndjson' },
        body: events.map((e) => JSON.stringify(e)).join('\n'),
      });
      if (res.status >= 300) throw new Error(`POST ${url}: ${res.status} ${await res.text()}`);
    },
    async close() {},
  };
}

export interface SimulateResult {
  sent: number;
  seconds: number;
  errors: number;
}

export async function simulate(opts: SimulateOptions, publisher: Publisher): Promise<SimulateResult> {
  const gen = new DemoGenerator({ rate: opts.rate, seed: opts.seed, timeScale: opts.timeScale ?? 1, source: 'simulator' });
  const total = Math.round(opts.rate * opts.durationS);
  const bar = opts.progress
    ? new cliProgress.SingleBar({ format: 'simulate |{bar}| {value}/{total} events | {rate}/s | {eta_formatted} left', stream: process.stderr }, cliProgress.Presets.shades_classic)
    : undefined;
  bar?.start(total, 0, { rate: 0 });
  const started = Date.now();
  const end = started + opts.durationS * 1000;
  const max = opts.maxEvents ?? Number.MAX_SAFE_INTEGER;
  let sent = 0;
  let errors = 0;
  try {
    while (Date.now() < end && sent < max) {
      const tickStart = Date.now();
      const events = gen.tick(tickStart).slice(0, max - sent);
      if (events.length > 0) {
        try {
          await publisher.publish(events);
          sent += events.length;
        } catch {
          errors++;
        }
      }
      bar?.update(Math.min(sent, total), { rate: Math.round(sent / Math.max(0.001, (Date.now() - started) / 1000)) });
      const wait = SIMULATE_TICK_MS - (Date.now() - tickStart);
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
  } finally {
    bar?.stop();
    await publisher.close();
  }
  return { sent, seconds: (Date.now() - started) / 1000, errors };
}
