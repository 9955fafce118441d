// Faults of a real nats-server under an exporter process: restart with the JetStream store kept,
// down for a while, and a network stall (SIGSTOP); each measured for loss, duplicates and readiness.
import { afterAll, describe, expect, it } from 'vitest';
import { Processes, sleep, type NatsServer } from '../helpers/processes.js';
import { runScenario } from './scenario.js';
import { natsTraffic } from './traffic.js';

const BATCH = 256;
// 30 s down: the whole test takes ~38 s on the 2-core machine, inside its minute (FAULT_DOWN_SECONDS shortens it)
const DOWN_MS = Number(process.env.FAULT_DOWN_SECONDS ?? 30) * 1000;
const STALL_MS = 10_000;

const procs = new Processes();
afterAll(() => procs.cleanup());

async function setUp(nats: NatsServer) {
  const exporter = await procs.exporter({
    sources: [
      {
        kind: 'nats-jetstream',
        servers: [nats.url],
        streams: [{ stream: 'FAULTS', subjects: ['fault.>'], durable: 'wfx' }],
        create: true,
        batch: BATCH,
        ackWaitMs: 5000,
      },
    ],
  });
  const traffic = await natsTraffic(nats.url, 'fault');
  return { exporter, traffic, watch: procs.watch(exporter) };
}

describe('NATS faults (real nats-server, real exporter process)', () => {
  it('survives a nats-server restart with the JetStream store kept: nothing lost, readyz false then true', async () => {
    const nats = await procs.nats();
    const { exporter, traffic, watch } = await setUp(nats);
    const f = await runScenario({
      fault: 'nats-server restart (SIGTERM, store kept)',
      exporter,
      watch,
      traffic,
      rate: 200,
      inject: () => nats.restart(true),
    }).finally(() => traffic.close());
    expect(f.lost).toBe(0);
    expect(f.duplicated).toBeLessThanOrEqual(BATCH);
    expect(f.readyzWentFalse).toBe(true);
    expect(f.readyzTrueAgain).toBe(true);
    expect(await exporter.ready()).toBe(true);
  });

  it(`survives nats-server down for ${DOWN_MS / 1000} s (SIGKILL, then started on the same store)`, async () => {
    const nats = await procs.nats();
    const { exporter, traffic, watch } = await setUp(nats);
    const f = await runScenario({
      fault: `nats-server down ${DOWN_MS / 1000} s (SIGKILL)`,
      exporter,
      watch,
      traffic,
      rate: 200,
      inject: async () => {
        await nats.kill();
        await sleep(DOWN_MS);
        await nats.start();
      },
    }).finally(() => traffic.close());
    expect(f.lost).toBe(0);
    expect(f.duplicated).toBeLessThanOrEqual(BATCH);
    expect(f.readyzWentFalse).toBe(true);
    expect(f.readyzTrueAgain).toBe(true);
  }, 90_000);

  it('survives a 10 s network stall (SIGSTOP nats-server, then SIGCONT)', async () => {
    const nats = await procs.nats();
    const { exporter, traffic, watch } = await setUp(nats);
    const f = await runScenario({
      fault: 'nats-server stalled 10 s (SIGSTOP/SIGCONT)',
      exporter,
      watch,
      traffic,
      rate: 200,
      inject: async () => {
        nats.suspend();
        await sleep(STALL_MS);
        nats.resume();
      },
    }).finally(() => traffic.close());
    expect(f.lost).toBe(0);
    expect(f.duplicated).toBeLessThanOrEqual(BATCH);
    expect(await exporter.ready()).toBe(true);
  });
});
