// The redis-streams source: a consumer group read in batches (XREADGROUP), one XACK per batch after
// the sinks took it, entries left pending by a dead consumer claimed with XAUTOCLAIM; a missing
// group or a key that is no longer a stream makes it unready until reading works again.
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { SourceConfig } from '../../config/schema.js';
import { SourceError } from '../../errors.js';
import type { BatchHandler, Source, SourceStatus } from '../../pipeline/types.js';
import type { RawMessage } from '../../events/raw.js';
import type { DeadLetter, DeadLetterOutput } from '../../pipeline/dead-letters.js';
import type { Metrics } from '../../metrics/registry.js';
import { describeTopology, openRedis } from '../../util/redis-client.js';
import { entryToRaw, redisConnectOptions, type Entry } from './connect.js';

export type RedisSourceConfig = Extract<SourceConfig, { kind: 'redis-streams' }>;

export const PENDING_POLL_MS = 5000;
export const RETRY_BACKOFF_MS = 500; // after a failed read or a failed batch, before trying again

// ioredis has Buffer variants of every command at run time; its typings omit these two
type BufferCommands = {
  xreadgroupBuffer(...args: (string | number)[]): Promise<unknown>;
  xautoclaimBuffer(...args: (string | number)[]): Promise<unknown>;
};
type StreamReply = [key: Buffer, entries: Entry[]][];

/** Why the source cannot read although connected; kinds of workflow_exporter_source_errors_total. */
type Fault = { kind: 'group_missing' | 'wrong_type'; detail: string };

export class RedisStreamsSource implements Source {
  readonly kind = 'redis-streams' as const;
  readonly errorKinds = ['disconnected', 'group_missing', 'wrong_type', 'batch_failed', 'group_recreated', 'claimed'] as const;
  private redis?: Redis;
  private connected = false;
  private detail = 'not started';
  private stopped = false;
  private loop?: Promise<void>;
  private pending?: number;
  private pendingTimer?: NodeJS.Timeout;
  private lastClaim = 0;
  private fault?: Fault;
  readonly consumer: string;
  private readonly fieldBytes: Buffer;

  constructor(
    readonly name: string,
    private readonly cfg: RedisSourceConfig,
    private readonly logger: Logger,
    private readonly metrics?: Metrics,
  ) {
    // hostname is the pod name on Kubernetes: stable across a container restart, unique per replica
    this.consumer = cfg.consumer ?? hostname();
    this.fieldBytes = Buffer.from(cfg.field);
  }

  get client(): Redis | undefined {
    return this.redis;
  }

  async start(handler: BatchHandler): Promise<void> {
    const cfg = this.cfg;
    this.stopped = false;
    // the client library is loaded here, by the first Redis source, store or reader that needs it
    const redis = await openRedis(cfg, {
      lazyConnect: true,
      ...redisConnectOptions(cfg, this.name),
      maxRetriesPerRequest: null, // commands wait for the reconnect instead of failing the batch
      retryStrategy: (times) => Math.min(times * 200, 2000),
    });
    if (this.stopped) return; // stopped while it loaded: nothing was opened (lazyConnect)
    this.redis = redis;
    redis.on('ready', () => {
      if (!this.connected && this.detail !== 'not started') this.logger.info({ source: this.name }, 'redis reconnected');
      // a missing group or a key of another type keeps the source unready across reconnects until a read succeeds
      this.setUp(!this.fault, this.fault?.detail ?? 'ready');
    });
    redis.on('close', () => {
      if (this.connected && !this.stopped) {
        this.metrics?.sourceErrors.labels(this.name, 'disconnected').inc();
        this.logger.warn({ source: this.name }, 'redis connection lost; reconnecting');
      }
      this.setUp(false, 'disconnected');
    });
    redis.on('error', () => {}); // reported through close/ready; ioredis retries on its own
    try {
      await redis.connect();
    } catch (cause) {
      redis.disconnect();
      throw new SourceError(this.name, `cannot connect to ${describeTopology(cfg)}: ${(cause as Error).message}`, { cause });
    }
    for (const key of cfg.keys) await this.ensureGroup(key, cfg.startId);
    this.metrics?.eventsLost.labels(this.name, 'trimmed').inc(0); // a series from the start, for increase()
    this.loop = this.run(handler);
    this.pendingTimer = setInterval(() => void this.pollPending(), PENDING_POLL_MS);
    this.pendingTimer.unref();
  }

  private setUp(up: boolean, detail: string): void {
    this.connected = up;
    this.detail = detail;
    this.metrics?.sourceUp.labels(this.name, this.kind).set(up ? 1 : 0);
  }

  private async ensureGroup(key: string, startId: string): Promise<void> {
    const redis = this.redis!;
    if (!this.cfg.create) {
      try {
        const groups = (await redis.xinfo('GROUPS', key)) as unknown[][];
        if (!groups.some((g) => g[1] === this.cfg.group)) throw new Error(`group ${this.cfg.group} missing`);
      } catch (cause) {
        throw new SourceError(this.name, `stream ${key} or group ${this.cfg.group} not found (set create: true to create them)`, { cause });
      }
      return;
    }
    try {
      await redis.xgroup('CREATE', key, this.cfg.group, startId, 'MKSTREAM');
      this.logger.info({ source: this.name, key, group: this.cfg.group }, 'created consumer group');
    } catch (err) {
      if (!String((err as Error).message).includes('BUSYGROUP')) {
        throw new SourceError(this.name, `cannot create group ${this.cfg.group} on ${key}: ${(err as Error).message}`, { cause: err });
      }
    }
  }

  /**
   * Entries as raw messages, and every entry's id. An entry trimmed or deleted after Redis handed it
   * to a consumer comes back without fields: it is acked too (it can never be read), and counted lost.
   */
  private toRaw(key: string, entries: Entry[], ids: string[]): RawMessage[] {
    const out: RawMessage[] = [];
    for (const [idBuf, fields] of entries) {
      const id = idBuf.toString();
      ids.push(id);
      const m = entryToRaw(key, this.fieldBytes, id, fields);
      if (m) out.push(m);
    }
    if (out.length < entries.length) this.lost(key, entries.length - out.length);
    return out;
  }

  /** Pending entries the stream no longer holds: they were never counted and never will be. */
  private lost(key: string, n: number): void {
    this.metrics?.eventsLost.labels(this.name, 'trimmed').inc(n);
    this.logger.warn({ source: this.name, key, lost: n }, 'pending entries were trimmed or deleted from the stream before they were read; counted as lost');
  }

  /** Runs one stream's entries through the handler, then acks them with one XACK. */
  private async processEntries(handler: BatchHandler, key: string, entries: Entry[]): Promise<void> {
    if (entries.length === 0) return;
    const ids: string[] = [];
    const raw = this.toRaw(key, entries, ids);
    const result = raw.length > 0 ? await handler(raw) : undefined;
    // ids as strings: ioredis writes a command of Buffers piece by piece, several times the cost
    await this.redis!.xack(key, this.cfg.group, ...ids);
    result?.acked?.();
  }

  private read(pending: boolean, block: boolean): Promise<StreamReply | null> {
    const cfg = this.cfg;
    return (this.redis as unknown as BufferCommands).xreadgroupBuffer(
      'GROUP', cfg.group, this.consumer, 'COUNT', cfg.batch,
      ...(block ? ['BLOCK', cfg.blockMs] : []),
      'STREAMS', ...cfg.keys, ...cfg.keys.map(() => (pending ? '0' : '>')),
    ) as Promise<StreamReply | null>;
  }

  private async run(handler: BatchHandler): Promise<void> {
    const cfg = this.cfg;
    // after a restart this consumer's own pending entries (read, never acked) come first
    let ownPending = true;
    // the next batch, asked for while this one goes through the pipeline (see below)
    let prefetched: Promise<StreamReply | null> | undefined;
    while (!this.stopped) {
      try {
        if (Date.now() - this.lastClaim >= cfg.claimIntervalMs) {
          this.lastClaim = Date.now();
          await this.claim(handler);
        }
        const res = prefetched ? await prefetched : await this.read(ownPending, !ownPending);
        prefetched = undefined;
        // A full batch means more is waiting: ask for the next one now and let Redis answer while
        // this one is processed, instead of a round trip between batches. Never with BLOCK, which
        // would hold the connection our XACK travels on; an empty answer falls back to a blocking read.
        if (!ownPending && !this.stopped && res?.some(([, entries]) => entries.length >= cfg.batch)) prefetched = this.read(false, false);
        let got = 0;
        for (const [keyBuf, entries] of res ?? []) {
          got += entries.length;
          await this.processEntries(handler, keyBuf.toString(), entries);
        }
        if (ownPending && got === 0) ownPending = false;
        if (this.fault) {
          const was = this.fault.kind;
          this.fault = undefined;
          this.setUp(true, 'ready');
          this.logger.info({ source: this.name, group: cfg.group, was }, was === 'group_missing' ? 'consumer group is back; reading again' : 'stream keys are streams again; reading again');
        }
      } catch (err) {
        // a prefetched batch is in our pending list now: the own-pending read below takes it again
        prefetched?.catch(() => null);
        prefetched = undefined;
        if (this.stopped) break;
        const msg = String((err as Error).message);
        if (msg.includes('NOGROUP')) {
          ownPending = false;
          // Redis lost the stream and group (restart without persistence): recreate from the start
          if (cfg.create && (await this.recreateGroups())) continue;
          // not ours to create (create: false), or Redis refused: not ready, said once, retried with a pause
          if (this.fault?.kind !== 'group_missing') {
            this.metrics?.sourceErrors.labels(this.name, 'group_missing').inc();
            this.logger.error({ source: this.name, group: cfg.group, keys: cfg.keys }, 'consumer group missing and not recreated; retrying until it exists');
          }
          this.fault = { kind: 'group_missing', detail: `group ${cfg.group} missing` };
          this.setUp(false, this.fault.detail);
          await new Promise((r) => setTimeout(r, RETRY_BACKOFF_MS));
        } else if (msg.startsWith('UNBLOCKED')) {
          // Redis 7 ends a blocked XREADGROUP when its key is deleted: the next read says what took
          // its place (nothing: NOGROUP above; another type: WRONGTYPE below; a new stream)
          ownPending = true;
        } else if (msg.includes('WRONGTYPE')) {
          // A key replaced by a string, a hash…: every read fails until someone makes it a stream
          // again. Not ready, said once, retried with a pause (a deleted key then has no group:
          // NOGROUP above recreates it with create: true).
          if (this.fault?.kind !== 'wrong_type') {
            const others = await this.notStreams().catch(() => cfg.keys);
            this.metrics?.sourceErrors.labels(this.name, 'wrong_type').inc();
            this.logger.error({ source: this.name, keys: others }, 'stream key holds another type; not reading until it is a stream again');
            this.fault = { kind: 'wrong_type', detail: `key ${others.join(', ')} is not a stream` };
          }
          this.setUp(false, this.fault.detail);
          ownPending = true;
          await new Promise((r) => setTimeout(r, RETRY_BACKOFF_MS));
        } else {
          this.metrics?.sourceErrors.labels(this.name, 'batch_failed').inc();
          this.logger.error({ err, source: this.name }, 'read or batch failed; retrying own pending entries');
          ownPending = true;
          await new Promise((r) => setTimeout(r, RETRY_BACKOFF_MS));
        }
      }
    }
    // stopping: a batch read ahead is taken through the sinks and acked like the one in hand
    if (prefetched) {
      try {
        for (const [keyBuf, entries] of (await prefetched) ?? []) await this.processEntries(handler, keyBuf.toString(), entries);
      } catch (err) {
        this.logger.warn({ err, source: this.name }, 'batch read ahead before stop failed; its entries stay pending for the next start');
      }
    }
  }

  /** The configured keys that exist and hold something other than a stream, with their type. */
  private async notStreams(): Promise<string[]> {
    const out: string[] = [];
    for (const key of this.cfg.keys) {
      const type = await this.redis!.type(key);
      if (type !== 'stream' && type !== 'none') out.push(`${key} (${type})`);
    }
    return out;
  }

  /** Recreates the group on every key from the stream's start; true when that worked (counted once). */
  private async recreateGroups(): Promise<boolean> {
    try {
      for (const key of this.cfg.keys) await this.ensureGroup(key, '0');
    } catch (err) {
      this.logger.warn({ err, source: this.name, group: this.cfg.group }, 'consumer group missing; recreating it failed');
      return false;
    }
    this.metrics?.sourceErrors.labels(this.name, 'group_recreated').inc();
    this.logger.warn({ source: this.name, group: this.cfg.group }, 'consumer group was missing (Redis lost it); recreated it from the start of the stream');
    return true;
  }

  /** Takes over entries another consumer read and never acked for claimIdleMs. */
  private async claim(handler: BatchHandler): Promise<void> {
    const cfg = this.cfg;
    for (const key of cfg.keys) {
      let cursor = '0-0';
      for (let round = 0; round < 100; round++) {
        const res = (await (this.redis as unknown as BufferCommands).xautoclaimBuffer(key, cfg.group, this.consumer, cfg.claimIdleMs, cursor, 'COUNT', cfg.batch)) as [
          Buffer,
          Entry[],
          Buffer[]?,
        ];
        // Redis 7 drops entries trimmed while pending from the group and names them in a third
        // element; Redis 6.2 returns them without fields (toRaw counts those)
        if (res[2] && res[2].length > 0) this.lost(key, res[2].length);
        const entries = res[1];
        const readable = entries.reduce((n, e) => (e[1] !== null ? n + 1 : n), 0);
        if (readable > 0) {
          this.metrics?.sourceErrors.labels(this.name, 'claimed').inc(readable);
          this.logger.info({ source: this.name, key, claimed: readable }, 'claimed entries left pending by another consumer');
        }
        await this.processEntries(handler, key, entries);
        cursor = res[0].toString();
        if (cursor === '0-0') break;
      }
    }
  }

  private async pollPending(): Promise<void> {
    if (!this.redis || !this.connected) return;
    try {
      let total = 0;
      for (const key of this.cfg.keys) {
        const groups = (await this.redis.xinfo('GROUPS', key)) as unknown[][];
        for (const g of groups) {
          const o: Record<string, unknown> = {};
          for (let i = 0; i < g.length; i += 2) o[String(g[i])] = g[i + 1];
          if (o.name === this.cfg.group) total += Number(o.pending ?? 0) + Number(o.lag ?? 0);
        }
      }
      this.pending = total;
      this.metrics?.sourcePending.labels(this.name).set(total);
    } catch {
      // keep the last figure
    }
  }

  /** A dead-letter output: XADD to `stream`, capped near maxLen entries. */
  deadLetterOutput(stream: string, maxLen: number): DeadLetterOutput {
    return {
      name: 'redis',
      publish: async (letters: DeadLetter[]) => {
        const p = this.redis!.pipeline();
        for (const l of letters) p.xadd(stream, 'MAXLEN', '~', maxLen, '*', 'data', JSON.stringify(l));
        await p.exec();
      },
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.pendingTimer) clearInterval(this.pendingTimer);
    // the loop ends after its current read (at most blockMs) and the batch it holds is acked
    await this.loop;
    await this.redis?.quit().catch(() => this.redis?.disconnect());
    this.setUp(false, 'stopped');
  }

  status(): SourceStatus {
    return { connected: this.connected, pending: this.pending, detail: this.detail };
  }
}
