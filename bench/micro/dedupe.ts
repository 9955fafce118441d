// The duplicate filter's id memory, side by side: ids as strings in a Map (RecentKeys, what the
// filter used before) against 64-bit hashes in typed arrays (RecentIds). CPU ns per fresh id
// (lookup, insert, and once full the eviction of the oldest), rounds interleaved; then the heap each
// holds at capacity. Run with --expose-gc:
// node --expose-gc bench/.build/bench/micro/dedupe.js [capacity] [ids per round]
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { stat } from '../lib/stats.js';
import { ROOT } from '../lib/subjects.js';

const { RecentKeys } = (await import(join(ROOT, 'dist', 'pipeline/accounting.js'))) as typeof import('../../src/pipeline/accounting.js');
const { RecentIds } = (await import(join(ROOT, 'dist', 'pipeline/recent-ids.js'))) as typeof import('../../src/pipeline/recent-ids.js');

const CAP = Number(process.argv[2] ?? 200_000);
const PER_ROUND = Number(process.argv[3] ?? 1_000_000);
const ROUNDS = 7;
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

interface IdMemory {
  seen(id: string, at: number): boolean;
}
const subjects: Record<string, () => IdMemory> = {
  'Map of id strings (before)': () => {
    const r = new RecentKeys<true>(CAP);
    return {
      seen(id, at) {
        if (r.has(id)) return true;
        r.set(id, true, at);
        return false;
      },
    };
  },
  '64-bit hashes in typed arrays': () => {
    const r = new RecentIds(CAP);
    return { seen: (id, at) => !r.add(id, at) };
  },
};

function cpuNs(): number {
  const c = process.cpuUsage();
  return (c.user + c.system) * 1000;
}

// ids as the pipeline sees them: fresh strings made by JSON.parse, not interned literals
const batch = () => JSON.parse(JSON.stringify(Array.from({ length: PER_ROUND }, () => randomUUID()))) as string[];

// heap held at capacity, each built in turn after a full collection while the ones before it stay
// alive (the Map's figure includes the id strings it keeps alive; the hashes keep none)
const heldBytes: Record<string, number> = {};
{
  const kept: IdMemory[] = [];
  for (const [name, make] of Object.entries(subjects)) {
    gc();
    gc();
    const before = process.memoryUsage();
    let ids: string[] | undefined = batch().slice(0, CAP);
    const m = make();
    for (const id of ids) m.seen(id, 0);
    ids = undefined;
    gc();
    gc();
    const after = process.memoryUsage();
    heldBytes[name] = after.heapUsed - before.heapUsed + (after.arrayBuffers - before.arrayBuffers);
    kept.push(m);
  }
}

const memories = Object.fromEntries(Object.entries(subjects).map(([k, make]) => [k, make()]));
const times: Record<string, number[]> = {};
let at = 0;
// first fill each to capacity, so every measured id also evicts one
for (const m of Object.values(memories)) for (const id of batch().slice(0, CAP)) m.seen(id, at++);
for (let round = 0; round < ROUNDS; round++) {
  const ids = batch();
  const names = Object.keys(memories);
  if (round % 2) names.reverse();
  for (const name of names) {
    gc();
    const t = cpuNs();
    let dup = 0;
    for (const id of ids) if (memories[name].seen(id, at++)) dup++;
    (times[name] ??= []).push((cpuNs() - t) / ids.length);
    if (dup !== 0) throw new Error(`${name}: ${dup} fresh ids taken for duplicates`);
  }
}

process.stdout.write(`capacity ${CAP} ids, ${PER_ROUND} fresh UUIDs per round, median (min–max) of ${ROUNDS} interleaved rounds\n`);
for (const name of Object.keys(subjects)) {
  const s = stat(times[name]);
  process.stdout.write(
    `${name.padEnd(32)} ${s.median.toFixed(0).padStart(5)} ns per id (${s.min.toFixed(0)}–${s.max.toFixed(0)})   held at capacity: ${(heldBytes[name] / 2 ** 20).toFixed(1)} MiB (${Math.round(heldBytes[name] / CAP)} B per id)\n`,
  );
}
