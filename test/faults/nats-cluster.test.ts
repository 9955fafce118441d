// A NATS JetStream cluster under three exporter processes on one durable consumer: three clustered
// nats-servers, a stream with 3 replicas; under steady publishing the stream leader's server is
// SIGKILLed, then one exporter, another exporter is stalled past the ack wait, then the killed two
// start again. Counted: events lost, duplicates (without and with the shared duplicate filter), time
// until events flow again, and readiness per exporter.
import { jetstreamManager, AckPolicy, type JetStreamManager } from '@nats-io/jetstream';
import { connect, nanos, type NatsConnection } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisUrl, uniqueName } from '../helpers/brokers.js';
import { value } from '../helpers/metrics.js';
import { Processes, sleep, until, type Exporter, type NatsServer, type ReadyWatch } from '../helpers/processes.js';
import { counted, countedBy, natsTraffic } from './traffic.js';

const RATE = 150; // events/s: three exporters and three servers on two shared cores
const BATCH = 32;
const ACK_WAIT_MS = 5000; // a dead exporter's batch comes again after this
const PENDING_MS = 2000; // shared claims lapse before that (sharedDedupePendingMs)

const procs = new Processes();
let servers: NatsServer[];
let nc: NatsConnection;
let jsm: JetStreamManager;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  servers = await procs.natsCluster(3);
  nc = await connect({ servers: servers.map((s) => s.url), maxReconnectAttempts: -1, reconnectTimeWait: 200 });
  jsm = await jetstreamManager(nc);
}, 60_000);

afterAll(async () => {
  for (const c of cleanups) await c().catch(() => undefined);
  await nc?.close().catch(() => undefined);
  await procs.cleanup();
});

interface ClusterFigures {
  sharedDedupe: boolean;
  /** events the stream confirmed to the publisher */
  published: number;
  /** stored events no exporter acked by the end (an exporter acks only after its sinks took the batch) */
  unacked: number;
  /** the sum of workflow_events_total over the exporters, the killed one as scraped right before SIGKILL */
  counted: number;
  /** published minus counted, when positive: events the killed exporter counted after its last scrape */
  uncounted: number;
  /** counted minus published, when positive */
  duplicated: number;
  /** per exporter: events it dropped as duplicates (the killed one: since its restart) */
  droppedAsDuplicates: number[];
  /** published ids without a claim held for the window at the end (with sharedDedupe): exact, where counters are not */
  unclaimed?: number;
  /** stream leader's server SIGKILLed -> the stream reports a new leader, ms */
  newLeaderAfterMs: number;
  /** stream leader's server SIGKILLed -> an event published after it counted, ms */
  flowingAfterLeaderKillMs: number;
  /** exporter SIGKILLed -> an event published after it counted by the others, ms */
  flowingAfterExporterKillMs: number;
  /** publisher stopped (after both were started again) -> every stored event acked, ms */
  caughtUpMs: number;
  /** per exporter: ms /readyz answered false (polled every 50 ms; the killed one: until its kill) */
  notReadyMs: number[];
  /** per exporter: whether its own server connection dropped (it was connected to the killed server) */
  lostItsServer: boolean[];
}

/** Milliseconds a watch saw /readyz false between `from` and `to`. */
function notReadyMs(w: ReadyWatch, from: number, to: number): number {
  let total = 0;
  let downAt: number | undefined;
  for (const t of w.transitions) {
    if (t.atMs > to) break;
    if (!t.ready && downAt === undefined) downAt = Math.max(t.atMs, from);
    if (t.ready && downAt !== undefined) {
      total += t.atMs - downAt;
      downAt = undefined;
    }
  }
  if (downAt !== undefined) total += to - downAt;
  return total;
}

async function streamLeader(stream: string): Promise<NatsServer> {
  let leader: NatsServer | undefined;
  await until(`a leader for stream ${stream}`, async () => {
    const info = await jsm.streams.info(stream).catch(() => undefined);
    leader = servers.find((s) => s.serverName === info?.cluster?.leader);
    return leader !== undefined;
  }, 20_000, 100);
  return leader!;
}

async function scenario(sharedDedupe: boolean): Promise<ClusterFigures> {
  const stream = uniqueName('CLUSTER');
  const subject = uniqueName('cluster');
  const prefix = uniqueName('wfx_cluster');
  const redis = await redisUrl();
  // a JetStream cluster that just formed (or lost a member) answers "no suitable peers" for a moment
  await until('the stream created with 3 replicas', async () => {
    try {
      await jsm.streams.add({ name: stream, subjects: [`${subject}.>`], num_replicas: 3 });
      return true;
    } catch {
      return false;
    }
  }, 30_000, 250);
  await jsm.consumers.add(stream, { durable_name: 'wfx', ack_policy: AckPolicy.Explicit, ack_wait: nanos(ACK_WAIT_MS), max_ack_pending: 4096, filter_subject: `${subject}.>` });
  cleanups.push(() => jsm.streams.delete(stream));
  cleanups.push(async () => {
    const r = new Redis(redis);
    for (let cursor = '0', i = 0; i < 1000; i++) {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length > 0) await r.del(...keys);
      cursor = next;
      if (cursor === '0') break;
    }
    r.disconnect();
  });

  const config = {
    sources: [{ kind: 'nats-jetstream', servers: servers.map((s) => s.url), streams: [{ stream, subjects: [`${subject}.>`], durable: 'wfx' }], batch: BATCH, ackWaitMs: ACK_WAIT_MS }],
    state: { backend: 'redis', redisUrl: redis, prefix },
    accounting: { sharedDedupe, sharedDedupePendingMs: PENDING_MS },
  };
  const exporters: Exporter[] = [];
  for (let i = 0; i < 3; i++) exporters.push(await procs.exporter(config));
  const watches = exporters.map((e) => procs.watch(e, 50));
  const traffic = await natsTraffic(servers.map((s) => s.url), subject);
  cleanups.push(() => traffic.close());
  const runStart = Date.now();
  traffic.start(RATE);
  let carried = 0; // what the killed exporter had counted when it died
  const total = () => countedBy(exporters.filter((e) => e.alive), carried).catch(() => -1);
  await until('warm-up traffic counted', async () => (await total()) >= RATE, 30_000, 100);

  // 1. the stream leader's server
  const leader = await streamLeader(stream);
  const beforeLeaderKill = traffic.published;
  const leaderKilledAt = Date.now();
  await leader.kill();
  const flowing = until('events flowing after the stream leader died', async () => (await total()) > beforeLeaderKill, 60_000, 50);
  const newLeaderAfterMs = await until('a new stream leader', async () => {
    const info = await jsm.streams.info(stream).catch(() => undefined);
    return info?.cluster?.leader !== undefined && info.cluster.leader !== leader.serverName;
  }, 60_000, 50);
  await flowing;
  const flowingAfterLeaderKillMs = Date.now() - leaderKilledAt;

  // 2. one exporter, SIGKILLed right after a scrape: its count dies with it, so it is read first
  const victim = exporters[0];
  const text = await (await victim.get('/metrics')).text();
  // taken before the signal: a /readyz poll landing between the signal and the exit being seen
  // fails, and measured up to the exit that read as a few ms not ready while its server answered
  const exporterKilledAt = Date.now();
  victim.signal('SIGKILL');
  carried = counted(text);
  await victim.exited;
  const beforeExporterKill = traffic.published;
  await until('events flowing after an exporter died', async () => (await total()) > beforeExporterKill, 60_000, 50);
  const flowingAfterExporterKillMs = Date.now() - exporterKilledAt;

  // 3. one exporter stalled past the ack wait (SIGSTOP: a long GC pause, a throttled CPU): what the
  // server had pushed to it is redelivered to the others, and counted again when it resumes
  const stalled = exporters[1];
  // Stalled only once it is pulling again: a pull left on the dead consumer leader is replaced only
  // after two missed heartbeats, and an exporter stopped before that holds nothing to redeliver.
  // Counting more than now means it has a live pull, which the server keeps filling into the stall.
  const stalledCounted = counted(await stalled.metrics());
  await until('the exporter to be stalled counting events', async () => counted(await stalled.metrics()) > stalledCounted, 30_000, 50);
  const stallFrom = Date.now();
  stalled.suspend();
  await sleep(ACK_WAIT_MS + 2000);
  stalled.resume();
  await until('the stalled exporter answering again', () => stalled.ready(), 20_000, 50);
  const stallTo = Date.now();
  // a fresh watch from here: a poll the old one sent into the stall answers late, whatever it says
  watches[1].stop();
  const afterStall = procs.watch(stalled, 50);

  // 4. both back: the server on its store, the exporter (counting from zero again, carried kept)
  await leader.start();
  await victim.start();
  await sleep(2000);
  const published = await traffic.stop();
  const stoppedAt = Date.now();
  // not thrown on: the figures below say what is missing
  let unacked = published;
  await until('every stored event acked', async () => {
    const ci = await jsm.consumers.info(stream, 'wfx').catch(() => undefined);
    if (!ci) return false;
    unacked = ci.num_pending + ci.num_ack_pending + Math.max(0, published - ci.ack_floor.stream_seq);
    return unacked === 0;
  }, 60_000, 100).catch(() => undefined);
  const caughtUpMs = Date.now() - stoppedAt;
  await until(`all ${published} published events counted`, async () => (await total()) >= published, 10_000, 100).catch(() => undefined);
  // redeliveries of batches whose acks were lost arrive within an ack wait
  await sleep(ACK_WAIT_MS + 1000);
  const end = Date.now();
  const sum = await total();
  for (const w of [...watches, afterStall]) w.stop();

  let unclaimed: number | undefined;
  if (sharedDedupe) {
    // exact, where counters cannot be: every published id has a claim held for the window (confirmed after its sinks)
    const r = new Redis(redis);
    const p = r.pipeline();
    for (let seq = 0; seq < published; seq++) p.pttl(`${prefix}:id:${traffic.runId}-${seq}`);
    const ttls = ((await p.exec()) ?? []).map(([, v]) => Number(v));
    r.disconnect();
    unclaimed = ttls.filter((t) => !(t > PENDING_MS)).length;
    if (unclaimed > 0) process.stdout.write(`UNCLAIMED ${JSON.stringify(ttls.map((t, i) => [i, t]).filter(([, t]) => !(t > PENDING_MS)).slice(0, 50))}\n`);
  }
  const dropped = await Promise.all(exporters.map(async (e) => value(await e.metrics(), 'workflow_exporter_lifecycle_anomalies_total', { kind: 'duplicate_id' })));
  const lostItsServer = exporters.map((e) => e.log().includes('nats connection lost; reconnecting'));
  const f: ClusterFigures = {
    sharedDedupe,
    published,
    unacked,
    counted: sum,
    uncounted: Math.max(0, published - sum),
    duplicated: Math.max(0, sum - published),
    droppedAsDuplicates: dropped,
    unclaimed,
    newLeaderAfterMs,
    flowingAfterLeaderKillMs,
    flowingAfterExporterKillMs,
    caughtUpMs,
    // the stalled one could not answer while stopped: only the time outside the stall counts
    notReadyMs: watches.map((w, i) => (i === 0 ? notReadyMs(w, runStart, exporterKilledAt) : i === 1 ? notReadyMs(w, runStart, stallFrom) + notReadyMs(afterStall, stallTo, end) : notReadyMs(w, runStart, end))),
    lostItsServer,
  };
  process.stdout.write(`CLUSTER-FIGURES ${JSON.stringify(f)}\n`);
  return f;
}

describe('NATS JetStream cluster (3 nats-servers, stream R3, 3 exporter processes on one durable)', () => {
  // lost = stored and never acked; an exporter acks only after its sinks took the batch, so an acked
  // event was counted. What the killed exporter counted after its last scrape is gone with it, as
  // it would be for Prometheus: `uncounted` reports it, the stream's acks are the loss figure.
  const expectFollowed = (f: ClusterFigures) => {
    // an exporter whose server survived never reported not ready
    f.notReadyMs.forEach((ms, i) => {
      if (!f.lostItsServer[i]) expect(ms).toBe(0);
    });
  };

  it('loses nothing when the stream leader and then an exporter are killed; duplicates counted', async () => {
    const f = await scenario(false);
    expect(f.unacked).toBe(0);
    expectFollowed(f);
  }, 240_000);

  it('with the shared duplicate filter: nothing lost, every published id claimed, the stalled exporter\'s redeliveries dropped', async () => {
    const f = await scenario(true);
    expect([f.unacked, f.unclaimed]).toEqual([0, 0]);
    // what the stalled exporter held is redelivered to the others, and dropped as it resumes
    expect(f.droppedAsDuplicates[1]).toBeGreaterThan(0);
    // left: at most the one batch it was in the middle of when stopped; its claims lapsed during the
    // stall (sharedDedupePendingMs < the stall), so the others counted it too
    expect(f.duplicated).toBeLessThanOrEqual(BATCH);
    expectFollowed(f);
  }, 240_000);
});
