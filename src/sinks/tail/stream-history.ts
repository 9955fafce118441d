// Reads the last messages of the configured NATS streams and Redis keys back into the tail's history
// at start, through the same decode, normalize and validate steps as live traffic.
import { readFileSync } from 'node:fs';
import { DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config, SourceConfig } from '../../config/schema.js';
import { createNormalizer } from '../../events/normalize.js';
import type { WorkflowEvent } from '../../events/schema.js';
import type { RawMessage } from '../../pipeline/types.js';
import { decode, validateEvent } from '../../pipeline/validate.js';

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
}

/**
 * Only messages the durable consumer (or group) has already passed are read: anything after it is
 * delivered again live, and reading it here too would show it twice.
 */
export async function natsHistory(name: string, cfg: NatsConfig, deps: StreamHistoryDeps): Promise<RawMessage[]> {
  const nc = await connect({
    servers: cfg.servers,
    name: `workflow-exporter:${name}:history`,
    user: cfg.user,
    pass: cfg.passwordFile ? readFileSync(cfg.passwordFile, 'utf8').trim() : undefined,
    token: cfg.tokenFile ? readFileSync(cfg.tokenFile, 'utf8').trim() : undefined,
    maxReconnectAttempts: 0,
    timeout: deps.timeoutMs,
  });
  const out: RawMessage[] = [];
  try {
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    for (const s of cfg.streams) {
      if (deps.signal.aborted) break;
      let upto: number;
      let first: number;
      try {
        const info = await jsm.streams.info(s.stream);
        if (info.state.messages === 0) continue;
        first = info.state.first_seq;
        upto = info.state.last_seq;
      } catch {
        continue; // no stream yet: nothing to read back
      }
      try {
        const ci = await jsm.consumers.info(s.stream, s.durable);
        upto = Math.min(upto, ci.ack_floor.stream_seq);
      } catch {
        // a consumer created on start from the beginning delivers everything live
        if (cfg.deliverPolicy === 'all') continue;
      }
      if (upto < first) continue;
      const from = Math.max(first, upto - deps.limit + 1);
      const consumer = await js.consumers.get(s.stream, {
        // one subject as a string: servers before 2.10 take only a single filter
        filter_subjects: s.subjects.length === 1 ? s.subjects[0] : s.subjects,
        deliver_policy: DeliverPolicy.StartSequence,
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

type Entry = [id: Buffer, fields: Buffer[]];

/** An entry's JSON field, or its fields as an object when the producer wrote them one by one (as the source reads them). */
function entryMessage(key: string, field: string, [idBuf, fields]: Entry): RawMessage {
  const transportId = idBuf.toString();
  const value: Record<string, string> = {};
  for (let i = 0; i < fields.length; i += 2) {
    const f = fields[i].toString();
    if (f === field) return { data: fields[i + 1], subject: key, transportId };
    if (f === '__proto__' || f === 'constructor' || f === 'prototype') continue;
    value[f] = fields[i + 1].toString();
  }
  return { value, subject: key, transportId };
}

export async function redisHistory(cfg: RedisConfig, deps: StreamHistoryDeps): Promise<RawMessage[]> {
  const redis = new Redis(cfg.url, {
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null, // one attempt: history is a nicety, the source itself retries
    connectTimeout: deps.timeoutMs,
    password: cfg.passwordFile ? readFileSync(cfg.passwordFile, 'utf8').trim() : undefined,
  });
  redis.on('error', () => {});
  const out: RawMessage[] = [];
  try {
    await redis.connect();
    for (const key of cfg.keys) {
      if (deps.signal.aborted) break;
      let upto = '+';
      let groups: unknown[][] = [];
      try {
        groups = (await redis.xinfo('GROUPS', key)) as unknown[][];
      } catch {
        continue; // no stream yet
      }
      const g = groups.find((row) => row[row.indexOf('name') + 1] === cfg.group);
      if (g) upto = String(g[g.indexOf('last-delivered-id') + 1]);
      else if (cfg.startId !== '$') continue; // a group created from the start delivers everything live
      const entries = (await redis.xrevrangeBuffer(key, upto, '-', 'COUNT', deps.limit)) as unknown as Entry[];
      for (let i = entries.length - 1; i >= 0; i--) if (entries[i][1]) out.push(entryMessage(key, cfg.field, entries[i]));
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
  const all: (HistoryItem & { timeMs: number })[] = [];
  for (const { name, config } of sources) {
    if (deps.signal.aborted) break;
    if (config.kind !== 'nats-jetstream' && config.kind !== 'redis-streams') continue;
    try {
      const raw = config.kind === 'nats-jetstream' ? await natsHistory(name, config, deps) : await redisHistory(config, deps);
      const items = validateHistory(name, config, raw, deps);
      all.push(...items);
      deps.logger.info({ source: name, read: raw.length, events: items.length }, 'tail history read from the bus');
    } catch (err) {
      deps.logger.warn({ err, source: name }, 'tail history could not be read from the bus; starting without it');
    }
  }
  // stable sort: messages of one stream keep their bus order when their times tie
  all.sort((a, b) => a.timeMs - b.timeMs);
  return all.slice(Math.max(0, all.length - deps.limit)).map(({ event, source, receivedAtMs }) => ({ event, source, receivedAtMs }));
}
