// Faults of a real nats-server under an exporter process: restart with the JetStream store kept,
// down for a while, and a network stall (SIGSTOP); each measured for loss, duplicates and readiness.
import { afterAll, describe, expect, it } from 'vitest';
import { Processes, type NatsServer } from '../helpers/processes.js';
import { down, expectSurvived, runScenario, stall } from './scenario.js';
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
    const run = await setUp(nats);
    const f = await runScenario({ ...run, fault: 'nats-server restart (SIGTERM, store kept)', rate: 200, inject: () => nats.restart(true) }).finally(() => run.traffic.close());
    expectSurvived(f, BATCH, true);
    expect(await run.exporter.ready()).toBe(true);
  });

  it(`survives nats-server down for ${DOWN_MS / 1000} s (SIGKILL, then started on the same store)`, async () => {
    const nats = await procs.nats();
    const run = await setUp(nats);
    const f = await runScenario({ ...run, fault: `nats-server down ${DOWN_MS / 1000} s (SIGKILL)`, rate: 200, inject: down(nats, DOWN_MS) }).finally(() => run.traffic.close());
    expectSurvived(f, BATCH, true);
  }, 90_000);

  it('survives a 10 s network stall (SIGSTOP nats-server, then SIGCONT); readyz stays true', async () => {
    const nats = await procs.nats();
    const run = await setUp(nats);
    const f = await runScenario({ ...run, fault: 'nats-server stalled 10 s (SIGSTOP/SIGCONT)', rate: 200, inject: stall(nats, STALL_MS) }).finally(() => run.traffic.close());
    // a stall keeps the connection open: the client's 2-minute ping does not notice 10 s
    expectSurvived(f, BATCH, false);
  });
});
