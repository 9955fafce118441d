// Private nats-server and redis-server for the bench, on free ports in a temp dir; the shared
// brokers other work uses are never touched.
import type { ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { freePort, start, stop, until } from './proc.js';

export interface Broker {
  url: string;
  proc: ChildProcess;
  log: string[];
  close(): Promise<void>;
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(500, () => done(false));
    s.once('error', () => done(false));
    s.connect(port, '127.0.0.1', () => done(true));
  });
}

async function launch(name: string, cmd: string, args: string[], port: number, url: string): Promise<Broker> {
  const log: string[] = [];
  const proc = start(cmd, args, { name, logTo: log, stdio: ['ignore', 'pipe', 'pipe'] });
  let exited = false;
  proc.once('exit', () => (exited = true));
  proc.once('error', (err) => log.push(String(err)));
  await until(`${name} on port ${port}`, async () => {
    if (exited) throw new Error(`${name} exited: ${log.join('').slice(-1000)} (is ${cmd} installed? Debian: apt-get install -y ${name})`);
    return (await answers(port)) ? true : undefined;
  });
  return { url, proc, log, close: () => stop(proc) };
}

export async function startNats(dir: string): Promise<Broker> {
  const port = await freePort();
  const store = join(dir, 'nats');
  mkdirSync(store, { recursive: true });
  return launch('nats-server', 'nats-server', ['-a', '127.0.0.1', '-p', String(port), '-js', '-sd', store], port, `nats://127.0.0.1:${port}`);
}

export async function startRedis(dir: string): Promise<Broker> {
  const port = await freePort();
  return launch(
    'redis-server',
    'redis-server',
    ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir],
    port,
    `redis://127.0.0.1:${port}`,
  );
}
