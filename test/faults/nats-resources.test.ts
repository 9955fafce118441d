// A JetStream durable consumer or its stream deleted under a running exporter (a real nats-server,
// a real exporter process): recreated with `create: true` without losing or recounting an event,
// reported as not ready and down with `create: false` until an operator restores it.
import { AckPolicy, DeliverPolicy, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, describe, expect, it } from 'vitest';
import { value } from '../helpers/metrics.js';
import { Processes, until, type Exporter, type NatsServer } from '../helpers/processes.js';
import { counted, natsTraffic, report, tailed, type Traffic } from './traffic.js';

const STREAM = 'LOSS';
const DURABLE = 'wfx';
const BURST = 20;

const procs = new Processes();
afterAll(() => procs.cleanup());

interface Run {
  nats: NatsServer;
  exporter: Exporter;
  traffic: Traffic;
  nc: NatsConnection;
  jsm: JetStreamManager;
  close(): Promise<void>;
}

async function setUp(create: boolean): Promise<Run> {
  const nats = await procs.nats();
  const nc = await connect({ servers: nats.url });
  const jsm = await jetstreamManager(nc);
  if (!create) {
    await jsm.streams.add({ name: STREAM, subjects: ['loss.>'] });
    await jsm.consumers.add(STREAM, { durable_name: DURABLE, ack_policy: AckPolicy.Explicit, filter_subject: 'loss.>' });
  }
  const exporter = await procs.exporter({
    sources: [{ kind: 'nats-jetstream', servers: [nats.url], streams: [{ stream: STREAM, subjects: ['loss.>'], durable: DURABLE }], create, batch: 64 }],
  });
  const traffic = await natsTraffic(nats.url, 'loss');
  return {
    nats,
    exporter,
    traffic,
    nc,
    jsm,
    close: async () => {
      await traffic.close();
      await nc.close();
    },
  };
}

/**
 * Deletes the durable as an operator would. nats-server 2.9 sometimes answers a delete racing the
 * consumer's own store writes with "unlinkat …: directory not empty"; the operator tries again.
 */
async function deleteConsumer(jsm: JetStreamManager): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await jsm.consumers.delete(STREAM, DURABLE);
      return;
    } catch (err) {
      if (attempt >= 20) throw err;
      if (await jsm.consumers.info(STREAM, DURABLE).then(() => false, () => true)) return; // gone after all
      await new Promise((res) => setTimeout(res, 100));
    }
  }
}

const errors = (text: string, kind: string) => value(text, 'workflow_exporter_source_errors_total', { source: 'nats', kind });
const up = (text: string) => value(text, 'workflow_exporter_source_up', { source: 'nats' });

describe('JetStream resources deleted under a running source (real nats-server, real exporter process)', () => {
  it('create: true recreates a deleted durable consumer after the last counted message: nothing lost, nothing counted twice', async () => {
    const r = await setUp(true);
    try {
      await r.traffic.burst(BURST);
      await until('the first burst counted', async () => counted(await r.exporter.metrics()) === BURST);
      const deletedAt = Date.now();
      await deleteConsumer(r.jsm);
      await r.traffic.burst(BURST); // stored in the stream while the consumer is gone
      await until('the burst after the deletion counted', async () => counted(await r.exporter.metrics()) >= 2 * BURST, 30_000);
      const recoveredAfterMs = Date.now() - deletedAt;
      await until('the tail shows both bursts', async () => (await tailed(r.exporter)) === 2 * BURST);
      await new Promise((res) => setTimeout(res, 1000)); // a redelivery from the start of the stream would show by now
      const text = await r.exporter.metrics();
      report({
        fault: 'JetStream durable consumer deleted (create: true)',
        published: r.traffic.published,
        counted: counted(text),
        recoveredAfterMs,
        caughtUpAfterMs: recoveredAfterMs,
        readyzWentFalse: false,
        readyzTrueAgain: false,
        notes: `consumer_recreated=${errors(text, 'consumer_recreated')}`,
      });
      expect(counted(text)).toBe(2 * BURST);
      expect(errors(text, 'consumer_recreated')).toBe(1);
      expect(errors(text, 'consumer_missing')).toBe(0);
      expect(up(text)).toBe(1);
      expect(await r.exporter.ready()).toBe(true);
      const ci = await r.jsm.consumers.info(STREAM, DURABLE);
      expect(ci.num_pending + ci.num_ack_pending).toBe(0);
    } finally {
      await r.close();
    }
  });

  it('create: true recreates a deleted stream and its consumer, reads the new stream from its start, and the tail follows it', async () => {
    const r = await setUp(true);
    try {
      await r.traffic.burst(BURST);
      await until('the first burst counted', async () => counted(await r.exporter.metrics()) === BURST);
      await until('the tail shows the first burst', async () => (await tailed(r.exporter)) === BURST);
      const deletedAt = Date.now();
      await r.jsm.streams.delete(STREAM);
      // the publisher is refused (no stream) until the exporter recreated it, and retries
      await r.traffic.burst(BURST, 60_000);
      await until('the burst into the new stream counted', async () => counted(await r.exporter.metrics()) >= 2 * BURST, 30_000);
      const recoveredAfterMs = Date.now() - deletedAt;
      await until('the tail shows the burst into the new stream', async () => (await tailed(r.exporter)) === 2 * BURST, 30_000);
      const tailAfterMs = Date.now() - deletedAt;
      await new Promise((res) => setTimeout(res, 1000));
      const text = await r.exporter.metrics();
      report({
        fault: 'JetStream stream deleted (create: true)',
        published: r.traffic.published,
        counted: counted(text),
        recoveredAfterMs,
        caughtUpAfterMs: recoveredAfterMs,
        readyzWentFalse: false,
        readyzTrueAgain: false,
        notes: `stream_recreated=${errors(text, 'stream_recreated')}; tail showed the new stream after ${tailAfterMs} ms`,
      });
      expect(counted(text)).toBe(2 * BURST);
      expect(await tailed(r.exporter)).toBe(2 * BURST);
      expect(errors(text, 'stream_recreated')).toBe(1);
      expect(up(text)).toBe(1);
      expect(await r.exporter.ready()).toBe(true);
    } finally {
      await r.close();
    }
  });

  for (const what of ['consumer', 'stream'] as const) {
    const thing = what === 'stream' ? 'stream' : 'durable consumer';
    it(`create: false reports a deleted ${thing} as not ready and down, once, and reads again when an operator restores it`, async () => {
      const r = await setUp(false);
      const watch = procs.watch(r.exporter);
      try {
        await r.traffic.burst(BURST);
        await until('the first burst counted', async () => counted(await r.exporter.metrics()) === BURST);
        await until('the tail shows the first burst', async () => (await tailed(r.exporter)) === BURST);
        const deletedAt = Date.now();
        if (what === 'consumer') await deleteConsumer(r.jsm);
        else await r.jsm.streams.delete(STREAM);
        const notReadyAfterMs = await until(`readyz false while the ${thing} is missing`, async () => !(await r.exporter.ready()), 30_000);
        await new Promise((res) => setTimeout(res, 2500)); // retried with a pause: one report, one log line
        let text = await r.exporter.metrics();
        expect(errors(text, `${what}_missing`)).toBe(1);
        expect(errors(text, `${what}_recreated`)).toBe(0);
        expect(up(text)).toBe(0);
        expect(r.exporter.logLines().filter((l) => String(l.msg).startsWith(`${thing} missing`)).length).toBe(1);
        const detail = ((await (await r.exporter.get('/readyz')).json()) as { sources: { name: string; detail: string }[] }).sources.find((x) => x.name === 'nats')?.detail;
        expect(detail).toBe(what === 'stream' ? `stream ${STREAM} missing` : `consumer ${DURABLE} on stream ${STREAM} missing`);
        // not ours to create
        await expect(what === 'stream' ? r.jsm.streams.info(STREAM) : r.jsm.consumers.info(STREAM, DURABLE)).rejects.toThrow();

        const restoredAt = Date.now();
        if (what === 'stream') await r.jsm.streams.add({ name: STREAM, subjects: ['loss.>'] });
        // what a restored durable delivers is the operator's choice; here only what comes after it
        await r.jsm.consumers.add(STREAM, { durable_name: DURABLE, ack_policy: AckPolicy.Explicit, filter_subject: 'loss.>', deliver_policy: DeliverPolicy.New });
        const readyAfterMs = await until(`readyz true once the ${thing} is back`, () => r.exporter.ready(), 30_000);
        await r.traffic.burst(BURST);
        await until('the burst after the restore counted', async () => counted(await r.exporter.metrics()) === 2 * BURST, 30_000);
        const recoveredAfterMs = Date.now() - restoredAt;
        // the follower reads a restored stream from its start, and a stream that stayed where it was
        await until('the tail shows the burst after the restore', async () => (await tailed(r.exporter)) === 2 * BURST, 30_000);
        text = await r.exporter.metrics();
        report({
          fault: `JetStream ${thing} deleted (create: false), then restored by an operator`,
          published: r.traffic.published,
          counted: counted(text),
          readyAfterMs,
          recoveredAfterMs,
          caughtUpAfterMs: recoveredAfterMs,
          readyzWentFalse: watch.outage(deletedAt).downAtMs !== undefined,
          readyzTrueAgain: watch.outage(deletedAt).upAtMs !== undefined,
          notes: `not ready ${notReadyAfterMs} ms after the deletion`,
        });
        expect(counted(text)).toBe(2 * BURST);
        expect(up(text)).toBe(1);
      } finally {
        await r.close();
      }
    });
  }
});
