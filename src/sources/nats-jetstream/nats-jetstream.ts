// The nats-jetstream source: durable pull consumers, batched, acked only after every sink took the batch.
import type { ConsumerMessages, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { SourceConfig } from '../../config/schema.js';
import { SourceError } from '../../errors.js';
import type { BatchHandler, BatchResult, Source, SourceStatus } from '../../pipeline/types.js';
import type { RawMessage } from '../../events/raw.js';
import type { DeadLetter, DeadLetterOutput } from '../../pipeline/dead-letters.js';
import type { Metrics } from '../../metrics/registry.js';
import { loadNats } from '../../util/bus-clients.js';
import { SlicedBatches } from '../../util/sliced-batches.js';
import { natsConnectOptions } from './connect.js';

export type NatsSourceConfig = Extract<SourceConfig, { kind: 'nats-jetstream' }>;

export const PENDING_POLL_MS = 5000; // consumer info is a request to the server: every few seconds is plenty
export const FAILED_BATCH_NAK_MS = 2000; // redeliver a batch whose sinks failed after this delay

/**
 * A JetStream message as the pipeline sees it. The transport id (stream:sequence) is read only
 * when asked, for a dead letter or a reject log: it parses the reply subject, a few percent of the
 * source's CPU when done for every message.
 */
export class NatsRaw implements RawMessage {
  readonly data: Uint8Array;
  readonly subject: string;
  constructor(private readonly msg: JsMsg) {
    this.data = msg.data;
    this.subject = msg.subject;
  }
  get transportId(): string {
    return `${this.msg.info.stream}:${this.msg.seq}`;
  }
}

/**
 * Micro-batches one consumer's messages and takes each batch through the handler, then acks it.
 * Batches go through one at a time, in slices of the event loop (util/sliced-batches.ts). Unacked
 * messages stay bounded by the consumer's maxAckPending: nothing is acked before its batch went
 * through the sinks.
 */
class ConsumerLoop {
  private readonly batches: SlicedBatches<JsMsg>;
  private readonly progress: NodeJS.Timeout;
  messages?: ConsumerMessages;

  constructor(
    readonly stream: string,
    readonly durable: string,
    batch: number,
    private readonly ackAll: boolean,
    private readonly handler: BatchHandler,
    private readonly onError: (err: unknown) => void,
    ackWaitMs: number,
  ) {
    // process() naks a batch whose sinks failed; onError also gets what is left (an ack on a closed connection)
    this.batches = new SlicedBatches(batch, (msgs) => this.process(msgs), onError);
    // A slow sink (a stalled state store) can hold a batch, and the batches queued behind it, past
    // the ack wait; the server would then redeliver what this process is still going to count.
    // An in-progress ack every half ack wait keeps them ours until they are acked.
    this.progress = setInterval(() => this.keepAlive(), Math.max(250, ackWaitMs / 2));
    this.progress.unref();
  }

  private keepAlive(): void {
    for (const m of this.batches.pending()) m.working();
  }

  onMessage = (m: JsMsg): void => this.batches.push(m);

  private async process(msgs: JsMsg[]): Promise<void> {
    const raw: RawMessage[] = new Array(msgs.length);
    for (let i = 0; i < msgs.length; i++) raw[i] = new NatsRaw(msgs[i]);
    let result: BatchResult;
    try {
      result = await this.handler(raw);
    } catch (err) {
      this.onError(err);
      for (const m of msgs) m.nak(FAILED_BATCH_NAK_MS);
      return;
    }
    if (this.ackAll) {
      // AckPolicy.All: acking the highest sequence acks everything before it, one write per batch
      msgs[msgs.length - 1].ack();
    } else {
      // acks are buffered by the client and leave in one socket write at the end of this tick
      for (const m of msgs) m.ack();
    }
    result.acked?.();
  }

  /** Stops pulling, then takes what is buffered and in flight through the handler and acks it. */
  async stop(): Promise<void> {
    this.messages?.stop();
    await this.messages?.closed().catch(() => undefined);
    await this.batches.drain();
    clearInterval(this.progress);
  }
}

export class NatsJetStreamSource implements Source {
  readonly kind = 'nats-jetstream' as const;
  /** consumer statuses are counted under their nats.js names (watchConsumer) */
  readonly errorKinds = ['sink_failed', 'disconnected', 'heartbeats_missed', 'consumer_not_found', 'stream_not_found', 'consumer_deleted'] as const;
  private nc?: NatsConnection;
  private jsm?: JetStreamManager;
  private loops: ConsumerLoop[] = [];
  private connected = false;
  private detail = 'not started';
  private pendingTimer?: NodeJS.Timeout;
  private pending?: number;

  constructor(
    readonly name: string,
    private readonly cfg: NatsSourceConfig,
    private readonly logger: Logger,
    private readonly metrics?: Metrics,
  ) {}

  get connection(): NatsConnection | undefined {
    return this.nc;
  }

  async start(handler: BatchHandler): Promise<void> {
    const cfg = this.cfg;
    // the client library is loaded here, by the first bus source or reader that starts
    const nats = await loadNats();
    try {
      this.nc = await nats.transport.connect({
        ...natsConnectOptions(cfg, this.name),
        maxReconnectAttempts: -1, // a broker outage is survived, never a reason to exit
        reconnectTimeWait: 1000,
      });
    } catch (cause) {
      throw new SourceError(this.name, `cannot connect to ${cfg.servers.join(',')}: ${(cause as Error).message}`, { cause });
    }
    this.setUp(true, 'connected');
    void this.watchStatus(this.nc);
    this.jsm = await nats.jetstream.jetstreamManager(this.nc);
    const js = nats.jetstream.jetstream(this.nc);
    for (const s of cfg.streams) {
      await this.ensure(this.jsm, s.stream, s.subjects, s.durable);
      const consumer = await js.consumers.get(s.stream, s.durable);
      const loop = new ConsumerLoop(s.stream, s.durable, cfg.batch, cfg.ackPolicy === 'all', handler, (err) => {
        this.metrics?.sourceErrors.labels(this.name, 'sink_failed').inc();
        this.logger.error({ err, source: this.name, stream: s.stream }, 'batch failed; nak for redelivery');
      }, cfg.ackWaitMs);
      loop.messages = await consumer.consume({
        max_messages: cfg.batch * 2, // one batch in the handler, one arriving
        expires: cfg.pullExpiresMs,
        callback: loop.onMessage,
      });
      void this.watchConsumer(loop);
      this.loops.push(loop);
    }
    this.pendingTimer = setInterval(() => void this.pollPending(), PENDING_POLL_MS);
    this.pendingTimer.unref();
    void this.pollPending();
  }

  private async ensure(jsm: JetStreamManager, stream: string, subjects: string[], durable: string): Promise<void> {
    const { jetstream: { AckPolicy, DeliverPolicy }, transport: { nanos } } = await loadNats(); // loaded by start()
    try {
      await jsm.streams.info(stream);
    } catch (cause) {
      if (!this.cfg.create) throw new SourceError(this.name, `stream ${stream} not found (set create: true to create it)`, { cause });
      try {
        await jsm.streams.add({ name: stream, subjects });
        this.logger.info({ source: this.name, stream, subjects }, 'created stream');
      } catch (err) {
        throw new SourceError(this.name, `cannot create stream ${stream}: ${(err as Error).message}`, { cause: err });
      }
    }
    try {
      await jsm.consumers.info(stream, durable);
    } catch (cause) {
      if (!this.cfg.create) throw new SourceError(this.name, `consumer ${durable} on stream ${stream} not found (set create: true to create it)`, { cause });
      try {
        await jsm.consumers.add(stream, {
          durable_name: durable,
          ack_policy: this.cfg.ackPolicy === 'all' ? AckPolicy.All : AckPolicy.Explicit,
          ack_wait: nanos(this.cfg.ackWaitMs),
          max_ack_pending: this.cfg.maxAckPending,
          deliver_policy: this.cfg.deliverPolicy === 'new' ? DeliverPolicy.New : DeliverPolicy.All,
          // one subject filters on every server version; several need filter_subjects (server 2.10+)
          ...(subjects.length === 1 ? { filter_subject: subjects[0] } : { filter_subjects: subjects }),
        });
        this.logger.info({ source: this.name, stream, durable }, 'created durable consumer');
      } catch (err) {
        throw new SourceError(this.name, `cannot create consumer ${durable} on ${stream}: ${(err as Error).message}`, { cause: err });
      }
    }
  }

  private setUp(up: boolean, detail: string): void {
    this.connected = up;
    this.detail = detail;
    this.metrics?.sourceUp.labels(this.name, this.kind).set(up ? 1 : 0);
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect' || s.type === 'reconnecting') {
        if (this.connected) {
          this.metrics?.sourceErrors.labels(this.name, 'disconnected').inc();
          this.logger.warn({ source: this.name, status: s.type }, 'nats connection lost; reconnecting');
        }
        this.setUp(false, s.type);
      } else if (s.type === 'reconnect') {
        this.setUp(true, 'reconnected');
        this.logger.info({ source: this.name }, 'nats reconnected');
      }
    }
  }

  private async watchConsumer(loop: ConsumerLoop): Promise<void> {
    if (!loop.messages) return;
    for await (const s of loop.messages.status()) {
      if (s.type === 'heartbeats_missed' || s.type === 'consumer_not_found' || s.type === 'stream_not_found' || s.type === 'consumer_deleted') {
        this.metrics?.sourceErrors.labels(this.name, s.type).inc();
        this.logger.warn({ source: this.name, stream: loop.stream, status: s.type }, 'consumer status');
      }
    }
  }

  private async pollPending(): Promise<void> {
    if (!this.jsm || !this.connected) return;
    let total = 0;
    try {
      for (const l of this.loops) {
        const info = await this.jsm.consumers.info(l.stream, l.durable);
        total += info.num_pending + info.num_ack_pending;
      }
      this.pending = total;
      this.metrics?.sourcePending.labels(this.name).set(total);
    } catch {
      // a failed poll leaves the last figure; connection state speaks for itself
    }
  }

  /** A dead-letter output publishing each letter as JSON on `subject`. */
  deadLetterOutput(subject: string): DeadLetterOutput {
    return {
      name: 'nats',
      publish: async (letters: DeadLetter[]) => {
        const nc = this.nc;
        if (!nc || nc.isClosed()) throw new Error('nats connection closed');
        for (const l of letters) nc.publish(subject, JSON.stringify(l));
        await nc.flush();
      },
    };
  }

  async stop(): Promise<void> {
    if (this.pendingTimer) clearInterval(this.pendingTimer);
    for (const l of this.loops) await l.stop();
    this.loops = [];
    if (this.nc && !this.nc.isClosed()) {
      // drain flushes the acks written above before the socket closes
      await this.nc.drain().catch(() => this.nc?.close());
    }
    this.setUp(false, 'stopped');
  }

  status(): SourceStatus {
    return { connected: this.connected, pending: this.pending, detail: this.detail };
  }
}
