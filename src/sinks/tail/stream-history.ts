// Reads the last messages of the configured NATS streams and Redis keys back into the tail's history
// at start, through the same decode, normalize and validate steps as live traffic.
import type { Logger } from 'pino';
import type { Config, SourceConfig } from '../../config/schema.js';
import { createNormalizer } from '../../events/normalize.js';
import type { WorkflowEvent } from '../../events/schema.js';
import type { RawMessage } from '../../events/raw.js';
import { decode, validateEvent } from '../../pipeline/validate.js';
import { natsConnectOptions } from '../../sources/nats-jetstream/connect.js';
import { entryToRaw, redisConnectOptions, type Entry } from '../../sources/redis-streams/connect.js';
import { loadNats, loadRedis, natsIfLoaded } from '../../util/bus-clients.js';

type NatsConfig = Extract<SourceConfig, { kind: 'nats-jetstream' }>;
type RedisConfig = Extract<SourceConfig, { kind: 'redis-streams' }>;

export interface HistoryItem {
  event: WorkflowEvent;
  source: string;
  receivedAtMs: number;
}

export interface StreamHistoryDeps {
  limit: number;
  validation: Config['validation'];
  logger: Logger;
  now: () => number;
  /** stops reading when set (the start-up budget ran out) */
  signal: AbortSignal;
  /** connect timeout: the start-up budget */
  timeoutMs: number;
  /**
   * Set when the tail follower takes over after the history: every stream is then read to its end
   * (not only up to the shared consumer), and where each read ended is recorded here.
   */
  positions?: StreamPositions;
}

/**
 * Where the history read of each stream ended, by positionKey(source, stream or key): the last
 * JetStream sequence (0 for a stream that does not exist yet) or the last Redis entry id ('0-0').
 */
export type StreamPositions = Map<string, number | string>;

export const positionKey = (source: string, stream: string): string => `${source}\u0000${stream}`;

/** The server said the stream does not exist (as opposed to not answering). */
export const isStreamNotFound = (err: unknown): boolean => {
  // without the NATS library loaded no NATS error exists: the check never loads it
  const js = natsIfLoaded()?.jetstream;
  return js !== undefined && err instanceof js.JetStreamApiError && err.code === js.JetStreamApiCodes.StreamNotFound;
};

/**
 * Without a follower only messages the durable consumer (or group) has already passed are read:
 * anything after it is delivered again live, and reading it here too would show it twice. With a
 * follower the tail takes no live batch from the consumer, so the read goes to the stream's end and
 * the follower starts right after it.
 */
export async function natsHistory(name: string, cfg: NatsConfig, deps: StreamHistoryDeps): Promise<RawMessage[]> {
  const { transport, jetstream: lib } = await loadNats();
  const nc = await transport.connect({ ...natsConnectOptions(cfg, `${name}:history`), maxReconnectAttempts: 0, timeout: deps.timeoutMs });
  const out: RawMessage[] = [];
  try {
    const jsm = await lib.jetstreamManager(nc);
    const js = lib.jetstream(nc);
    for (const s of cfg.streams) {
      if (deps.signal.aborted) break;
      let upto: number;
      let first: number;
      try {
        const info = await jsm.streams.info(s.stream);
        deps.positions?.set(positionKey(name, s.stream), info.state.last_seq);
        if (info.state.messages === 0) continue;
        first = info.state.first_seq;
        upto = info.state.last_seq;
      } catch (err) {
        // no stream yet: nothing to read back, and the follower takes it from its first message
        if (isStreamNotFound(err)) deps.positions?.set(positionKey(name, s.stream), 0);
        continue;
      }
      if (!deps.positions) {
        try {
          const ci = await jsm.consumers.info(s.stream, s.durable);
          upto = Math.min(upto, ci.ack_floor.stream_seq);
        } catch {
          // a consumer created on start from the beginning delivers everything live
          if (cfg.deliverPolicy === 'all') continue;
        }
      }
      if (upto < first) continue;
      const from = Math.max(first, upto - deps.limit + 1);
      const consumer = await js.consumers.get(s.stream, {
        // one subject as a string: servers before 2.10 take only a single filter
        filter_subjects: s.subjects.length === 1 ? s.subjects[0] : s.subjects,
        deliver_policy: lib.DeliverPolicy.StartSequence,
        opt_start_seq: from,
        inactive_threshold: 10_000, // the server forgets it soon even if we cannot delete it
      });
      const messages = await consumer.fetch({ max_messages: upto - from + 1, expires: 2000 });
      const stop = () => void messages.close();
      deps.signal.addEventListener('abort', stop, { once: true });
      try {
        for await (const m of messages) {
          if (m.seq > upto) break;
          out.push({ data: m.data, subject: m.subject, transportId: `${m.info.stream}:${m.seq}` });
          if (m.seq === upto) break;
        }
      } finally {
        deps.signal.removeEventListener('abort', stop);
        await messages.close().catch(() => undefined);
        await consumer.delete().catch(() => undefined);
      }
    }
  } finally {
    await nc.close().catch(() => undefined);
  }
  return out;
}

export async function redisHistory(name: string, cfg: RedisConfig, deps: StreamHistoryDeps): Promise<RawMessage[]> {
  const { Redis } = await loadRedis();
  const redis = new Redis(cfg.url, {
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

/** Decodes, normalizes and validates messages read back; the ones that fail were counted when they first arrived. */
export function validateHistory(name: string, cfg: SourceConfig, raw: RawMessage[], deps: StreamHistoryDeps): (HistoryItem & { timeMs: number })[] {
  const normalize = createNormalizer({ format: cfg.format, preset: cfg.preset, mapping: cfg.mapping });
  const nowMs = deps.now();
  const out: (HistoryItem & { timeMs: number })[] = [];
  for (const m of raw) {
    try {
      const value = m.value !== undefined ? m.value : decode(m.data ?? '', deps.validation.maxMessageBytes);
      const v = validateEvent(normalize(value, m, nowMs), deps.validation, nowMs);
      out.push({ event: v.event, source: name, receivedAtMs: v.timeMs, timeMs: v.timeMs });
    } catch {
      // rejected before, counted and dead-lettered then
    }
  }
  return out;
}

/**
 * The last `limit` events over every configured bus source, oldest first. Failures are logged and
 * skipped: history is a convenience and must never keep the exporter from starting.
 */
export async function readStreamHistory(sources: { name: string; config: SourceConfig }[], deps: StreamHistoryDeps): Promise<HistoryItem[]> {
  // the sources are read at once (each on its own connection), their items taken in source order
  const read = await Promise.all(
    sources.map(async ({ name, config }) => {
      if (deps.signal.aborted) return [];
      if (config.kind !== 'nats-jetstream' && config.kind !== 'redis-streams') return [];
      try {
        const raw = config.kind === 'nats-jetstream' ? await natsHistory(name, config, deps) : await redisHistory(name, config, deps);
        const items = validateHistory(name, config, raw, deps);
        deps.logger.info({ source: name, read: raw.length, events: items.length }, 'tail history read from the bus');
        return items;
      } catch (err) {
        deps.logger.warn({ err, source: name }, 'tail history could not be read from the bus; starting without it');
        return [];
      }
    }),
  );
  const all = read.flat();
  // stable sort: messages of one stream keep their bus order when their times tie
  all.sort((a, b) => a.timeMs - b.timeMs);
  return all.slice(Math.max(0, all.length - deps.limit)).map(({ event, source, receivedAtMs }) => ({ event, source, receivedAtMs }));
}
