// The nats-jetstream source: durable pull consumers, batched, acked only after every sink took the batch.
import type { ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { SourceConfig } from '../../config/schema.js';
import { SourceError } from '../../errors.js';
import type { BatchHandler, BatchResult, Source, SourceStatus } from '../../pipeline/types.js';
import type { RawMessage } from '../../events/raw.js';
import type { DeadLetter, DeadLetterOutput } from '../../pipeline/dead-letters.js';
import type { Metrics } from '../../metrics/registry.js';
import { loadNats, natsIfLoaded } from '../../util/bus-clients.js';
import { SlicedBatches } from '../../util/sliced-batches.js';
import { natsConnectOptions } from './connect.js';

export type NatsSourceConfig = Extract<SourceConfig, { kind: 'nats-jetstream' }>;

export const PENDING_POLL_MS = 5000; // consumer info is a request to the server: every few seconds is plenty
export const FAILED_BATCH_NAK_MS = 2000; // redeliver a batch whose sinks failed after this delay
export const RECOVER_RETRY_MS = 1000; // between attempts to find (or recreate) a lost consumer or stream

type StreamSpec = NatsSourceConfig['streams'][number];

/** The stream or the durable consumer is not on the server, and this attempt may not create it. */
class MissingResource extends SourceError {
  constructor(
    source: string,
    readonly what: 'stream' | 'consumer',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(source, message, options);
  }
}

/** Which of the two the server says is missing in `err`, if that is what it says. */
function notFound(err: unknown): 'stream' | 'consumer' | undefined {
  const js = natsIfLoaded()?.jetstream;
  if (!js || !(err instanceof js.JetStreamApiError)) return undefined;
  if (err.code === js.JetStreamApiCodes.StreamNotFound) return 'stream';
  if (err.code === js.JetStreamApiCodes.ConsumerNotFound) return 'consumer';
  return undefined;
}

// consumer status events that mean the durable (or its stream) is gone from the server
const LOSS_STATUS = new Set(['consumer_deleted', 'consumer_not_found', 'stream_not_found']);

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
  /** the highest stream sequence taken through the sinks; a recreated durable starts after it */
  lastSeq = 0;
  /** sequences of batches whose sinks failed (nak'd) and not yet taken through since */
  private readonly failed = new Set<number>();
  /** when the stream this loop reads was created: another value on the server is another stream */
  streamCreated?: string;
  /** why the durable is not being read (it or its stream is gone), while it is lost */
  lost?: string;
  /** a status said the durable is gone and the server is being asked */
  checking = false;

  constructor(
    readonly stream: string,
    readonly durable: string,
    batch: number,
    private readonly ackAll: boolean,
    private readonly handler: BatchHandler,
    private readonly onError: (err: unknown) => void,
    ackWaitMs: number,
    batchWaitMs = 0,
  ) {
    // process() naks a batch whose sinks failed; onError also gets what is left (an ack on a closed connection)
    this.batches = new SlicedBatches(batch, (msgs) => this.process(msgs), onError, batchWaitMs);
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
      for (const m of msgs) {
        m.nak(FAILED_BATCH_NAK_MS);
        this.failed.add(m.seq);
      }
      return;
    }
    // a sequence is parsed from the reply subject on every read: only the last of the batch (the
    // newest, unless a redelivery came last: then a recreated durable starts early, never late)
    const last = msgs[msgs.length - 1].seq;
    if (last > this.lastSeq) this.lastSeq = last;
    if (this.failed.size > 0) for (const m of msgs) this.failed.delete(m.seq);
    if (this.ackAll) {
      // AckPolicy.All: acking the highest sequence acks everything before it, one write per batch
      msgs[msgs.length - 1].ack();
    } else {
      // acks are buffered by the client and leave in one socket write at the end of this tick
      for (const m of msgs) m.ack();
    }
    result.acked?.();
  }

  /**
   * Where a durable recreated on the same stream starts: after the last message taken through the
   * sinks, or at the oldest one whose batch failed and was not redelivered yet. Counted messages
   * whose acks died with the old durable are not delivered again; nothing after them is skipped.
   */
  resumeSeq(): number {
    let seq = this.lastSeq + 1;
    for (const f of this.failed) if (f < seq) seq = f;
    return seq;
  }

  /** The stream was replaced: what this loop read of the old one says nothing about the new one. */
  forget(created: string): void {
    this.lastSeq = 0;
    this.failed.clear();
    this.streamCreated = created;
  }

  /** Stops pulling, then takes what is buffered and in flight through the handler and acks it. */
  async detach(): Promise<void> {
    this.messages?.stop();
    await this.messages?.closed().catch(() => undefined);
    await this.batches.drain();
  }

  async stop(): Promise<void> {
    await this.detach();
    clearInterval(this.progress);
  }
}

export class NatsJetStreamSource implements Source {
  readonly kind = 'nats-jetstream' as const;
  /** consumer statuses are counted under their nats.js names (watchConsumer) */
  readonly errorKinds = [
    'sink_failed', 'disconnected', 'heartbeats_missed', 'consumer_not_found', 'stream_not_found', 'consumer_deleted',
    // a lost durable or stream (recover): made again with create, else missing until someone restores it
    'consumer_recreated', 'stream_recreated', 'consumer_missing', 'stream_missing',
  ] as const;
  private nc?: NatsConnection;
  private jsm?: JetStreamManager;
  private js?: JetStreamClient;
  private loops: ConsumerLoop[] = [];
  private connected = false;
  private connDetail = 'not started';
  private stopping = false;
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
    this.stopping = false;
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
    this.setConnected(true, 'connected');
    void this.watchStatus(this.nc);
    this.jsm = await nats.jetstream.jetstreamManager(this.nc);
    this.js = nats.jetstream.jetstream(this.nc);
    for (const s of cfg.streams) {
      const loop = new ConsumerLoop(s.stream, s.durable, cfg.batch, cfg.ackPolicy === 'all', handler, (err) => {
        this.metrics?.sourceErrors.labels(this.name, 'sink_failed').inc();
        this.logger.error({ err, source: this.name, stream: s.stream }, 'batch failed; nak for redelivery');
      }, cfg.ackWaitMs, cfg.batchWaitMs);
      try {
        await this.ensure(s, loop);
        await this.consume(loop);
      } catch (err) {
        await loop.stop();
        throw err;
      }
      this.loops.push(loop);
    }
    this.pendingTimer = setInterval(() => void this.pollPending(), PENDING_POLL_MS);
    this.pendingTimer.unref();
    void this.pollPending();
  }

  private spec(loop: ConsumerLoop): StreamSpec {
    return this.cfg.streams.find((s) => s.stream === loop.stream && s.durable === loop.durable)!;
  }

  /**
   * Finds the stream and the durable on the server, and with `create` makes what is missing; says
   * what it made. A durable made on the stream this loop has read before starts after what the loop
   * took through the sinks (a consumer deleted under it); on a new stream it starts at the beginning.
   */
  private async ensure(s: StreamSpec, loop: ConsumerLoop, mayCreate = this.cfg.create): Promise<'stream' | 'consumer' | undefined> {
    const { jetstream: { AckPolicy, DeliverPolicy }, transport: { nanos } } = await loadNats(); // loaded by start()
    const jsm = this.jsm!;
    const { stream, subjects, durable } = s;
    let made: 'stream' | 'consumer' | undefined;
    let created: string;
    try {
      created = (await jsm.streams.info(stream)).created;
    } catch (cause) {
      if (notFound(cause) !== 'stream') throw new SourceError(this.name, `cannot read stream ${stream}: ${(cause as Error).message}`, { cause });
      if (!mayCreate) throw new MissingResource(this.name, 'stream', `stream ${stream} not found (set create: true to create it)`, { cause });
      try {
        created = (await jsm.streams.add({ name: stream, subjects })).created;
        made = 'stream';
        this.logger.info({ source: this.name, stream, subjects }, 'created stream');
      } catch (err) {
        throw new SourceError(this.name, `cannot create stream ${stream}: ${(err as Error).message}`, { cause: err });
      }
    }
    const sameStream = loop.streamCreated === created;
    if (!sameStream) loop.forget(created);
    try {
      await jsm.consumers.info(stream, durable);
      return made;
    } catch (cause) {
      const missing = notFound(cause);
      if (missing === 'stream') throw new MissingResource(this.name, 'stream', `stream ${stream} not found`, { cause }); // deleted in between
      if (missing !== 'consumer') throw new SourceError(this.name, `cannot read consumer ${durable} on ${stream}: ${(cause as Error).message}`, { cause });
      if (!mayCreate) throw new MissingResource(this.name, 'consumer', `consumer ${durable} on stream ${stream} not found (set create: true to create it)`, { cause });
    }
    const resumeAt = sameStream ? loop.resumeSeq() : undefined;
    try {
      await jsm.consumers.add(stream, {
        durable_name: durable,
        ack_policy: this.cfg.ackPolicy === 'all' ? AckPolicy.All : AckPolicy.Explicit,
        ack_wait: nanos(this.cfg.ackWaitMs),
        max_ack_pending: this.cfg.maxAckPending,
        ...(resumeAt !== undefined
          ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: resumeAt }
          : // at start the configured policy; a stream made anew under a running source from its start
            { deliver_policy: this.cfg.deliverPolicy === 'new' && loop.lost === undefined ? DeliverPolicy.New : DeliverPolicy.All }),
        // one subject filters on every server version; several need filter_subjects (server 2.10+)
        ...(subjects.length === 1 ? { filter_subject: subjects[0] } : { filter_subjects: subjects }),
      });
      this.logger.info({ source: this.name, stream, durable, startSeq: resumeAt }, 'created durable consumer');
    } catch (err) {
      throw new SourceError(this.name, `cannot create consumer ${durable} on ${stream}: ${(err as Error).message}`, { cause: err });
    }
    return made ?? 'consumer';
  }

  /** Pulls from the loop's durable and watches it for loss. */
  private async consume(loop: ConsumerLoop): Promise<void> {
    const consumer = await this.js!.consumers.get(loop.stream, loop.durable);
    const messages = await consumer.consume({
      max_messages: this.cfg.batch * 2, // one batch in the handler, one arriving
      expires: this.cfg.pullExpiresMs,
      callback: loop.onMessage,
    });
    loop.messages = messages;
    void this.watchConsumer(loop, messages);
    // without abort_on_missing_resource the client only ends the pull on a fatal error: a loss too
    void messages.closed().then((err) => {
      if (loop.messages === messages && !this.stopping) this.lose(loop, `consumer ended: ${err ? err.message : 'closed'}`);
    });
  }

  private setConnected(up: boolean, detail: string): void {
    this.connected = up;
    this.connDetail = detail;
    this.refresh();
  }

  /** Ready and up: connected, and every durable being read (none lost). */
  private refresh(): void {
    this.metrics?.sourceUp.labels(this.name, this.kind).set(this.status().connected ? 1 : 0);
  }

  private async watchStatus(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect' || s.type === 'reconnecting') {
        if (this.connected) {
          this.metrics?.sourceErrors.labels(this.name, 'disconnected').inc();
          this.logger.warn({ source: this.name, status: s.type }, 'nats connection lost; reconnecting');
        }
        this.setConnected(false, s.type);
      } else if (s.type === 'reconnect') {
        this.setConnected(true, 'reconnected');
        this.logger.info({ source: this.name }, 'nats reconnected');
      }
    }
  }

  private async watchConsumer(loop: ConsumerLoop, messages: ConsumerMessages): Promise<void> {
    for await (const s of messages.status()) {
      if (s.type === 'heartbeats_missed' || LOSS_STATUS.has(s.type)) {
        this.metrics?.sourceErrors.labels(this.name, s.type).inc();
        this.logger.warn({ source: this.name, stream: loop.stream, status: s.type }, 'consumer status');
      }
      // the client would ask for the consumer every few seconds, forever, and never recreate it
      if (LOSS_STATUS.has(s.type) && loop.messages === messages) void this.confirmLoss(loop, messages, s.type);
    }
  }

  /**
   * A status says the durable is gone; the server's word decides. In a cluster a consumer leader
   * stepping down answers pending pulls "409 Consumer Deleted" too, while the durable lives on and
   * the client carries on by itself: taken at its word, that made a healthy replica unready.
   */
  private async confirmLoss(loop: ConsumerLoop, messages: ConsumerMessages, why: string): Promise<void> {
    if (loop.lost || loop.checking) return;
    loop.checking = true;
    let gone = false;
    try {
      await this.jsm!.consumers.info(loop.stream, loop.durable);
    } catch (err) {
      gone = notFound(err) !== undefined; // anything else (no leader yet, a timeout): the pending poll asks again
    } finally {
      loop.checking = false;
    }
    if (gone && loop.messages === messages) this.lose(loop, why);
  }

  /**
   * The durable (or its stream) is gone from the server: stop pulling, take what was delivered
   * through the sinks, then find or recreate it, retrying until it exists. Not ready meanwhile.
   */
  private lose(loop: ConsumerLoop, why: string): void {
    if (loop.lost || this.stopping) return;
    loop.lost = `consumer ${loop.durable} on stream ${loop.stream} lost (${why})`;
    this.refresh();
    this.logger.warn({ source: this.name, stream: loop.stream, durable: loop.durable, why }, 'durable consumer lost; finding or recreating it');
    void this.recover(loop);
  }

  private async recover(loop: ConsumerLoop): Promise<void> {
    await loop.detach();
    let reported: string | undefined;
    for (let attempt = 0; !this.stopping; attempt++) {
      try {
        // The server tells the consumer "deleted" while it is still removing the old one: a stream
        // made at once came up broken in 3 of 7 runs here (nats-server 2.9.10: 20 messages stored,
        // 0 pending for its new durable). The first look only attaches; creating waits one retry.
        const made = await this.ensure(this.spec(loop), loop, this.cfg.create && attempt > 0);
        if (this.stopping) return;
        await this.consume(loop);
        if (made) this.metrics?.sourceErrors.labels(this.name, `${made}_recreated`).inc();
        loop.lost = undefined;
        this.refresh();
        this.logger.info({ source: this.name, stream: loop.stream, durable: loop.durable, recreated: made ?? 'none' }, 'durable consumer back; reading again');
        return;
      } catch (err) {
        if (err instanceof MissingResource && this.cfg.create && attempt === 0) {
          // ours to create, on the next attempt
        } else if (err instanceof MissingResource) {
          loop.lost = `${err.what === 'stream' ? `stream ${loop.stream}` : `consumer ${loop.durable} on stream ${loop.stream}`} missing`;
          this.refresh();
          // said once per loss, not every retry
          if (reported !== err.what) {
            reported = err.what;
            this.metrics?.sourceErrors.labels(this.name, `${err.what}_missing`).inc();
            const msg = err.what === 'stream' ? 'stream missing' : 'durable consumer missing';
            this.logger.error({ source: this.name, stream: loop.stream, durable: loop.durable }, `${msg} and not recreated${this.cfg.create ? '' : ' (create is false)'}; retrying until it exists`);
          }
        } else if (reported !== 'error') {
          reported = 'error';
          this.logger.warn({ err, source: this.name, stream: loop.stream }, 'cannot restore the durable consumer yet; retrying');
        }
        await new Promise((r) => setTimeout(r, RECOVER_RETRY_MS));
      }
    }
  }

  private async pollPending(): Promise<void> {
    if (!this.jsm || !this.connected) return;
    let total = 0;
    let known = true;
    for (const l of this.loops) {
      if (l.lost) {
        known = false;
        continue;
      }
      try {
        const info = await this.jsm.consumers.info(l.stream, l.durable);
        total += info.num_pending + info.num_ack_pending;
      } catch (err) {
        known = false;
        // the client notices a deleted durable only after two missed heartbeats (30 s); this poll sooner
        const missing = notFound(err);
        if (missing) this.lose(l, `${missing}_not_found`);
        // any other failure leaves the last figure; connection state speaks for itself
      }
    }
    if (!known) return;
    this.pending = total;
    this.metrics?.sourcePending.labels(this.name).set(total);
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
    this.stopping = true;
    if (this.pendingTimer) clearInterval(this.pendingTimer);
    for (const l of this.loops) await l.stop();
    this.loops = [];
    if (this.nc && !this.nc.isClosed()) {
      // drain flushes the acks written above before the socket closes
      await this.nc.drain().catch(() => this.nc?.close());
    }
    this.setConnected(false, 'stopped');
  }

  status(): SourceStatus {
    const lost = this.connected ? this.loops.find((l) => l.lost) : undefined;
    return { connected: this.connected && !lost, pending: this.pending, detail: lost?.lost ?? this.connDetail };
  }
}
