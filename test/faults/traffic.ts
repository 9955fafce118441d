// Test traffic for fault and replica tests: publishers to real NATS JetStream and Redis Streams that
// retry through broker outages without ever storing an event twice, and the "lost / duplicated"
// arithmetic over exporters' workflow_events_total.
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { value } from '../helpers/metrics.js';
import { sleep, type Exporter, type ReadyWatch } from '../helpers/processes.js';

export const TRAFFIC_SOURCE = 'fault-publisher'; // the events' `source`: the label the tests sum over
export const TICK_MS = 50;

/** Event `seq` of a run of workflows: even numbers start run seq/2, odd numbers complete it. */
export function trafficEvent(runId: string, seq: number, nowMs = Date.now()): Record<string, unknown> {
  const run = Math.floor(seq / 2);
  return {
    id: `${runId}-${seq}`,
    type: seq % 2 === 0 ? 'workflow.started' : 'workflow.completed',
    time: new Date(nowMs).toISOString(),
    source: TRAFFIC_SOURCE,
    workflow: { id: `${runId}-wf-${run}`, type: 'fault-test' },
  };
}

interface Transport {
  /** publishes the events; resolves to how many of them (a prefix) the broker has stored */
  send(events: Record<string, unknown>[], firstSeq: number): Promise<number>;
  close(): Promise<void>;
}

/**
 * Publishes numbered events at `rate` per second. An event counts as published once the broker
 * confirmed it; until then it is retried (same id, deduplicated by the broker), so `published` is
 * exactly what the bus holds.
 */
export class Traffic {
  published = 0;
  errors = 0;
  /** events of the last send the broker did not confirm (maybe stored, maybe not) */
  private unconfirmed = 0;
  private running = false;
  private loop?: Promise<void>;
  /** the prefix of every generated event id: event `seq` has id `${runId}-${seq}` */
  readonly runId = `r${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

  constructor(private readonly transport: Transport) {}

  /** Publishes `n` generated events now (retrying until stored, at most `timeoutMs`). */
  async burst(n: number, timeoutMs = 30_000): Promise<void> {
    const target = this.published + n;
    const end = Date.now() + timeoutMs;
    while (this.published < target) {
      if (Date.now() > end) throw new Error(`publishing ${n} events timed out at ${this.published}/${target}`);
      await this.step(this.generate(Math.min(500, target - this.published)));
    }
  }

  /** Publishes the given events in order (retrying until stored, at most `timeoutMs`). */
  async publishEvents(events: Record<string, unknown>[], timeoutMs = 30_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    let done = 0;
    while (done < events.length) {
      if (Date.now() > end) throw new Error(`publishing ${events.length} events timed out at ${done}`);
      done += await this.step(events.slice(done, done + 500));
    }
  }

  private generate(n: number): Record<string, unknown>[] {
    const now = Date.now();
    const events: Record<string, unknown>[] = [];
    for (let i = 0; i < n; i++) events.push(trafficEvent(this.runId, this.published + i, now));
    return events;
  }

  /** Sends events; returns how many (a prefix) were stored, and backs off briefly when not all were. */
  private async step(events: Record<string, unknown>[]): Promise<number> {
    let stored = 0;
    try {
      stored = await this.transport.send(events, this.published);
    } catch {
      stored = 0;
    }
    this.published += stored;
    this.unconfirmed = events.length - stored;
    if (this.unconfirmed > 0) {
      this.errors++;
      await sleep(100);
    }
    return stored;
  }

  /** Publishes `rate` events a second in the background until stop(); `maxEvents` bounds the run. */
  start(rate: number, maxEvents = 100_000): void {
    this.running = true;
    const perTick = Math.max(1, Math.round((rate * TICK_MS) / 1000));
    this.loop = (async () => {
      let owed = 0; // events a retry held back; sent on the next ticks so the rate stays steady
      while (this.running && this.published < maxEvents) {
        const t = Date.now();
        owed += perTick;
        owed -= await this.step(this.generate(Math.min(owed, 1000)));
        const wait = TICK_MS - (Date.now() - t);
        if (wait > 0) await sleep(wait);
      }
    })();
  }

  /**
   * Stops the background publisher after its current tick; returns the number published. Events of
   * a last send that timed out may be on the bus all the same: they are resent (same ids, stored
   * once) until confirmed, or the exporter would seem to count events nobody published.
   */
  async stop(timeoutMs = 30_000): Promise<number> {
    this.running = false;
    await this.loop;
    const end = Date.now() + timeoutMs;
    while (this.unconfirmed > 0) {
      if (Date.now() > end) throw new Error(`${this.unconfirmed} events never confirmed by the broker`);
      await this.step(this.generate(this.unconfirmed));
    }
    return this.published;
  }

  async close(): Promise<void> {
    await this.stop(5000).catch(() => undefined); // closing after a failure must not hide it
    await this.transport.close();
  }
}

/** JetStream: subject `${subject}.<type>`, Nats-Msg-Id = event id, so a retried publish is stored once. */
export async function natsTraffic(url: string | string[], subject: string): Promise<Traffic> {
  const nc: NatsConnection = await connect({ servers: url, maxReconnectAttempts: -1, reconnectTimeWait: 200, name: 'fault-publisher' });
  const js: JetStreamClient = jetstream(nc);
  return new Traffic({
    async send(events) {
      const res = await Promise.allSettled(
        events.map((e) => js.publish(`${subject}.${e.type as string}`, JSON.stringify(e), { msgID: e.id as string, timeout: 1500 })),
      );
      // the prefix that was stored: a later one stored after an earlier failure is retried (and deduplicated)
      let n = 0;
      while (n < res.length && res[n].status === 'fulfilled') n++;
      return n;
    },
    async close() {
      await nc.close();
    },
  });
}

/** Ensures a JetStream stream exists on `url` (for tests that attach rather than create). */
export async function ensureStream(url: string, stream: string, subjects: string[]): Promise<void> {
  const nc = await connect({ servers: url });
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: stream, subjects }).catch(() => undefined);
  await nc.close();
}

/**
 * Redis Streams: explicit entry ids `0-<seq+1>`, so a retried XADD that Redis already executed
 * fails with "equal or smaller" instead of storing the event twice.
 */
export async function redisTraffic(url: string, key: string): Promise<Traffic> {
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    retryStrategy: () => 100,
  });
  redis.on('error', () => {});
  await redis.connect();
  return new Traffic({
    async send(events, firstSeq) {
      if (redis.status !== 'ready') return 0;
      // one MULTI per tick: a consumer blocked in XREADGROUP is handed the whole tick at once
      const p = redis.multi();
      events.forEach((e, i) => p.xadd(key, `0-${firstSeq + i + 1}`, 'data', JSON.stringify(e)));
      const res = (await p.exec()) ?? [];
      let n = 0;
      for (const [err] of res) {
        if (err && !String(err.message).includes('equal or smaller')) break;
        n++;
      }
      return n;
    },
    async close() {
      redis.disconnect();
    },
  });
}

/** workflow_events_total of the test traffic in one exposition. */
export function counted(text: string): number {
  return value(text, 'workflow_events_total', { source: TRAFFIC_SOURCE });
}

/** Events of the test traffic in an exporter's tail history (with a bus source, the follower's view of the stream). */
export async function tailed(exporter: Exporter): Promise<number> {
  const res = await exporter.get(`/api/events?limit=1000&sources=${TRAFFIC_SOURCE}`);
  return ((await res.json()) as { events: unknown[] }).events.length;
}

/** The sum over live exporters of the test traffic counted, plus figures carried from dead ones. */
export async function countedBy(exporters: Exporter[], carried = 0): Promise<number> {
  let sum = carried;
  for (const e of exporters) sum += counted(await e.metrics());
  return sum;
}

export interface FaultFigures {
  fault: string;
  published: number;
  counted: number;
  lost: number;
  duplicated: number;
  /** broker back (or fault cleared) to /readyz true, ms; undefined when readyz never went false */
  readyAfterMs?: number;
  /** fault cleared to the first event stored after it counted (all before it too), ms */
  recoveredAfterMs: number;
  /** publisher stopped to every published event counted, ms */
  caughtUpAfterMs: number;
  readyzWentFalse: boolean;
  readyzTrueAgain: boolean;
  notes?: string;
}

/**
 * Completes the figures (lost and duplicated from published and counted) and prints them as one line
 * for docs/RELIABILITY.md: the tests' stdout is the source of those numbers.
 */
export function report(m: Omit<FaultFigures, 'lost' | 'duplicated'>): FaultFigures {
  const f: FaultFigures = { ...m, lost: Math.max(0, m.published - m.counted), duplicated: Math.max(0, m.counted - m.published) };
  process.stdout.write(`FAULT-FIGURES ${JSON.stringify(f)}\n`);
  return f;
}

/** What /readyz did from the fault on: went false, came back, and how long after the fault cleared. */
export function readiness(watch: ReadyWatch, faultAt: number, clearedAt: number): Pick<FaultFigures, 'readyAfterMs' | 'readyzWentFalse' | 'readyzTrueAgain'> {
  const { downAtMs, upAtMs } = watch.outage(faultAt);
  return {
    readyAfterMs: upAtMs !== undefined ? Math.max(0, upAtMs - clearedAt) : undefined,
    readyzWentFalse: downAtMs !== undefined,
    readyzTrueAgain: upAtMs !== undefined,
  };
}
