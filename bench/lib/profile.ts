// Summarizes a V8 .cpuprofile (node --cpu-prof) into self time per function, for BENCHMARKS.md's
// "where the time goes" notes: npm run bench -- --profile writes and summarizes the exporter's.
import { readFileSync } from 'node:fs';

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileLine {
  percent: number;
  fn: string;
}

export function topSelfTime(file: string, n = 25): ProfileLine[] {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((x) => [x.id, x]));
  const self = new Map<string, number>();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const node = byId.get(p.samples[i]);
    if (!node) continue;
    const cf = node.callFrame;
    if (cf.functionName === '(idle)' || cf.functionName === '(program)') continue;
    const where = cf.url ? `${cf.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(dist|src)\//, '$1/')}:${cf.lineNumber + 1}` : '';
    const key = `${cf.functionName || '(anonymous)'} ${where}`.trim();
    const dt = p.timeDeltas[i] ?? 0;
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  }
  return [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([fn, t]) => ({ fn, percent: Math.round((1000 * t) / total) / 10 }));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const l of topSelfTime(process.argv[2], Number(process.argv[3] ?? 30))) process.stdout.write(`${l.percent.toFixed(1).padStart(5)}%  ${l.fn}\n`);
}
