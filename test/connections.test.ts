// Connection floods against a listening exporter: idle and slow connections past the open-file
// limit, slow bodies ended by the request timeout, and the reserve that keeps /metrics answering.
import http from 'node:http';
import net from 'node:net';
import { afterAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { startApp, waitFor } from './helpers/app.js';
import { value } from './helpers/metrics.js';
import { openFileLimit } from '../src/server/connections.js';
import { Processes } from './helpers/processes.js';

/** One raw TCP connection to the exporter, with what it received and whether the server closed it. */
class RawConn {
  readonly socket: net.Socket;
  received = '';
  closed = false;
  readonly connected: Promise<boolean>;
  private drip?: NodeJS.Timeout;

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.setEncoding('utf8');
    this.socket.on('data', (d: string) => (this.received += d));
    this.socket.on('error', () => undefined); // a reset is one way the server closes; seen as `closed`
    this.socket.on('close', () => {
      this.closed = true;
      clearInterval(this.drip);
    });
    this.connected = new Promise((r) => {
      this.socket.once('connect', () => r(true));
      this.socket.once('close', () => r(false));
    });
  }

  /** Sends `head` now, then one byte every `everyMs`, at most `maxBytes` (bounded; never the whole body). */
  slow(head: string, everyMs: number, maxBytes = 200): this {
    void this.connected.then((ok) => {
      if (!ok) return;
      this.socket.write(head);
      let sent = 0;
      this.drip = setInterval(() => {
        if (this.closed || ++sent > maxBytes) return clearInterval(this.drip);
        this.socket.write('a');
      }, everyMs);
    });
    return this;
  }

  destroy(): void {
    clearInterval(this.drip);
    this.socket.destroy();
  }
}

/** A GET on a connection of its own (no keep-alive pool, so each one is a new connection to admit). */
function get(port: number, path: string): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', (err) => resolve({ error: err.message }));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => resolve({ error: (err as NodeJS.ErrnoException).code ?? err.message }));
  });
}

/** Opens `n` connections that send nothing, in waves (the listen backlog is 511), and waits for them. */
async function idle(port: number, n: number): Promise<RawConn[]> {
  const out: RawConn[] = [];
  for (let i = 0; i < n; i += 250) {
    const wave = Array.from({ length: Math.min(250, n - i) }, () => new RawConn(port));
    await Promise.all(wave.map((c) => c.connected));
    out.push(...wave);
  }
  return out;
}

// Expect: 100-continue makes the server say when it has read the headers (the request is under way)
const SLOW_BODY = (path = '/api/events') => `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-ndjson\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n`;

/** The status line the server answered last (after a 100 Continue), or '' when none yet. */
function lastStatus(c: RawConn): string {
  const lines = c.received.match(/HTTP\/1\.1 \d{3} [^\r]*/g);
  return lines ? lines[lines.length - 1] : '';
}
const underWay = (c: RawConn) => c.received.startsWith('HTTP/1.1 100 Continue');

describe('connection flood', () => {
  const procs = new Processes();
  afterAll(() => procs.cleanup());

  test('2,000 idle and 80 slow connections past the open-file limit: /metrics and /healthz answer, slow bodies get 408', async () => {
    // the test holds about 2,100 sockets of its own (Node raises the soft limit to the hard one)
    expect(openFileLimit() ?? Infinity, 'this test needs an open-file limit above 4096: raise `ulimit -n` (the hard limit)').toBeGreaterThan(4096);
    const FD_LIMIT = 1024; // the exporter's; 2,000 idle connections would take every descriptor
    const MAX = 400;
    const REQUEST_TIMEOUT = 3000;
    const e = await procs.exporter(
      { http: true, log: { level: 'warn' }, server: { maxConnections: MAX, reservedConnections: 32, headersTimeoutMs: 3000, requestTimeoutMs: REQUEST_TIMEOUT } },
      { fdLimit: FD_LIMIT },
    );
    const conns: RawConn[] = [];
    try {
      // slow bodies first, so they are under way when the flood comes: 1 byte every 250 ms
      const startedBodies = Date.now();
      const bodies = Array.from({ length: 40 }, () => new RawConn(e.port).slow(SLOW_BODY(), 250));
      conns.push(...bodies);
      await waitFor('slow bodies under way', () => bodies.every(underWay), 15_000);
      conns.push(...(await idle(e.port, 2000)));
      // slow headers: a request line, then a header one byte at a time
      const heads = Array.from({ length: 40 }, () => new RawConn(e.port).slow('GET /healthz HTTP/1.1\r\nX-Slow: ', 250));
      conns.push(...heads);
      await Promise.all(heads.map((c) => c.connected));

      // while all of that is held: each scrape and health check is a new connection to admit
      const answers: unknown[] = [];
      let open = 0;
      for (let i = 0; i < 5; i++) {
        const m = await get(e.port, '/metrics');
        const h = await get(e.port, '/healthz');
        answers.push('status' in m ? m.status : m.error, 'status' in h ? h.status : h.error);
        if ('status' in m) open = Math.max(open, value(m.body, 'workflow_exporter_http_connections'));
      }
      expect(answers).toEqual(Array(10).fill(200));
      expect(open).toBeGreaterThan(40);
      expect(open).toBeLessThanOrEqual(MAX);

      // each slow body is answered 408 and closed, once the whole request has taken too long
      await waitFor('slow bodies closed', () => bodies.every((c) => c.closed), 15_000, 100);
      expect(Date.now() - startedBodies).toBeGreaterThanOrEqual(REQUEST_TIMEOUT);
      expect(bodies.map(lastStatus)).toEqual(Array(40).fill('HTTP/1.1 408 Request Timeout'));
      // slow headers are ended too: by the header timeout, or evicted as idle by the flood
      await waitFor('slow headers closed', () => heads.every((c) => c.closed), 15_000, 100);

      for (const c of conns) c.destroy();
      await waitFor('connections released', async () => value(await e.metrics(), 'workflow_exporter_http_connections') <= 1, 15_000, 100);
      const text = await e.metrics();
      const closed = (reason: string) => value(text, 'workflow_exporter_http_connections_closed_total', { reason });
      expect(closed('request_timeout')).toBe(40);
      expect(closed('max_connections')).toBe(0); // an idle one could always make room
      expect(closed('max_requests')).toBe(0);
      // past the cap a connection came in only as another went: evicted, timed out (headers, or one
      // of the 40 bodies), or at the end by us; so of the 2,080 at least 2,080 - MAX - 40 went so
      expect(closed('evicted_idle') + closed('headers_timeout')).toBeGreaterThanOrEqual(2080 - MAX - 40);
      expect(e.alive).toBe(true);
    } finally {
      for (const c of conns) c.destroy();
    }
  }, 90_000);

  test('the reserve: past maxConnections minus reservedConnections, ingest and WebSocket get 503 while /metrics answers', async () => {
    const a = await startApp({ http: true, server: { maxConnections: 40, reservedConnections: 8 } });
    const port = Number(new URL(a.url).port);
    const conns: RawConn[] = [];
    const sockets: WebSocket[] = [];
    try {
      // 4 tail clients and 28 slow bodies: the 32 that may be busy
      for (let i = 0; i < 4; i++) {
        const ws = new WebSocket(`${a.url.replace('http', 'ws')}/ws/events`);
        ws.on('error', () => undefined);
        sockets.push(ws);
        await new Promise((r, j) => ws.once('open', r).once('error', j));
      }
      const bodies = Array.from({ length: 28 }, () => new RawConn(port).slow(SLOW_BODY(), 200));
      conns.push(...bodies);
      await waitFor('slow bodies under way', () => bodies.every(underWay), 5000);
      // 8 idle ones fill the cap
      const idlers = await idle(port, 8);
      conns.push(...idlers);
      await waitFor('40 open', async () => value(await a.scrape(), 'workflow_exporter_http_connections') === 40, 5000);

      // one more slow body: admitted as a connection (an idle one makes room), refused as a request
      const extra = new RawConn(port).slow(SLOW_BODY(), 200);
      conns.push(extra);
      await waitFor('extra answered', () => extra.closed, 5000);
      expect(lastStatus(extra)).toBe('HTTP/1.1 503 Service Unavailable');
      expect(extra.received).toMatch(/"error":"too_many_connections"/);
      // the same for a WebSocket
      const ws = new WebSocket(`${a.url.replace('http', 'ws')}/ws/events`);
      ws.on('error', () => undefined);
      sockets.push(ws);
      const status = await new Promise<number>((r) => ws.once('unexpected-response', (_req, res) => r(res.statusCode ?? 0)).once('open', () => r(101)));
      expect(status).toBe(503);
      // an API read is refused; metrics and health are not
      const api = await get(port, '/api/events');
      expect('status' in api ? api.status : api.error).toBe(503);
      for (const path of ['/metrics', '/healthz', '/readyz']) {
        const r = await get(port, path);
        expect('status' in r ? r.status : r.error, path).toBe(200);
      }
      const text = await a.scrape();
      const closed = (reason: string) => value(text, 'workflow_exporter_http_connections_closed_total', { reason });
      expect(closed('max_requests')).toBe(3);
      // a connection past the cap closed the one idle longest (the first, at least, came at 40 open)
      await waitFor('evicted seen', () => idlers[0].closed, 5000);
      expect(closed('evicted_idle')).toBeGreaterThanOrEqual(1);
      expect(closed('evicted_idle')).toBe(idlers.filter((c) => c.closed).length);
      expect(idlers.findIndex((c) => !c.closed)).toBe(closed('evicted_idle')); // oldest first
      expect(closed('max_connections')).toBe(0);
      expect(bodies.every((c) => !c.closed)).toBe(true);

      // once the slow bodies let go, the API answers again
      for (const c of bodies) c.destroy();
      await waitFor('the API answering again', async () => {
        const r = await get(port, '/api/events');
        return 'status' in r && r.status === 200;
      }, 5000);
    } finally {
      for (const c of conns) c.destroy();
      for (const s of sockets) s.terminate();
      await a.close();
    }
  });
});
