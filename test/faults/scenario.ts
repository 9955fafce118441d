// One fault scenario with continuous traffic: warm up, inject the fault, clear it, keep publishing,
// then measure what the exporter counted against what the bus stored.
import { expect } from 'vitest';
import { until, type Exporter, type NatsServer, type ReadyWatch, type RedisServer } from '../helpers/processes.js';
import { countedBy, readiness, report, type FaultFigures, type Traffic } from './traffic.js';

type Broker = NatsServer | RedisServer;

export interface Scenario {
  fault: string;
  exporter: Exporter;
  watch: ReadyWatch;
  traffic: Traffic;
  /** events per second during the whole scenario */
  rate: number;
  /** injects the fault and resolves when it is cleared (broker accepting connections again) */
  inject: () => Promise<void>;
  /** publishing continues this long after the fault cleared */
  afterMs?: number;
  /** how long to wait for the exporter to count everything */
  catchUpTimeoutMs?: number;
  notes?: string;
}

export async function runScenario(s: Scenario): Promise<FaultFigures> {
  s.traffic.start(s.rate);
  await until('warm-up traffic counted', async () => (await countedBy([s.exporter])) >= s.rate, 20_000, 100);
  const faultAt = Date.now();
  await s.inject();
  const clearedAt = Date.now();
  // recovered = everything the bus held when the fault cleared is counted, and an event stored after
  // it too: data flows end to end again (traffic keeps flowing at `rate`)
  const heldAtClear = s.traffic.published;
  const recovery = until('exporter to count past what the bus held when the fault cleared', async () => (await countedBy([s.exporter]).catch(() => 0)) > heldAtClear, s.catchUpTimeoutMs ?? 30_000, 50);
  await new Promise((r) => setTimeout(r, s.afterMs ?? 2000));
  const published = await s.traffic.stop();
  const stoppedAt = Date.now();
  const recoveredAfterMs = await recovery;
  await until(
    `exporter to count all ${published} published events`,
    async () => (await countedBy([s.exporter]).catch(() => 0)) >= published,
    s.catchUpTimeoutMs ?? 30_000,
    50,
  );
  const caughtUpAfterMs = Date.now() - stoppedAt;
  // redeliveries of a batch whose ack was lost arrive within a moment; give them the chance to show
  await new Promise((r) => setTimeout(r, 1000));
  return report({
    fault: s.fault,
    published,
    counted: await countedBy([s.exporter]),
    recoveredAfterMs,
    caughtUpAfterMs,
    ...readiness(s.watch, faultAt, clearedAt),
    notes: s.notes,
  });
}

/** A broker down for `ms`: SIGKILL, wait, start again on the same port and data. */
export function down(broker: Broker, ms: number): () => Promise<void> {
  return async () => {
    await broker.kill();
    await new Promise((r) => setTimeout(r, ms));
    await broker.start();
  };
}

/** A broker stalled for `ms`: SIGSTOP, wait, SIGCONT (connections stay open, nothing answers). */
export function stall(broker: Broker, ms: number): () => Promise<void> {
  return async () => {
    broker.suspend();
    await new Promise((r) => setTimeout(r, ms));
    broker.resume();
  };
}

/**
 * The promise of a fault: nothing lost, duplicates within one in-flight batch, and when the exporter
 * could see the fault (a closed connection), readiness went false and came back.
 */
export function expectSurvived(f: FaultFigures, batch: number, readyzFlips: boolean): void {
  expect(f.lost).toBe(0);
  expect(f.duplicated).toBeLessThanOrEqual(batch);
  expect([f.readyzWentFalse, f.readyzTrueAgain]).toEqual([readyzFlips, readyzFlips]);
}
