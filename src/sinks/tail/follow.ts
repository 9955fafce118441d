// The tail follower: beside each bus source's shared consumer (a JetStream durable or a Redis group,
// which give each replica a share of the stream) a non-durable reader of the same streams, so the
// live tail of every replica shows every event. Its events go to the tail only.
import type { Consumer, ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { promClient } from '../../util/cjs.js';
import type { Config, SourceConfig } from '../../config/schema.js';
import { EventAccounting, OrderedLifecycleStore } from '../../pipeline/accounting.js';
import { Pipeline } from '../../pipeline/pipeline.js';
import type { BatchHandler } from '../../pipeline/types.js';
import type { RawMessage } from '../../events/raw.js';
import { natsConnectOptions } from '../../sources/nats-jetstream/connect.js';
import { NatsRaw } from '../../sources/nats-jetstream/nats-jetstream.js';
import { entryToRaw, redisConnectOptions } from '../../sources/redis-streams/connect.js';
import { DeadLetters } from '../../pipeline/dead-letters.js';
import { createMetrics } from '../../metrics/registry.js';
import { MemoryLifecycleStore } from '../../state/memory.js';
import { loadNats, loadRedis } from '../../util/bus-clients.js';
import { SlicedBatches } from '../../util/sliced-batches.js';
import { isStreamNotFound, positionKey, type StreamPositions } from './stream-history.js';
import type { TailSink } from './tail.js';

type NatsConfig = Extract<SourceConfig, { kind: 'nats-jetstream' }>;
type RedisConfig = Extract<SourceConfig, { kind: 'redis-streams' }>;

export const RETRY_MS = 1000; // after a failed read or an ordered consumer that ended, before trying again

export interface BusSource {
  name: string;
  config: SourceConfig;
}

export interface FollowerDeps {
  config: Config;
  tail: TailSink;
  logger: Logger;
  now?: () => number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * The follower of the bus sources among `sources`, or undefined when tail.follow is off or no bus
 * source exists (then nothing is started and the tail takes the pipeline's batches as before).
 */
export function createTailFollower(sources: BusSource[], deps: FollowerDeps): TailFollower | undefined {
  const bus = sources.filter((s) => s.config.kind === 'nats-jetstream' || s.config.kind === 'redis-streams');
  const mode = deps.config.tail.follow;
  if (mode === 'on' && bus.length === 0) deps.logger.warn('tail.follow is on but no nats-jetstream or redis-streams source is configured; nothing to follow');
  if (mode === 'off' || bus.length === 0) return undefined;
  return new TailFollower(bus, deps);
}

interface Reader {
  /** resolves once reading began (or its first attempt failed; it retries on its own) */
  start(positions?: StreamPositions): Promise<void>;
  stop(): Promise<void>;
}

export class TailFollower {
  private readonly readers: Reader[];
  private readonly pipeline: Pipeline;

  constructor(
    readonly sources: BusSource[],
    private readonly deps: FollowerDeps,
  ) {
    const { config, logger } = deps;
    const ignore = () => {};
    // Its own pipeline: the same decode, normalize, validate, duplicate drop and duration derivation
    // as the shared one, with lifecycle state in memory and metrics in a registry nobody scrapes, so
    // what a replica follows never counts twice nor touches the shared state. Rejects are counted,
    // logged and dead-lettered once, by the pipeline of the replica whose consumer got the message.
    this.pipeline = new Pipeline({
      config,
      metrics: createMetrics(new promClient.Registry(), { ...config.metrics, defaultMetrics: false }),
      store: new OrderedLifecycleStore(new MemoryLifecycleStore(config.state.maxEntries, ignore), config.accounting.maxOrphanEnds, ignore),
      deadLetters: new DeadLetters(1, 0),
      logger: logger.child({ component: 'tail-follow' }, { level: logger.isLevelEnabled('error') ? 'error' : logger.level }),
      now: deps.now,
      accounting: new EventAccounting(config.accounting, ignore),
    });
    this.pipeline.addSink({ name: 'tail', write: (batch) => deps.tail.take(batch) });
    deps.tail.follow(sources.map((s) => s.name));
    this.readers = sources.map(({ name, config: sc }) => {
      const handler = this.pipeline.handler(name, { format: sc.format, preset: sc.preset, mapping: sc.mapping });
      return sc.kind === 'nats-jetstream' ? new NatsReader(name, sc, handler, logger) : new RedisReader(name, sc as RedisConfig, handler, logger);
    });
  }

  /**
   * Starts reading after `positions` (where the history read ended), else at the streams' ends now.
   * Waits at most tail.historyLoadTimeoutMs: a broker that does not answer must not hold the start;
   * its reader keeps trying in the background.
   */
  async start(positions?: StreamPositions): Promise<void> {
    const budget = this.deps.config.tail.historyLoadTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(true), budget)));
    const started = Promise.all(
      this.readers.map((r) =>
        // only a refused login gets here (an unreachable broker is waited for); the source then fails the start with it
        r.start(positions).catch((err) => this.deps.logger.error({ err }, 'tail follower cannot start')),
      ),
    ).then(() => false);
    const timedOut = await Promise.race([started, late]);
    clearTimeout(timer);
    if (timedOut) this.deps.logger.warn({ timeoutMs: budget }, 'tail follower not started in time; it keeps trying in the background');
  }

  /** Stops reading; resolves once what was read went into the tail. */
  async stop(): Promise<void> {
    await Promise.all(this.readers.map((r) => r.stop()));
    await this.pipeline.drain();
  }
}

/** Logs a reader's trouble once and its recovery once, not every retry. */
class Health {
  private failing = false;
  constructor(
    private readonly logger: Logger,
    private readonly what: Record<string, unknown>,
  ) {}
  fail(err: unknown, msg: string): void {
    if (this.failing) return;
    this.failing = true;
    this.logger.warn({ err, ...this.what }, `tail follower: ${msg}; retrying`);
  }
  ok(): void {
    if (!this.failing) return;
    this.failing = false;
    this.logger.info(this.what, 'tail follower: following again');
  }
}

/** One connection per nats-jetstream source; one ordered consumer (no ack, no durable state on the server) per stream. */
class NatsReader implements Reader {
  private nc?: NatsConnection;
  private streams: NatsStreamReader[] = [];
  private stopped = false;

  constructor(
    private readonly name: string,
    private readonly cfg: NatsConfig,
    private readonly handler: BatchHandler,
    private readonly logger: Logger,
  ) {}

  async start(positions?: StreamPositions): Promise<void> {
    const { transport, jetstream: lib } = await loadNats();
    if (this.stopped) return;
    // waitOnFirstConnect: a broker down at start is waited for, like one that goes down later
    const nc = await transport.connect({ ...natsConnectOptions(this.cfg, `${this.name}:tail`), maxReconnectAttempts: -1, reconnectTimeWait: 1000, waitOnFirstConnect: true });
    if (this.stopped) {
      await nc.close();
      return;
    }
    this.nc = nc;
    void this.watch(nc);
    const jsm = await lib.jetstreamManager(nc);
    const js = lib.jetstream(nc);
    this.streams = this.cfg.streams.map((s) => {
      const at = positions?.get(positionKey(this.name, s.stream));
      return new NatsStreamReader(jsm, js, s.stream, s.subjects, typeof at === 'number' ? at : undefined, this.cfg.batch, this.handler, new Health(this.logger, { source: this.name, stream: s.stream }));
    });
    await Promise.all(this.streams.map((s) => s.start()));
  }

  private async watch(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') this.logger.warn({ source: this.name }, 'tail follower: nats connection lost; reconnecting');
      else if (s.type === 'reconnect') this.logger.info({ source: this.name }, 'tail follower: nats reconnected');
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.streams.map((s) => s.stop()));
    await this.nc?.close().catch(() => undefined);
  }
}

class NatsStreamReader {
  private consumer?: Consumer;
  private messages?: ConsumerMessages;
  private loop?: Promise<void>;
  private stopped = false;
  private readonly batcher: SlicedBatches<RawMessage>;

  constructor(
    private readonly jsm: JetStreamManager,
    private readonly js: JetStreamClient,
    private readonly stream: string,
    private readonly subjects: string[],
    /** the last sequence already shown (read back as history); undefined: the stream's end at start */
    private last: number | undefined,
    batch: number,
    handler: BatchHandler,
    private readonly health: Health,
  ) {
    this.batcher = new SlicedBatches(batch, handler, (err) => health.fail(err, 'a batch failed'));
  }

  /** Resolves after the first attempt to open the consumer, whatever its outcome (the loop retries). */
  start(): Promise<void> {
    return new Promise((first) => {
      this.loop = this.run(first);
    });
  }

  private onMessage = (m: JsMsg): void => {
    this.last = m.seq;
    this.batcher.push(new NatsRaw(m));
  };

  private async run(first: () => void): Promise<void> {
    const { DeliverPolicy } = (await loadNats()).jetstream; // loaded by NatsReader.start
    while (!this.stopped) {
      try {
        this.last ??= await this.end();
        // An ordered consumer re-creates itself after a gap, a reconnect or missed heartbeats, from
        // the sequence after the last it delivered; when it gives up, this loop opens a new one.
        const consumer = (this.consumer = await this.js.consumers.get(this.stream, {
          // one subject as a string: servers before 2.10 take only a single filter
          filter_subjects: this.subjects.length === 1 ? this.subjects[0] : this.subjects,
          deliver_policy: DeliverPolicy.StartSequence,
          opt_start_seq: this.last + 1,
        }));
        if (this.stopped) break;
        this.messages = await consumer.consume({ callback: this.onMessage });
        this.health.ok();
        first();
        const err = await this.messages.closed();
        if (this.stopped) break;
        throw err ?? new Error('ordered consumer ended');
      } catch (err) {
        first();
        if (this.stopped) break;
        this.health.fail(err, `cannot read stream ${this.stream}`);
        await sleep(RETRY_MS);
      }
    }
    first(); // stopped before a first attempt
  }

  /** The stream's last sequence now; 0 when it does not exist yet (it is followed from its first message). */
  private async end(): Promise<number> {
    try {
      return (await this.jsm.streams.info(this.stream)).state.last_seq;
    } catch (err) {
      if (isStreamNotFound(err)) return 0;
      throw err;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.messages?.stop();
    await this.loop;
    await this.batcher.drain();
    // the server would drop it after 5 idle minutes; a restart should not leave one behind that long
    await this.consumer?.delete().catch(() => undefined);
  }
}

/** XREAD without a group, from the last entry id seen, on its own connection (a blocking read holds it). */
class RedisReader implements Reader {
  private redis?: Redis;
  private stopped = false;
  private loop?: Promise<void>;
  private ids: string[] = [];
  private readonly health: Health;

  constructor(
    private readonly name: string,
    private readonly cfg: RedisConfig,
    private readonly handler: BatchHandler,
    private readonly logger: Logger,
  ) {
    this.health = new Health(logger, { source: name, keys: cfg.keys });
  }

  /** Resolves once the start ids are known (or finding them failed once; the loop retries). */
  async start(positions?: StreamPositions): Promise<void> {
    const cfg = this.cfg;
    const { Redis } = await loadRedis();
    if (this.stopped) return;
    // commands wait for a reconnect (maxRetriesPerRequest null), so a Redis restart is followed through
    const redis = new Redis(cfg.url, { ...redisConnectOptions(cfg, `${this.name}:tail`), maxRetriesPerRequest: null, retryStrategy: (times) => Math.min(times * 200, 2000) });
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
