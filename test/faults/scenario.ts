// One fault scenario with continuous traffic: warm up, inject the fault, clear it, keep publishing,
// then measure what the exporter counted against what the bus stored.
import { until, type Exporter, type ReadyWatch } from '../helpers/processes.js';
import { countedBy, report, type FaultFigures, type Traffic } from './traffic.js';

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
  const counted = await countedBy([s.exporter]);
  const { downAtMs, upAtMs } = s.watch.outage(faultAt);
  return report({
    fault: s.fault,
    published,
    counted,
    lost: Math.max(0, published - counted),
    duplicated: Math.max(0, counted - published),
    readyAfterMs: upAtMs !== undefined ? Math.max(0, upAtMs - clearedAt) : undefined,
    recoveredAfterMs,
    caughtUpAfterMs,
    readyzWentFalse: downAtMs !== undefined,
    readyzTrueAgain: upAtMs !== undefined,
    notes: s.notes,
  });
}
