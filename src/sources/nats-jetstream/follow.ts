// The tail follower's reader of a nats-jetstream source: ordered consumers from where the history
// read ended (or the streams' ends), no ack and no durable state on the server.
import type { Consumer, ConsumerMessages, JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { RawMessage } from '../../events/raw.js';
import type { BatchHandler } from '../../pipeline/types.js';
import { loadNats } from '../../util/bus-clients.js';
import { SlicedBatches } from '../../util/sliced-batches.js';
import { ReaderHealth, RETRY_MS, sleep } from '../reader-health.js';
import { positionKey, type StreamPositions, type TailReader } from '../types.js';
import { natsConnectOptions } from './connect.js';
import { isStreamNotFound } from './history.js';
import { NatsRaw, type NatsSourceConfig } from './nats-jetstream.js';

/** One connection per nats-jetstream source; one ordered consumer (no ack, no durable state on the server) per stream. */
export class NatsTailReader implements TailReader {
  private nc?: NatsConnection;
  private streams: NatsStreamReader[] = [];
  private stopped = false;

  constructor(
    private readonly name: string,
    private readonly cfg: NatsSourceConfig,
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
      return new NatsStreamReader(jsm, js, s.stream, s.subjects, typeof at === 'number' ? at : undefined, this.cfg.batch, this.handler, new ReaderHealth(this.logger, { source: this.name, stream: s.stream }));
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

// statuses of an ordered consumer whose stream went away: the client would recreate it, after two
// missed heartbeats, at the old position, which on a stream made anew skips its first messages
const STREAM_GONE = new Set(['consumer_deleted', 'consumer_not_found', 'stream_not_found']);

// How often the followed stream is looked up. A deleted stream does not always tell its consumers:
// nats-server 2.9.10 queues the "409 Consumer Deleted" for a waiting pull, then closes the loop that
// sends its queue, and that loop may take either first. Without the notice the ordered consumer
// waits for two missed heartbeats (over 30 s with the default 30 s pull), and the tail showed
// nothing of a stream made anew meanwhile. A stream info per stream every 2 s bounds that wait.
export const STREAM_CHECK_MS = 2000;

class NatsStreamReader {
  private consumer?: Consumer;
  private messages?: ConsumerMessages;
  /** when the followed stream was created: another value is another stream, read from its start */
  private created?: string;
  private loop?: Promise<void>;
  private stopped = false;
  /** a stream lookup of check() in flight: a slow server gets one at a time */
  private checking = false;
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
    private readonly health: ReaderHealth,
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
    const { DeliverPolicy } = (await loadNats()).jetstream; // loaded by NatsTailReader.start
    while (!this.stopped) {
      try {
        const from = await this.locate();
        // only a stream known by its creation time is followed: check() tells it from one made anew
        const created = this.created;
        if (created === undefined) throw new Error(`stream ${this.stream} not found`);
        // An ordered consumer re-creates itself after a gap, a reconnect or missed heartbeats, from
        // the sequence after the last it delivered; when it gives up, this loop opens a new one.
        const consumer = (this.consumer = await this.js.consumers.get(this.stream, {
          // one subject as a string: servers before 2.10 take only a single filter
          filter_subjects: this.subjects.length === 1 ? this.subjects[0] : this.subjects,
          deliver_policy: DeliverPolicy.StartSequence,
          opt_start_seq: from + 1,
        }));
        if (this.stopped) break;
        const messages = (this.messages = await consumer.consume({ callback: this.onMessage }));
        void this.watch(messages);
        this.health.ok();
        first();
        const check = setInterval(() => void this.check(messages, created), STREAM_CHECK_MS);
        check.unref();
        let err: Error | void;
        try {
          err = await messages.closed();
        } finally {
          clearInterval(check);
        }
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

  /**
   * Where to follow from: the stream's end at the first start (0 when it does not exist yet: it is
   * followed from its first message); the start of a stream deleted or made anew since. Returns the
   * last sequence already shown.
   */
  private async locate(): Promise<number> {
    let info;
    try {
      info = await this.jsm.streams.info(this.stream);
    } catch (err) {
      if (!isStreamNotFound(err)) throw err;
      if (this.created !== undefined) {
        this.created = undefined;
        this.last = 0;
      }
      return (this.last ??= 0);
    }
    if (this.created !== undefined && info.created !== this.created) this.last = 0;
    this.created = info.created;
    return (this.last ??= info.state.last_seq);
  }

  /** Ends the ordered consumer when its stream went away; run() then locates the stream again. */
  private async watch(messages: ConsumerMessages): Promise<void> {
    for await (const s of messages.status()) {
      if (STREAM_GONE.has(s.type)) {
        messages.stop();
        return;
      }
    }
  }

  /**
   * Ends the ordered consumer when its stream is gone or was made anew (another creation time), for
   * when the server's notice of the deletion never came (STREAM_CHECK_MS); run() then locates it again.
   */
  private async check(messages: ConsumerMessages, created: string): Promise<void> {
    if (this.checking || this.stopped) return;
    this.checking = true;
    try {
      const info = await this.jsm.streams.info(this.stream);
      if (info.created !== created) messages.stop();
    } catch (err) {
      // anything else (a lost connection) is the client's to recover from; looked at again next time
      if (isStreamNotFound(err)) messages.stop();
    } finally {
      this.checking = false;
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
