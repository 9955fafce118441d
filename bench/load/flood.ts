// Connection flood (its own process): `idle` connections that send nothing and `slow` POSTs whose
// body arrives one byte a second, each opened again a while after the server closes it, as an
// attacker would; reports what it holds and how often the server closed it, until told to stop.
import net from 'node:net';

export interface FloodOptions {
  host: string;
  port: number;
  idle: number;
  slow: number;
  /** a closed connection is opened again after this long */
  reopenDelayMs: number;
  /** at most this many reopenings in all (bounds the run whatever the server does) */
  maxReopens: number;
}

export interface FloodResult {
  /** connections open from this side when the report was asked for */
  held: number;
  opened: number;
  closedByServer: number;
  /** slow bodies answered 408 */
  timeouts408: number;
  /** refused with 503 */
  refused503: number;
}

const opts = JSON.parse(process.argv[2]) as FloodOptions;
const SLOW_HEAD = `POST /api/events HTTP/1.1\r\nHost: ${opts.host}\r\nContent-Type: application/x-ndjson\r\nContent-Length: 1000000\r\n\r\n`;

let stopping = false;
let held = 0;
let opened = 0;
let closedByServer = 0;
let timeouts408 = 0;
let refused503 = 0;
let reopens = 0;
const sockets = new Set<net.Socket>();
// one timer drips a byte into every slow connection each second: a timer per socket would cost more here than there
const dripping = new Set<net.Socket>();
const drip = setInterval(() => {
  for (const s of dripping) s.write('a');
}, 1000);

function open(kind: 'idle' | 'slow'): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect(opts.port, opts.host);
    sockets.add(s);
    opened++;
    let first = '';
    let up = false;
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      if (first.length < 16) first += d;
    });
    s.on('error', () => undefined);
    s.once('connect', () => {
      up = true;
      held++;
      if (kind === 'slow') {
        s.write(SLOW_HEAD);
        dripping.add(s);
      }
      resolve();
    });
    s.once('close', () => {
      resolve();
      sockets.delete(s);
      dripping.delete(s);
      if (up) held--;
      if (stopping) return;
      closedByServer++;
      if (first.startsWith('HTTP/1.1 408')) timeouts408++;
      if (first.startsWith('HTTP/1.1 503')) refused503++;
      if (reopens < opts.maxReopens) {
        reopens++;
        setTimeout(() => void open(kind), opts.reopenDelayMs);
      }
    });
  });
}

async function main(): Promise<void> {
  // in waves: the server's listen backlog is 511
  for (let i = 0; i < opts.slow; i += 200) await Promise.all(Array.from({ length: Math.min(200, opts.slow - i) }, () => open('slow')));
  for (let i = 0; i < opts.idle; i += 500) await Promise.all(Array.from({ length: Math.min(500, opts.idle - i) }, () => open('idle')));
  process.send?.({ ready: true });
  process.on('message', (m: { report?: boolean; stop?: boolean }) => {
    const result: FloodResult = { held, opened, closedByServer, timeouts408, refused503 };
    if (m.report) process.send?.({ result });
    if (m.stop) {
      stopping = true;
      clearInterval(drip);
      for (const s of sockets) s.destroy();
      process.send?.({ result }, () => process.exit(0));
    }
  });
}

main().catch((err) => process.send?.({ failed: String(err) }, () => process.exit(1)));
