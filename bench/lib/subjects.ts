// Starting the measured server processes (the real exporter, the references) the same way: own
// process, the probe preloaded, a tracked PID; and reading their CPU, memory and loop lag.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from '../../src/util/node-flags.js';
import type { ProbeReading } from './probe.js';
import { cpuSeconds, nextMessage, rssSampler, start, stop, until } from './proc.js';

/** The repository root (this file runs from bench/.build/bench/lib). */
export const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const BUILD = join(ROOT, 'bench', '.build', 'bench');
const PROBE = join(BUILD, 'lib', 'probe.js');

export interface Server {
  id: string;
  proc: ChildProcess;
  pid: number;
  url: string;
  /** spawn to ready (/readyz 200 for the exporter, listening for references) */
  startMs: number;
  log: string[];
}

async function httpOk(url: string): Promise<boolean> {
  try {
    const res = await fetch(url);
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}

/** The baseline subject: another build, another Node.js, or both. */
export interface Baseline {
  /** a copy of dist/ from before a change; undefined runs this dist */
  dist?: string;
  /** the node binary; undefined runs the harness's own */
  node?: string;
  label: string;
}

/**
 * BENCH_BASELINE=<copy of an earlier dist/> and/or BENCH_BASELINE_NODE=<node binary>: the baseline
 * runs as one more subject in the same rotation, so a change (or a runtime) is measured side by side
 * with what it replaces, under the same load on the machine, rather than in a pass of its own.
 */
export function baselineFromEnv(env = process.env): Baseline | undefined {
  const dist = env.BENCH_BASELINE || undefined;
  const node = env.BENCH_BASELINE_NODE || undefined;
  if (!dist && !node) return undefined;
  const version = node ? execFileSync(node, ['--version'], { encoding: 'utf8' }).trim() : process.version;
  return { dist, node, label: `exporter, ${dist ? 'baseline build (BENCH_BASELINE)' : 'this build'} on Node.js ${version}` };
}

/** The real exporter: node dist/cli.js serve --config <file>, ready when /readyz answers 200. */
/** The V8 flags the exporter starts with: the shipped ones; BENCH_NO_NODE_FLAGS=1 gives V8's own defaults, to measure what the flags cost. */
export const exporterFlags = (): readonly string[] => (process.env.BENCH_NO_NODE_FLAGS === '1' ? [] : NODE_FLAGS);

export async function startExporter(
  id: string,
  config: Record<string, unknown>,
  dir: string,
  port: number,
  nodeArgs: string[] = [],
  dist = process.env.BENCH_DIST,
  node = process.execPath,
): Promise<Server> {
  const file = join(dir, `${id}.config.json`); // JSON is YAML: the loader reads it as is
  writeFileSync(file, JSON.stringify({ ...config, server: { host: '127.0.0.1', port, ...(config.server as object) } }, null, 2));
  const log: string[] = [];
  const t0 = performance.now();
  // BENCH_DIST points at another build (a copy of dist/ from before a change) to measure it the same way
  const cli = join(dist ?? join(ROOT, 'dist'), 'cli.js');
  // started as the shipped launchers start it (src/util/node-flags.ts); nodeArgs come after and win;
  const flags = exporterFlags();
  const proc = start(node, [...flags, ...nodeArgs, '--import', PROBE, cli, 'serve', '--config', file], { name: id, cwd: ROOT, logTo: log });
  const url = `http://127.0.0.1:${port}`;
  let exited = false;
  proc.once('exit', () => (exited = true));
  await until(
    `exporter ${id} ready on ${url}`,
    async () => {
      if (exited) throw new Error(`exporter ${id} exited during start:\n${log.join('').slice(-2000)}`);
      return (await httpOk(`${url}/readyz`)) ? true : undefined;
    },
    30_000,
    5,
  );
  return { id, proc, pid: proc.pid!, url, startMs: performance.now() - t0, log };
}

/** A reference server script under bench/.build/bench/ref; it reports {listening} over IPC. */
/** A reference server (bench/ref/), on V8's defaults unless nodeArgs (e.g. the exporter's NODE_FLAGS) say otherwise. */
export async function startRef(id: string, script: string, args: string[], nodeArgs: readonly string[] = []): Promise<Server> {
  const log: string[] = [];
  const t0 = performance.now();
  const proc = start(process.execPath, [...nodeArgs, '--import', PROBE, join(BUILD, 'ref', script), ...args], { name: id, cwd: ROOT, logTo: log });
  const url = await nextMessage(proc, (m) => (m as { listening?: string }).listening ?? (m as { ready?: string }).ready, 30_000).catch((err) => {
    throw new Error(`${id}: ${(err as Error).message}\n${log.join('').slice(-2000)}`);
  });
  return { id, proc, pid: proc.pid!, url, startMs: performance.now() - t0, log };
}

export const stopServer = (s: Server) => stop(s.proc);

export async function probe(s: Server, what: 'read' | 'reset'): Promise<ProbeReading | undefined> {
  if (what === 'reset') {
    s.proc.send({ probe: 'reset' });
    return undefined;
  }
  const p = nextMessage(s.proc, (m) => (m as { probeReading?: ProbeReading }).probeReading, 10_000);
  s.proc.send({ probe: 'read' });
  return p;
}

/** A measured window on one server: CPU seconds, peak RSS and the probe's loop lag between begin and end. */
export interface Window {
  cpuS: number;
  wallS: number;
  rssMaxMiB: number;
  reading: ProbeReading;
}

export function openWindow(s: Server): { end(): Promise<Window> } {
  void probe(s, 'reset');
  const cpu0 = cpuSeconds(s.pid);
  const t0 = performance.now();
  const rss = rssSampler(s.pid);
  return {
    async end() {
      const cpuS = cpuSeconds(s.pid) - cpu0;
      const wallS = (performance.now() - t0) / 1000;
      const rssMaxMiB = rss.stop();
      const reading = (await probe(s, 'read'))!;
      return { cpuS, wallS, rssMaxMiB, reading };
    },
  };
}
