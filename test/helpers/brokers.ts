// The real brokers integration tests use: NATS_URL and REDIS_URL (default 127.0.0.1:4222 and :6379).
// When they do not answer and a Docker engine runs, testcontainers starts them; otherwise the test
// fails saying how to start them. Never a silent skip.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Socket } from 'node:net';

export const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

const HOW_TO = {
  nats: 'start it with: nats-server -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server (Debian package nats-server), or set NATS_URL',
  redis: 'start it with: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no, or set REDIS_URL',
};

export function hostPort(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port) };
}

export function reachable(url: string, timeoutMs = 1000): Promise<boolean> {
  const { host, port } = hostPort(url);
  return new Promise((resolve) => {
    const s = new Socket();
    const done = (ok: boolean) => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(timeoutMs, () => done(false));
    s.once('error', () => done(false));
    s.connect(port, host, () => done(true));
  });
}

function dockerEngine(): boolean {
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

const started: Record<string, string> = {};

async function viaContainer(kind: 'nats' | 'redis'): Promise<string> {
  if (started[kind]) return started[kind];
  // only reached on machines with Docker; imported lazily so others never load it
  const { GenericContainer } = await import('testcontainers');
  if (kind === 'nats') {
    const c = await new GenericContainer('nats:2.10').withCommand(['-js']).withExposedPorts(4222).start();
    started.nats = `nats://${c.getHost()}:${c.getMappedPort(4222)}`;
  } else {
    const c = await new GenericContainer('redis:7').withExposedPorts(6379).start();
    started.redis = `redis://${c.getHost()}:${c.getMappedPort(6379)}`;
  }
  return started[kind];
}

async function broker(kind: 'nats' | 'redis', url: string): Promise<string> {
  if (await reachable(url)) return url;
  if (dockerEngine()) return viaContainer(kind);
  throw new Error(`${kind} is not reachable at ${url} and no Docker engine runs here; ${HOW_TO[kind]}`);
}

export const natsUrl = () => broker('nats', NATS_URL);
export const redisUrl = () => broker('redis', REDIS_URL);

/** A name unique to this run, for streams, subjects, keys and groups on the shared brokers. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
}
