// Reads the last messages of a nats-jetstream source's streams back for the tail's history at start.
import type { RawMessage } from '../../events/raw.js';
import { loadNats, natsIfLoaded } from '../../util/bus-clients.js';
import { positionKey, type HistoryReadOptions } from '../types.js';
import { natsConnectOptions } from './connect.js';
import type { NatsSourceConfig } from './nats-jetstream.js';

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
export async function natsHistory(name: string, cfg: NatsSourceConfig, deps: HistoryReadOptions): Promise<RawMessage[]> {
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
