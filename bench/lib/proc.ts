// Process plumbing for the harness: spawn with a tracked PID, CPU and RSS from /proc, free ports, waits.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const CLK_TCK = 100; // Linux USER_HZ on every architecture Node ships for

const children = new Set<ChildProcess>();

/** Spawns a child we own; it is killed (by PID) when the harness exits. */
export function start(cmd: string, args: string[], opts: SpawnOptions & { name: string; logTo?: string[] }): ChildProcess {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], ...opts });
  children.add(child);
  const log = opts.logTo;
  const keep = (chunk: Buffer) => {
    if (!log) return;
    log.push(chunk.toString());
    if (log.length > 200) log.splice(0, log.length - 200);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.once('exit', () => children.delete(child));
  return child;
}

export async function stop(child: ChildProcess, timeoutMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(t);
}

export function killAll(): void {
  for (const c of children) if (c.pid) c.kill('SIGKILL');
}
process.once('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    killAll();
    process.exit(130);
  });
}

/** CPU seconds (user + system, all threads) a process has used so far. */
export function cpuSeconds(pid: number): number {
  const line = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const rest = line.slice(line.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / CLK_TCK;
}

/** Idle (and I/O wait) CPU-seconds of the whole machine so far, all cores summed; NaN off Linux. */
export function machineIdleSeconds(): number {
  try {
    const f = readFileSync('/proc/stat', 'utf8').slice(0, 200).split('\n')[0].trim().split(/\s+/);
    return (Number(f[4]) + Number(f[5])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/** Resident set size in MiB (VmRSS), or the peak so far (VmHWM). */
export function rssMiB(pid: number, peak = false): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = status.match(peak ? /VmHWM:\s+(\d+) kB/ : /VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Samples RSS every `everyMs` until stopped; returns the largest seen. */
export function rssSampler(pid: number, everyMs = 250): { stop(): number } {
  let max = 0;
  const sample = () => {
    try {
      max = Math.max(max, rssMiB(pid));
    } catch {
      // the process ended
    }
  };
  sample();
  const t = setInterval(sample, everyMs);
  return {
    stop() {
      clearInterval(t);
      sample();
      return max;
    },
  };
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls fn until it returns a value other than undefined, every stepMs, for at most timeoutMs. */
export async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000, stepMs = 20): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}

/** Resolves with the next IPC message from child for which pick() returns a value. */
export function nextMessage<T>(child: ChildProcess, pick: (m: unknown) => T | undefined, timeoutMs = 120_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: unknown) => {
      let v: T | undefined;
      try {
        v = pick(m);
      } catch (err) {
        cleanup();
        reject(err);
        return;
      }
      if (v === undefined) return;
      cleanup();
      resolve(v);
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`process ${child.pid} exited (${code}) before answering`));
    };
    const t = setTimeout(() => {
      cleanup();
      reject(new Error(`no answer from process ${child.pid} within ${timeoutMs} ms`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(t);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}
