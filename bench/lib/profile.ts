// Summarizes a V8 .cpuprofile (node --cpu-prof) into self time per function, for BENCHMARKS.md's
// "where the time goes" notes: npm run bench -- --profile writes and summarizes the exporter's.
import { readFileSync } from 'node:fs';

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileLine {
  percent: number;
  fn: string;
}

function keyOf(cf: CpuProfile['nodes'][number]['callFrame']): string {
  const where = cf.url ? `${cf.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(dist|src)\//, '$1/')}:${cf.lineNumber + 1}` : '';
  return `${cf.functionName || '(anonymous)'} ${where}`.trim();
}

/**
 * Self time per function, or with `inclusive` the time spent in a function and everything it called
 * (each sample counted once per function even under recursion), as percent of busy time.
 */
export function topSelfTime(file: string, n = 25, inclusive = false): ProfileLine[] {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((x) => [x.id, x]));
  const parent = new Map<number, number>();
  for (const x of p.nodes) for (const c of x.children ?? []) parent.set(c, x.id);
  const acc = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const node = byId.get(p.samples[i]);
    if (!node) continue;
    const fn = node.callFrame.functionName;
    if (fn === '(idle)' || fn === '(program)') continue;
    const dt = p.timeDeltas[i] ?? 0;
    total += dt;
    if (!inclusive) {
      const key = keyOf(node.callFrame);
      acc.set(key, (acc.get(key) ?? 0) + dt);
      continue;
    }
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const key = keyOf(byId.get(id)!.callFrame);
      if (seen.has(key)) continue;
      seen.add(key);
      acc.set(key, (acc.get(key) ?? 0) + dt);
    }
  }
  return [...acc]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([fn, t]) => ({ fn, percent: Math.round((1000 * t) / total) / 10 }));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const l of topSelfTime(process.argv[2], Number(process.argv[3] ?? 30), process.argv[4] === 'inclusive')) process.stdout.write(`${l.percent.toFixed(1).padStart(5)}%  ${l.fn}\n`);
}
