// Real Prometheus tooling for tests: promtool and amtool runs, and Prometheus and Alertmanager
// servers on free ports with their own storage. A missing binary fails the test with install steps.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './processes.js';

export { freePort };

const INSTALL = {
  promtool: 'apt-get install prometheus (Debian) or put promtool on PATH',
  prometheus: 'apt-get install prometheus (Debian) or put prometheus on PATH',
  amtool: 'apt-get install prometheus-alertmanager (Debian) or put amtool on PATH',
  alertmanager: 'apt-get install prometheus-alertmanager (Debian: the binary is prometheus-alertmanager) or put alertmanager on PATH',
};

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (bounded by timeoutMs), never throwing on a non-zero exit. */
export function run(cmd: string, args: string[], opts: { cwd?: string; input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { cwd: opts.cwd, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === 'ENOENT') {
        reject(new Error(`${cmd} is not installed: ${INSTALL[cmd as keyof typeof INSTALL] ?? 'install it'}`));
        return;
      }
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

/** The first of `names` on PATH, or an error saying how to install it. */
export async function binary(kind: keyof typeof INSTALL, names: string[] = [kind]): Promise<string> {
  for (const n of names) {
    const r = await run('sh', ['-c', `command -v ${n}`]);
    if (r.code === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  throw new Error(`${kind} is not installed: ${INSTALL[kind]}`);
}

export interface Server {
  url: string;
  port: number;
  logs(): string;
  stop(): Promise<void>;
}

async function startServer(bin: string, args: string[], port: number, readyPath: string, timeoutMs: number): Promise<Server> {
  const child: ChildProcess = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let logs = '';
  const keep = (b: Buffer) => {
    logs = (logs + b.toString()).slice(-20_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  };
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${bin} exited with ${child.exitCode}:\n${logs}`);
    try {
      const r = await fetch(`${url}${readyPath}`);
      if (r.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > end) {
      await stop();
      throw new Error(`${bin} not ready at ${url}${readyPath} after ${timeoutMs} ms:\n${logs}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, port, logs: () => logs, stop };
}

/** Prometheus with `config` (YAML text) written into `dir`, beside which relative rule files resolve. */
export async function startPrometheus(dir: string, config: string, timeoutMs = 30_000, extraArgs: string[] = []): Promise<Server> {
  const bin = await binary('prometheus');
  const port = await freePort();
  mkdirSync(join(dir, 'data'), { recursive: true });
  writeFileSync(join(dir, 'prometheus.yml'), config);
  return startServer(
    bin,
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn', ...extraArgs],
    port,
    '/-/ready',
    timeoutMs,
  );
}

/** Alertmanager, not clustered, with its own storage under `dir`. */
export async function startAlertmanager(dir: string, config: string, timeoutMs = 30_000): Promise<Server> {
  const bin = await binary('alertmanager', ['prometheus-alertmanager', 'alertmanager']);
  const port = await freePort();
  mkdirSync(join(dir, 'am-data'), { recursive: true });
  writeFileSync(join(dir, 'alertmanager.yml'), config);
  return startServer(
    bin,
    [`--config.file=${join(dir, 'alertmanager.yml')}`, `--storage.path=${join(dir, 'am-data')}`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address=', '--log.level=warn'],
    port,
    '/-/ready',
    timeoutMs,
  );
}

export interface PromSample {
  metric: Record<string, string>;
  value?: [number, string];
  values?: [number, string][];
}

/** An instant query through the HTTP API; throws with Prometheus's error text when it fails. */
export async function query(url: string, expr: string): Promise<PromSample[]> {
  const r = await fetch(`${url}/api/v1/query`, { method: 'POST', body: new URLSearchParams({ query: expr }) });
  const body = (await r.json()) as { status: string; error?: string; data?: { resultType: string; result: PromSample[] | [number, string] } };
  if (body.status !== 'success') throw new Error(`query failed: ${body.error}\n  ${expr}`);
  const res = body.data!.result;
  if (body.data!.resultType === 'scalar' || body.data!.resultType === 'string') return [{ metric: {}, value: res as [number, string] }];
  return res as PromSample[];
}

export interface PromExemplars {
  seriesLabels: Record<string, string>;
  exemplars: { labels: Record<string, string>; value: string; timestamp: number }[];
}

/** /api/v1/query_exemplars over the last `seconds` (needs --enable-feature=exemplar-storage). */
export async function queryExemplars(url: string, expr: string, seconds = 600): Promise<PromExemplars[]> {
  const end = Date.now() / 1000;
  const params = new URLSearchParams({ query: expr, start: String(end - seconds), end: String(end + 60) });
  const r = await fetch(`${url}/api/v1/query_exemplars?${params}`);
  const body = (await r.json()) as { status: string; error?: string; data?: PromExemplars[] };
  if (body.status !== 'success') throw new Error(`exemplar query failed: ${body.error}\n  ${expr}`);
  return body.data ?? [];
}
