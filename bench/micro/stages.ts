// What the in-process micro benchmarks share: CPU time, per-sink timing, and rounds of stages
// reported as CPU ns per item (median of the rounds after the first, which warms up).
import type { ProcessedBatch, Sink } from '../../src/pipeline/types.js';
import { stat } from '../lib/stats.js';

export function cpuMs(): number {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
}

/** Wraps each sink's write so its CPU time adds up in the returned map, by sink name. */
export function timeSinks(pipeline: unknown): Map<string, number> {
  const times = new Map<string, number>();
  for (const sink of (pipeline as { sinks: Sink[] }).sinks) {
    const write = sink.write.bind(sink);
    sink.write = (b: ProcessedBatch) => {
      const t = cpuMs();
      const r = write(b);
      times.set(sink.name, (times.get(sink.name) ?? 0) + cpuMs() - t);
      return r;
    };
  }
  return times;
}

export interface StageRun {
  stages: Record<string, (bodies: Buffer[]) => unknown>;
  rounds: number;
  /** only the stages whose name starts with this */
  only?: string;
  /** fresh bodies for one stage of one round */
  bodies: () => Buffer[];
  /** items per body (events, spans) */
  perBody: number;
  /** what an item is, for the report */
  item: string;
  sinkTimes: Map<string, number>;
  /** before the stages of each round: more rows of its own */
  eachRound?: (results: Record<string, number[]>) => void;
}

/** Runs the rounds and prints ns per item for each stage, and per sink for the 'full' stages. */
export async function runStages(run: StageRun): Promise<void> {
  const results: Record<string, number[]> = {};
  let items = 0;
  for (let r = 0; r < run.rounds; r++) {
    run.eachRound?.(results);
    for (const [name, fn] of Object.entries(run.stages)) {
      if (run.only && !name.startsWith(run.only)) continue;
      run.sinkTimes.clear();
      const bodies = run.bodies();
      items = bodies.length * run.perBody;
      const t = cpuMs();
      await fn(bodies);
      (results[name] ??= []).push(((cpuMs() - t) * 1e6) / items);
      if (name.startsWith('full')) {
        for (const [s, ms] of run.sinkTimes) (results[`  sink ${s}`] ??= []).push((ms * 1e6) / items);
      }
    }
  }
  process.stdout.write(`ns per ${run.item}, median of ${run.rounds} rounds of ${items} ${run.item}s (round 1 warms up)\n`);
  for (const [name, v] of Object.entries(results)) {
    const s = stat(v.length > 1 ? v.slice(1) : v);
    process.stdout.write(`${name.padEnd(44)} ${Math.round(s.median).toString().padStart(6)}  (${Math.round(s.min)}–${Math.round(s.max)})\n`);
  }
}
