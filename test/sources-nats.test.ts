// The nats-jetstream source against the real JetStream server: durable consumer, batched acks, exact metrics.
import { jetstream } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { knownRuns } from './helpers/events.js';
import { uniqueName } from './helpers/brokers.js';
import { useBuses } from './helpers/buses.js';
import { startApp, waitFor, type TestApp } from './helpers/app.js';
import { value } from './helpers/metrics.js';
import { busy, turnCounter } from './helpers/turns.js';
import { SLICE_MS } from '../src/util/sliced-batches.js';

const b = useBuses();

async function publish(subject: string, payloads: (string | object)[]): Promise<void> {
  const js = jetstream(b.nc);
  await Promise.all(payloads.map((p) => js.publish(subject, typeof p === 'string' ? p : JSON.stringify(p))));
}

describe('nats-jetstream source', () => {
  it('creates stream and durable consumer, counts every event exactly, acks them all', async () => {
    const stream = uniqueName('WFX_T');
    const prefix = uniqueName('wfx.t').replace(/_/g, '-');
    b.streams.push(stream);
    const set = knownRuns(prefix, 30);
    let t: TestApp | undefined;
    try {
      t = await startApp({
        http: false,
        sources: [{ kind: 'nats-jetstream', servers: [b.nurl], streams: [{ stream, subjects: [`${prefix}.>`], durable: 'wfx-test' }], create: true, batch: 16 }],
      });
      // one bad message among them: counted, dead-lettered and acked like the others
      await publish(`${prefix}.events`, [...set.events, '{"broken":']);
      const total = set.events.length + 1;
      await waitFor('all events received', async () => value(await t!.scrape(), 'workflow_exporter_events_received_total', { source: 'nats' }) === total);
      const text = await t.scrape();
      expect(value(text, 'workflow_events_total')).toBe(set.events.length);
      expect(value(text, 'workflow_runs_finished_total', { outcome: 'completed' })).toBe(set.completed);
      expect(value(text, 'workflow_runs_finished_total', { outcome: 'failed' })).toBe(set.failed);
      expect(value(text, 'workflow_run_duration_seconds_count')).toBe(30);
      expect(value(text, 'workflow_run_duration_seconds_sum')).toBe(set.runSecondsSum);
      expect(value(text, 'workflow_task_duration_seconds_count', { agent: 'coder' })).toBe(30);
      expect(value(text, 'workflow_task_duration_seconds_sum', { agent: 'coder' })).toBe(set.taskSecondsSum);
      expect(value(text, 'workflow_exporter_events_rejected_total', { source: 'nats', reason: 'invalid_json' })).toBe(1);
      expect(value(text, 'workflow_exporter_source_up', { source: 'nats', kind: 'nats-jetstream' })).toBe(1);
      const dl = t.app.deadLetters.list(1)[0];
      expect(dl.subject).toBe(`${prefix}.events`);
      expect(dl.transportId).toBe(`${stream}:${total}`);
      expect((await t.app.server.inject({ url: '/readyz' })).statusCode).toBe(200);
      await waitFor('acks reach the server', async () => {
        const info = await b.jsm.consumers.info(stream, 'wfx-test');
        return info.num_ack_pending === 0 && info.num_pending === 0 && info.ack_floor.stream_seq === total;
      });
    } finally {
      await t?.close();
    }
  });

  it('attaches to an existing consumer and resumes where the last instance acked', async () => {
    const stream = uniqueName('WFX_T');
    const prefix = uniqueName('wfx.t').replace(/_/g, '-');
    b.streams.push(stream);
    const source = { kind: 'nats-jetstream', servers: [b.nurl], streams: [{ stream, subjects: [`${prefix}.>`], durable: 'wfx-resume' }], batch: 8 };
    // without create, a missing stream is a clear start error
    await expect(startApp({ http: false, sources: [source] })).rejects.toThrow(/stream .* not found \(set create: true/);

    const first = knownRuns(`${prefix}-a`, 5);
    const second = knownRuns(`${prefix}-b`, 7);
    let t = await startApp({ http: false, sources: [{ ...source, create: true }] });
    await publish(`${prefix}.e`, first.events);
    await waitFor('first set', async () => value(await t.scrape(), 'workflow_exporter_events_received_total') === first.events.length);
    await t.close();

    await publish(`${prefix}.e`, second.events);
    t = await startApp({ http: false, sources: [source] });
    try {
      await waitFor('second set', async () => value(await t.scrape(), 'workflow_exporter_events_received_total') === second.events.length);
      // give a redelivery of the first set a chance to show up: it must not
      await new Promise((r) => setTimeout(r, 500));
      const text = await t.scrape();
      expect(value(text, 'workflow_exporter_events_received_total')).toBe(second.events.length);
      expect(value(text, 'workflow_runs_started_total')).toBe(7);
    } finally {
      await t.close();
    }
  });

  it('keeps a batch held by a slow sink from being redelivered (in-progress acks within the ack wait)', async () => {
    const stream = uniqueName('WFX_T');
    const prefix = uniqueName('wfx.t').replace(/_/g, '-');
    b.streams.push(stream);
    const set = knownRuns(prefix, 4);
    const t = await startApp({
      http: false,
      sources: [{ kind: 'nats-jetstream', servers: [b.nurl], streams: [{ stream, subjects: [`${prefix}.>`], durable: 'wfx-slow' }], create: true, batch: 8, ackWaitMs: 1000 }],
    });
    try {
      // every batch spends 2.5 s in this sink: more than twice the ack wait
      t.app.pipeline.addSink({ name: 'slow', write: () => new Promise((r) => setTimeout(r, 2500)) });
      await publish(`${prefix}.e`, set.events);
      await waitFor('all counted', async () => value(await t.scrape(), 'workflow_events_total') === set.events.length, 30_000, 100);
      await waitFor('all acked', async () => (await b.jsm.consumers.info(stream, 'wfx-slow')).num_ack_pending === 0, 10_000);
      const info = await b.jsm.consumers.info(stream, 'wfx-slow');
      expect(info.num_redelivered).toBe(0);
      expect(value(await t.scrape(), 'workflow_exporter_events_received_total')).toBe(set.events.length);
    } finally {
      await t.close();
    }
  });

  it('gives the event loop a turn between batches once a slice of processing is used up', async () => {
    const stream = uniqueName('WFX_T');
    const prefix = uniqueName('wfx.t').replace(/_/g, '-');
    b.streams.push(stream);
    // the backlog is on the server before the consumer exists: it arrives as fast as the server sends it
    await b.jsm.streams.add({ name: stream, subjects: [`${prefix}.>`] });
    const set = knownRuns(prefix, 40);
    await publish(`${prefix}.e`, set.events);
    // counts turns of the event loop while the backlog is consumed
    const counter = turnCounter();
    const turns: number[] = [];
    // a sink that uses up a whole slice per batch: each batch must then start on a turn of its own
    const slowSink = {
      name: 'turns',
      write: () => {
        turns.push(counter.turn);
        busy(SLICE_MS + 2);
      },
    };
    let t: TestApp | undefined;
    try {
      t = await startApp(
        { http: false, sources: [{ kind: 'nats-jetstream', servers: [b.nurl], streams: [{ stream, subjects: [`${prefix}.>`], durable: 'wfx-turns' }], create: true, batch: 16 }] },
        { beforeStart: (app) => app.pipeline.addSink(slowSink) },
      );
      await waitFor('all counted', async () => value(await t!.scrape(), 'workflow_events_total') === set.events.length);
      expect(turns.length).toBeGreaterThanOrEqual(set.events.length / 16);
      // batches chained as promises used to run back to back in one microtask drain, holding the loop
      const sameTurn = turns.filter((x, i) => i > 0 && x === turns[i - 1]).length;
      expect(sameTurn).toBe(0);
    } finally {
      counter.stop();
      await t?.close();
    }
  });

  it('recreates a deleted durable at the oldest message whose batch failed, not after the newest one counted', async () => {
    const stream = uniqueName('WFX_T');
    const prefix = uniqueName('wfx.t').replace(/_/g, '-');
    b.streams.push(stream);
    const events = (group: string) =>
      Array.from({ length: 5 }, (_, i) => ({ id: `${prefix}-${group}${i}`, type: 'agent.heartbeat', time: new Date().toISOString(), source: 'resume-test', agent: 'a' }));
    // batch A fails in this sink (and is nak'd for redelivery) until the durable is gone; batch B goes through
    let failA = true;
    const taken = new Set<string>();
    const gate = {
      name: 'gate',
      write: (batch: { events: { id: string }[] }) => {
        if (failA && batch.events.some((e) => e.id.startsWith(`${prefix}-a`))) throw new Error('sink down');
        for (const e of batch.events) taken.add(e.id);
      },
    };
    const t = await startApp(
      { http: false, sources: [{ kind: 'nats-jetstream', servers: [b.nurl], streams: [{ stream, subjects: [`${prefix}.>`], durable: 'wfx-resume' }], create: true, batch: 16 }] },
      { beforeStart: (app) => app.pipeline.addSink(gate) },
    );
    try {
      await publish(`${prefix}.e`, events('a')); // sequences 1-5
      await waitFor('batch A failed', async () => value(await t.scrape(), 'workflow_exporter_source_errors_total', { kind: 'sink_failed' }) >= 1);
      await publish(`${prefix}.e`, events('b')); // sequences 6-10, counted while A waits for its redelivery
      await waitFor('batch B taken', () => events('b').every((e) => taken.has(e.id)));
      for (let attempt = 0; attempt < 20; attempt++) {
        // a delete racing the consumer's own writes can be refused by nats-server 2.9; an operator retries
        if (await b.jsm.consumers.delete(stream, 'wfx-resume').then(() => true, () => false)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      failA = false;
      // after the newest counted (10) the new durable would start at 11 and A would never come back
      await waitFor('batch A taken from the recreated durable', () => events('a').every((e) => taken.has(e.id)), 15_000);
      const text = await t.scrape();
      expect(value(text, 'workflow_exporter_source_errors_total', { kind: 'consumer_recreated' })).toBe(1);
      expect((await b.jsm.consumers.info(stream, 'wfx-resume')).config.opt_start_seq).toBe(1);
    } finally {
      await t.close();
    }
  });

  it('publishes dead letters to a NATS subject when configured', async () => {
    const stream = uniqueName('WFX_T');
    const prefix = uniqueName('wfx.t').replace(/_/g, '-');
    b.streams.push(stream);
    const dlSubject = `${prefix}-dead`;
    const sub = b.nc.subscribe(dlSubject, { max: 1 });
    const got = (async () => {
      for await (const m of sub) return JSON.parse(m.string());
    })();
    const t = await startApp({
      http: false,
      sources: [{ kind: 'nats-jetstream', servers: [b.nurl], streams: [{ stream, subjects: [`${prefix}.>`] }], create: true }],
      deadLetters: { natsSubject: dlSubject },
    });
    try {
      await publish(`${prefix}.x`, ['[1,2]']);
      const letter = await got;
      expect(letter).toMatchObject({ source: 'nats', reason: 'not_an_object', raw: '[1,2]', subject: `${prefix}.x` });
    } finally {
      await t.close();
    }
  });
});
