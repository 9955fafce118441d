// Real processes for fault tests: private nats-server (single or clustered) and redis-server instances and exporter processes
// (the built CLI), each on its own free port and temp dir, with signals by PID and cleanup of only
// what this helper started.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { stringify as toYaml } from 'yaml';
import { reachable } from './brokers.js';

export const REPO = resolve(import.meta.dirname, '../..');
export const CLI = join(REPO, 'dist', 'cli.js');

const INSTALL: Record<string, string> = {
  'nats-server': 'install it with `apt-get install nats-server` (Debian) or from https://github.com/nats-io/nats-server/releases, and put it on PATH',
  'redis-server': 'install it with `apt-get install redis-server` (Debian), and put it on PATH',
};

/** The absolute path of an executable on PATH (or /usr/sbin, where Debian puts nats-server); throws how to install it. */
export function binary(name: 'nats-server' | 'redis-server'): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // try the next directory
    }
  }
  throw new Error(`${name} is not installed; the fault tests start their own ${name}: ${INSTALL[name]}`);
}

/** A TCP port nothing listens on right now (the kernel picks it; we release it for the child to bind). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolvePort(port));
    });
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls until `fn` is true, at most `timeoutMs`; returns the milliseconds it took. */
export async function until(what: string, fn: () => Promise<boolean> | boolean, timeoutMs = 20_000, stepMs = 50): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await fn()) return Date.now() - start;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}

type Signal = 'SIGKILL' | 'SIGTERM' | 'SIGSTOP' | 'SIGCONT' | 'SIGINT';

/** One child process we started: signals go to its PID only. */
export class Proc {
  child!: ChildProcess;
  exited!: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private running = false;
  private stopped = false;

  constructor(
    readonly name: string,
    private readonly cmd: string,
    private readonly args: () => string[],
    readonly logFile: string,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  get pid(): number {
    return this.child.pid!;
  }
  get alive(): boolean {
    return this.running;
  }

  spawn(): void {
    const fd = openSync(this.logFile, 'a');
    this.child = spawn(this.cmd, this.args(), { stdio: ['ignore', fd, fd], env: this.env, cwd: REPO });
    closeSync(fd);
    this.running = true;
    this.stopped = false;
    this.exited = new Promise((r) =>
      this.child.once('exit', (code, signal) => {
        this.running = false;
        r({ code, signal });
      }),
    );
  }

  signal(sig: Signal): void {
    if (!this.running) return;
    process.kill(this.pid, sig);
    if (sig === 'SIGSTOP') this.stopped = true;
    if (sig === 'SIGCONT') this.stopped = false;
  }

  /** SIGKILL and wait for the exit. */
  async kill(): Promise<void> {
    if (!this.running) return;
    this.signal('SIGKILL');
    await this.exited;
  }

  /** SIGTERM (resuming a stopped process first) and wait at most `timeoutMs` before SIGKILL. */
  async terminate(timeoutMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.running) return this.exited;
    if (this.stopped) this.signal('SIGCONT');
    this.signal('SIGTERM');
    const t = setTimeout(() => this.signal('SIGKILL'), timeoutMs);
    const res = await this.exited;
    clearTimeout(t);
    return res;
  }

  suspend(): void {
    this.signal('SIGSTOP');
  }
  resume(): void {
    this.signal('SIGCONT');
  }

  log(): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8') : '';
  }
}

/** A broker on 127.0.0.1:`port`, ready when it accepts connections. */
class Broker extends Proc {
  constructor(
    name: 'nats-server' | 'redis-server',
    private readonly scheme: 'nats' | 'redis',
    readonly port: number,
    args: () => string[],
    logFile: string,
  ) {
    super(name, binary(name), args, logFile);
  }
  get url(): string {
    return `${this.scheme}://127.0.0.1:${this.port}`;
  }
  async start(): Promise<void> {
    this.spawn();
    await until(`${this.name} on port ${this.port}`, () => reachable(this.url, 200), 15_000);
  }
  /** Stops the server (SIGKILL unless `graceful`) and starts it again on the same port and data. */
  async restart(graceful = false): Promise<void> {
    if (graceful) await this.terminate();
    else await this.kill();
    await this.start();
  }
}

export class NatsServer extends Broker {
  constructor(
    port: number,
    readonly storeDir: string,
    logFile: string,
    /** the server's name in a cluster (JetStream reports stream leaders by it) */
    readonly serverName?: string,
    extraArgs: string[] = [],
  ) {
    super('nats-server', 'nats', port, () => ['-js', '-sd', storeDir, '-a', '127.0.0.1', '-p', String(port), ...(serverName ? ['-n', serverName] : []), ...extraArgs], logFile);
  }
}

export class RedisServer extends Broker {
  constructor(
    port: number,
    readonly dir: string,
    logFile: string,
    /** append-only file with fsync on every write: the stream and groups survive a kill */
    readonly persistent: boolean,
    extraArgs: string[] = [],
    name: 'redis-server' | 'redis-sentinel' = 'redis-server',
    /** its requirepass, given to redis-cli */
    readonly password?: string,
  ) {
    super(
      'redis-server',
      'redis',
      port,
      () => [
        ...(name === 'redis-sentinel' ? [join(dir, 'sentinel.conf'), '--sentinel'] : []),
        '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '',
        '--appendonly', persistent ? 'yes' : 'no', '--appendfsync', 'always',
        '--daemonize', 'no', '--protected-mode', 'no', '--logfile', '',
        ...extraArgs,
      ],
      logFile,
    );
  }

  /** `redis-cli -p <port> <args>`, its output (throws with it when the command fails). */
  cli(...args: string[]): string {
    const auth = this.password ? ['-a', this.password, '--no-auth-warning'] : [];
    try {
      return execFileSync('redis-cli', ['-h', '127.0.0.1', '-p', String(this.port), ...auth, ...args], { encoding: 'utf8', timeout: 30_000 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('redis-cli is not installed; the cluster tests create their cluster with it: apt-get install redis-tools (Debian), and put it on PATH');
      throw err;
    }
  }
}

/** Seed addresses of a cluster's nodes, as the exporter's `cluster` config takes them. */
export const seeds = (nodes: RedisServer[]) => nodes.map((n) => n.url);

export class Exporter extends Proc {
  constructor(
    readonly port: number,
    readonly configFile: string,
    logFile: string,
    env: NodeJS.ProcessEnv,
    /** open files the process may hold (soft and hard, so Node cannot raise it): `ulimit -n` in a shell that then execs node */
    fdLimit?: number,
  ) {
    const serve = [CLI, 'serve', '--config', configFile, '--port', String(port), '--host', '127.0.0.1'];
    const limited = fdLimit === undefined ? undefined : ['-c', `ulimit -n ${fdLimit} && exec "$0" "$@"`, process.execPath];
    super('exporter', limited ? '/bin/sh' : process.execPath, () => [...(limited ?? []), ...serve], logFile, env);
  }
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(opts: { ready?: boolean } = {}): Promise<void> {
    this.spawn();
    const what = opts.ready === false ? '/healthz' : '/readyz';
    await until(`exporter ${what} on port ${this.port}`, async () => {
      if (!this.alive) throw new Error(`exporter exited during start:\n${this.log().slice(-4000)}`);
      return (await this.get(what).catch(() => undefined))?.status === 200;
    }, 30_000, 50);
  }

  async restart(): Promise<void> {
    await this.kill();
    await this.start();
  }

  get(path: string, init?: RequestInit): Promise<Response> {
    return fetch(`${this.url}${path}`, { ...init, signal: AbortSignal.timeout(5000) });
  }

  async ready(): Promise<boolean> {
    try {
      return (await this.get('/readyz')).status === 200;
    } catch {
      return false;
    }
  }

  async metrics(): Promise<string> {
    const res = await this.get('/metrics');
    if (res.status !== 200) throw new Error(`GET /metrics: ${res.status}`);
    return res.text();
  }

  /** JSON log lines the process wrote (pino), parsed; other lines skipped. */
  logLines(): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const line of this.log().split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        out.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // a partial last line
      }
    }
    return out;
  }
}

/** Records every change of an exporter's /readyz, polled every `stepMs`, with timestamps. */
export class ReadyWatch {
  readonly transitions: { atMs: number; ready: boolean }[] = [];
  private timer?: NodeJS.Timeout;
  private busy = false;

  constructor(private readonly exporter: Exporter, stepMs = 100) {
    this.timer = setInterval(() => void this.poll(), stepMs);
  }

  private async poll(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    const ready = await this.exporter.ready();
    const last = this.transitions.at(-1);
    if (!last || last.ready !== ready) this.transitions.push({ atMs: Date.now(), ready });
    this.busy = false;
  }

  /**
   * When /readyz first went false at or after `sinceMs`, and when it went true again after that.
   * A broker restart can be shorter than one poll; /readyz is the source's `connected` flag, and the
   * exporter logs each flip of that flag ("connection lost" / "reconnected"), so when the polls
   * missed the outage the logged flips (with their own timestamps) stand in for them.
   */
  outage(sinceMs: number): { downAtMs?: number; upAtMs?: number } {
    const down = this.transitions.find((t) => t.atMs >= sinceMs && !t.ready);
    const up = down ? this.transitions.find((t) => t.atMs > down.atMs && t.ready) : undefined;
    if (down) return { downAtMs: down.atMs, upAtMs: up?.atMs };
    const flips: { atMs: number; ready: boolean }[] = [];
    for (const line of this.exporter.log().split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const l = JSON.parse(line) as { time?: number; msg?: string };
        if (typeof l.time !== 'number' || l.time < sinceMs || typeof l.msg !== 'string') continue;
        if (/connection lost; reconnecting/.test(l.msg)) flips.push({ atMs: l.time, ready: false });
        else if (/\breconnected\b/.test(l.msg)) flips.push({ atMs: l.time, ready: true });
      } catch {
        // a partial last line
      }
    }
    const logDown = flips.find((f) => !f.ready);
    const logUp = logDown ? flips.find((f) => f.atMs >= logDown.atMs && f.ready) : undefined;
    return { downAtMs: logDown?.atMs, upAtMs: logUp?.atMs };
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** Waits until JetStream answers an account-info request on `url` (a cluster's meta leader is elected). */
export async function jetStreamAnswers(url: string, timeoutMs = 30_000): Promise<void> {
  const nc = await connect({ servers: url });
  try {
    await until(`JetStream answering on ${url}`, async () => {
      try {
        await jetstreamManager(nc, { timeout: 1000 });
        return true;
      } catch {
        return false;
      }
    }, timeoutMs, 250);
  } finally {
    await nc.close();
  }
}

/** Everything one test file starts; `cleanup()` (in afterAll) kills exactly these PIDs and removes their dirs. */
export class Processes {
  private readonly procs: Proc[] = [];
  private readonly dirs: string[] = [];
  private readonly watches: ReadyWatch[] = [];

  constructor() {
    // a worker that dies before afterAll must not leave brokers running: kill ours by PID on exit
    process.once('exit', () => {
      for (const p of this.procs) {
        try {
          if (p.alive) process.kill(p.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    });
  }

  dir(prefix: string): string {
    const d = mkdtempSync(join(tmpdir(), `wfx-${prefix}-`));
    this.dirs.push(d);
    return d;
  }

  async nats(): Promise<NatsServer> {
    const dir = this.dir('nats');
    const n = new NatsServer(await freePort(), join(dir, 'store'), join(dir, 'nats.log'));
    this.procs.push(n);
    await n.start();
    return n;
  }

  /**
   * `n` nats-servers in one cluster (routes on loopback, JetStream on each with its own store), named
   * wfx-0..wfx-<n-1>; resolves once JetStream answers through every server (a meta leader is elected).
   */
  async natsCluster(n = 3): Promise<NatsServer[]> {
    const dir = this.dir('nats-cluster');
    const routePorts = await Promise.all(Array.from({ length: n }, () => freePort()));
    const routes = routePorts.map((p) => `nats://127.0.0.1:${p}`).join(',');
    const servers: NatsServer[] = [];
    for (let i = 0; i < n; i++) {
      const args = ['--cluster_name', 'wfx', '--cluster', `nats://127.0.0.1:${routePorts[i]}`, '--routes', routes];
      const s = new NatsServer(await freePort(), join(dir, `store-${i}`), join(dir, `nats-${i}.log`), `wfx-${i}`, args);
      this.procs.push(s);
      servers.push(s);
    }
    // all spawned before any is awaited: JetStream needs a quorum of the cluster to elect its meta leader
    for (const s of servers) s.spawn();
    for (const s of servers) await until(`nats-server ${s.serverName} on port ${s.port}`, () => reachable(s.url, 200), 15_000);
    for (const s of servers) await jetStreamAnswers(s.url);
    return servers;
  }

  /**
   * A Redis Cluster of `masters` masters with one replica each (redis-server --cluster-enabled yes,
   * created with redis-cli --cluster create --cluster-replicas 1), node timeout `nodeTimeoutMs` so a
   * failover takes seconds, every node requiring `password` when given; resolves once every node
   * reports cluster_state:ok.
   */
  async redisCluster(masters = 3, nodeTimeoutMs = 2000, password?: string): Promise<RedisServer[]> {
    const nodes: RedisServer[] = [];
    const auth = password ? ['--requirepass', password, '--masterauth', password] : [];
    for (let i = 0; i < masters * 2; i++) {
      const dir = this.dir(`redis-cluster-${i}`);
      const extra = ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'), '--cluster-node-timeout', String(nodeTimeoutMs), ...auth];
      const r = new RedisServer(await freePort(), dir, join(dir, 'redis.log'), false, extra, 'redis-server', password);
      this.procs.push(r);
      nodes.push(r);
      await r.start();
    }
    nodes[0].cli('--cluster', 'create', ...nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes');
    for (const n of nodes) await until(`cluster_state:ok on ${n.port}`, () => n.cli('cluster', 'info').includes('cluster_state:ok'), 30_000, 200);
    return nodes;
  }

  /**
   * A master, a replica of it, and one sentinel (quorum 1) watching it as `name`, failing over after
   * `downAfterMs`; with `passwords`, the two servers require `redis` and the sentinel `sentinel`.
   */
  async redisSentinel(
    name = 'wfx',
    downAfterMs = 1000,
    passwords?: { redis: string; sentinel: string },
  ): Promise<{ master: RedisServer; replica: RedisServer; sentinel: RedisServer }> {
    const auth = passwords ? ['--requirepass', passwords.redis, '--masterauth', passwords.redis] : [];
    const server = async (what: string, extra: string[]) => {
      const dir = this.dir(what);
      const r = new RedisServer(await freePort(), dir, join(dir, 'redis.log'), false, [...auth, ...extra], 'redis-server', passwords?.redis);
      this.procs.push(r);
      await r.start();
      return r;
    };
    const master = await server('redis-master', []);
    const replica = await server('redis-replica', ['--replicaof', '127.0.0.1', String(master.port)]);
    const sdir = this.dir('redis-sentinel');
    // sentinel rewrites its config file as it learns the topology: it has to be a file of its own
    writeFileSync(
      join(sdir, 'sentinel.conf'),
      [
        `sentinel monitor ${name} 127.0.0.1 ${master.port} 1`,
        `sentinel down-after-milliseconds ${name} ${downAfterMs}`,
        `sentinel failover-timeout ${name} 5000`,
        `sentinel parallel-syncs ${name} 1`,
        ...(passwords ? [`sentinel auth-pass ${name} ${passwords.redis}`, `requirepass ${passwords.sentinel}`] : []),
        '',
      ].join('\n'),
    );
    const sentinel = new RedisServer(await freePort(), sdir, join(sdir, 'sentinel.log'), false, [], 'redis-sentinel', passwords?.sentinel);
    this.procs.push(sentinel);
    await sentinel.start();
    await until('the replica in sync', () => master.cli('info', 'replication').includes('state=online'), 30_000, 100);
    await until('the sentinel knowing the replica', () => /num-slaves\s+1/.test(sentinel.cli('sentinel', 'master', name).replace(/\n/g, ' ')), 30_000, 200);
    return { master, replica, sentinel };
  }

  async redis(opts: { persistent?: boolean } = {}): Promise<RedisServer> {
    const dir = this.dir('redis');
    const r = new RedisServer(await freePort(), dir, join(dir, 'redis.log'), opts.persistent ?? false);
    this.procs.push(r);
    await r.start();
    return r;
  }

  /** An exporter process running `serve` with `config` (written as YAML); started unless `start: false`. */
  async exporter(config: Record<string, unknown>, opts: { start?: boolean; ready?: boolean; env?: NodeJS.ProcessEnv; fdLimit?: number } = {}): Promise<Exporter> {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
    const dir = this.dir('exporter');
    const file = join(dir, 'config.yaml');
    writeFileSync(file, toYaml({ log: { level: 'info' }, ...config }));
    const e = new Exporter(await freePort(), file, join(dir, 'exporter.log'), { ...process.env, ...opts.env }, opts.fdLimit);
    this.procs.push(e);
    if (opts.start !== false) await e.start({ ready: opts.ready });
    return e;
  }

  watch(exporter: Exporter, stepMs = 100): ReadyWatch {
    const w = new ReadyWatch(exporter, stepMs);
    this.watches.push(w);
    return w;
  }

  async cleanup(): Promise<void> {
    for (const w of this.watches) w.stop();
    for (const p of this.procs) {
      if (!p.alive) continue;
      p.signal('SIGCONT'); // a stopped process cannot act on anything but SIGKILL; let it go cleanly
      await p.kill();
    }
    for (const d of this.dirs) rmSync(d, { recursive: true, force: true });
  }

  /** The last lines of every log, for a failure message. */
  logs(lines = 40): string {
    return this.procs.map((p) => `--- ${p.name} ${p.logFile}\n${p.log().split('\n').slice(-lines).join('\n')}`).join('\n');
  }
}
