// The tail clients' frame scan finds every send stamp an events frame carries, exactly: the same
// count and values JSON.parse reads, in frames the exporter's tail builds from the bench workload.
// Their minimal WebSocket client gets every message a `ws` server sends, whole, however the bytes
// are split, answers pings, and its own frames are read by that server.
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { ndjsonTemplate } from '../bench/lib/events.js';
import { readStamp, scanStamps } from '../bench/load/stamps.js';
import { FrameParser, WsReader } from '../bench/load/ws-reader.js';
import { eventsFrame } from '../src/sinks/tail/client.js';
import type { TailEntry } from '../src/sinks/tail/history.js';

function frameOf(events: unknown[]): Buffer {
  return Buffer.from(eventsFrame(events.map((e) => ({ json: () => JSON.stringify(e) }) as TailEntry)));
}

function stampsOf(buf: Buffer): number[] {
  const out: number[] = [];
  const n = scanStamps(buf, (ms) => out.push(ms));
  expect(n).toBe(out.length);
  return out;
}

describe('tail clients: send stamps in an events frame', () => {
  it('finds one stamp per event of the bench workload, with the value JSON.parse reads', () => {
    const body = ndjsonTemplate(40, '2026-11-23T21:00:00.000Z', true).render(7);
    const events = body.split('\n').map((line, i) => JSON.parse(line.replace('"sent_ms":0', `"sent_ms":${1795469433978.7896 + i}`)) as { attributes: { sent_ms: number } });
    const frame = frameOf(events);
    const want = (JSON.parse(frame.toString()) as { events: typeof events }).events.map((e) => e.attributes.sent_ms);
    expect(want.length).toBe(40);
    const got = stampsOf(frame);
    expect(got.length).toBe(40);
    // the digits are summed as decimals, which can differ from JSON.parse in a float's last bits:
    // the same to the microsecond (the histogram's buckets are 50 us)
    const us = (ms: number) => Math.round(ms * 1000);
    expect(got.map(us)).toEqual(want.map(us));
    expect(scanStamps(frame)).toBe(40);
  });

  it('counts only "sent_ms": keys: not other _ms keys, not the text inside a string, not a prefix', () => {
    const frame = frameOf([
      { id: 'a', duration_ms: 5, attributes: { sent_ms: 10 } },
      { id: 'b', attributes: { present_ms: 1, sent_msx: 2, note: '"sent_ms":3', _: 4, 'x_': 5 } },
      { id: 'c_', attributes: { sent_ms: 11.5 }, tokens_in: 3 },
      { id: '_sent_ms', attributes: { 'sent_ms': 12, sent_ms_2: 6 } },
    ]);
    expect(stampsOf(frame)).toEqual([10, 11.5, 12]);
  });

  it('reads a stamp at the very start or end of a buffer, and integers and decimals', () => {
    expect(stampsOf(Buffer.from('"sent_ms":1795469433978'))).toEqual([1795469433978]);
    expect(stampsOf(Buffer.from('_ms":1,"sent_ms":2.25}'))).toEqual([2.25]);
    expect(stampsOf(Buffer.from('{"sent_ms"'))).toEqual([]);
    expect(readStamp(Buffer.from('x 12.5.3'), 2)).toBe(12.5);
    expect(readStamp(Buffer.from('0}'), 0)).toBe(0);
  });
});

/** an unmasked server frame */
function serverFrame(opcode: number, payload: Buffer): Buffer {
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x80 | opcode, len]) : len < 65536 ? Buffer.from([0x80 | opcode, 126, len >> 8, len & 0xff]) : Buffer.alloc(10);
  if (len >= 65536) {
    head[0] = 0x80 | opcode;
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  return Buffer.concat([head, payload]);
}

describe('tail clients: WebSocket frames', () => {
  const payloads = [0, 1, 125, 126, 127, 300, 65535, 65536, 70000].map((n, k) => Buffer.alloc(n, 97 + k));
  const stream = Buffer.concat(payloads.map((p, k) => serverFrame(k === 2 ? 0x9 : 0x1, p)));

  it('parses frames fed in pieces of every size from 1 byte to all at once, each whole and in order', () => {
    for (const piece of [1, 2, 3, 7, 10, 11, 127, 1000, 65537, stream.length]) {
      const got: [number, string][] = [];
      const parser = new FrameParser((op, p) => got.push([op, p.toString('latin1')]));
      // each piece is fed from inside a larger buffer, as the shared read buffer holds it
      for (let off = 0; off < stream.length; off += piece) {
        const end = Math.min(stream.length, off + piece);
        const holder = Buffer.concat([Buffer.alloc(5, 0x5f), stream.subarray(off, end), Buffer.alloc(5, 0x5f)]);
        parser.feed(holder, 5, 5 + end - off);
      }
      expect(got.map(([op]) => op)).toEqual(payloads.map((_, k) => (k === 2 ? 0x9 : 0x1)));
      expect(got.map(([, p]) => p)).toEqual(payloads.map((p) => p.toString('latin1')));
    }
  });

  it('refuses a fragmented message rather than miscount it', () => {
    const parser = new FrameParser(() => {});
    expect(() => parser.feed(Buffer.from([0x01, 0x01, 0x61]), 0, 3)).toThrow(/fragmented/);
  });

  it('talks to a ws server: its frames are read, its messages arrive whole, its pings are answered', async () => {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    await new Promise((r) => wss.once('listening', r));
    const port = (wss.address() as AddressInfo).port;
    const sizes = [0, 5, 125, 126, 65535, 65536, 300_000];
    const serverGot: string[] = [];
    const pong = new Promise<string>((resolve) => {
      wss.on('connection', (ws) => {
        ws.on('pong', (d) => resolve(d.toString()));
        ws.on('message', (d, isBinary) => {
          serverGot.push(`${isBinary ? 'binary' : 'text'}:${d.toString()}`);
          for (const n of sizes) ws.send(Buffer.alloc(n, 120), { binary: false });
          ws.ping('hb-1');
        });
      });
    });
    const received: number[] = [];
    let closed = 0;
    const done = new Promise<void>((resolve) => {
      void WsReader.open(
        `ws://127.0.0.1:${port}/ws/events`,
        {
          message(data) {
            expect(data.every((b) => b === 120)).toBe(true);
            received.push(data.length);
            if (received.length === sizes.length) resolve();
          },
          close() {
            closed++;
          },
        },
        () => performance.now(),
      ).then((r) => r.send(JSON.stringify({ type: 'subscribe', filter: {}, replay: 0 })));
    });
    await done;
    expect(await pong).toBe('hb-1');
    expect(received).toEqual(sizes);
    expect(serverGot).toEqual(['text:{"type":"subscribe","filter":{},"replay":0}']);
    const [server] = wss.clients;
    const serverClosed = new Promise<number>((r) => server.once('close', (code) => r(code)));
    server.close(1001, 'bye');
    // the reader answers the close frame with one of its own and ends the connection
    expect(await serverClosed).toBe(1001);
    await new Promise<void>((r) => wss.close(() => r()));
    expect(closed).toBe(1);
  });
});
