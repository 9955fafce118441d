// A minimal WebSocket client (RFC 6455) for the tail clients: the opening handshake, masked text
// frames out, and the server's frames parsed straight out of one read buffer shared by every
// connection (net's `onread`: a read allocates nothing). A message that arrives whole in one read
// is handed over in place; one split across reads is copied once. With the `ws` library the 1,000
// clients' process spent a quarter of its CPU in the library's framing and another fifth in garbage
// collection of a Buffer per read and per message; the clients share the machine with the exporter
// they measure, so what they spend shows up as latency. The server sees the same handshake and frames.
import { createHash, randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';

const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
/** onread callbacks run one at a time and the data is used before they return: one buffer serves all */
const READ_BUFFER = Buffer.allocUnsafe(256 * 1024);

const OP_CONT = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;

export interface ReaderEvents {
  /** a text or binary message; `data` is only valid during the call; `at` is the read's receive time */
  message(data: Buffer, at: number): void;
  close(): void;
}

/** A masked frame from the client (RFC 6455 5.3: client frames are masked). */
export function clientFrame(opcode: number, payload: Buffer, mask: Buffer = randomBytes(4)): Buffer {
  const len = payload.length;
  const head = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const out = Buffer.allocUnsafe(head + 4 + len);
  out[0] = 0x80 | opcode;
  if (len < 126) out[1] = 0x80 | len;
  else if (len < 65536) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(len, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeBigUInt64BE(BigInt(len), 2);
  }
  mask.copy(out, head, 0, 4);
  for (let i = 0; i < len; i++) out[head + 4 + i] = payload[i] ^ mask[i & 3];
  return out;
}

/**
 * Server frames from a byte stream fed in pieces of any size: `feed` returns each complete frame to
 * `frame` (in place when it lies in the piece, else from a copy), keeping the partial one for the next.
 */
export class FrameParser {
  /** header bytes of a frame split across pieces (at most 10: server frames are not masked) */
  private head = Buffer.allocUnsafe(10);
  private headLen = 0;
  /** the payload of a frame split across pieces, and how much of it has come */
  private partial?: Buffer;
  private partialLen = 0;
  private opcode = 0;

  constructor(private readonly frame: (opcode: number, payload: Buffer) => void) {}

  feed(buf: Buffer, start: number, end: number): void {
    let off = start;
    while (off < end) {
      if (this.partial) {
        const take = Math.min(this.partial.length - this.partialLen, end - off);
        buf.copy(this.partial, this.partialLen, off, off + take);
        this.partialLen += take;
        off += take;
        if (this.partialLen < this.partial.length) return;
        const p = this.partial;
        this.partial = undefined;
        this.frame(this.opcode, p);
        continue;
      }
      // the header: from this piece when it holds all of it, else gathered in `head`
      let h: Buffer;
      let at: number;
      if (this.headLen === 0 && end - off >= 10) {
        h = buf;
        at = off;
      } else {
        while (this.headLen < 2 && off < end) this.head[this.headLen++] = buf[off++];
        if (this.headLen < 2) return;
        const need = headerSize(this.head[1]);
        while (this.headLen < need && off < end) this.head[this.headLen++] = buf[off++];
        if (this.headLen < need) return;
        h = this.head;
        at = 0;
      }
      const b0 = h[at];
      const b1 = h[at + 1];
      if ((b0 & 0x80) === 0 || (b0 & 0x0f) === OP_CONT) throw new Error('fragmented WebSocket message: the tail sends each message in one frame');
      if (b1 & 0x80) throw new Error('masked frame from the server');
      const size = headerSize(b1);
      let len = b1 & 0x7f;
      if (len === 126) len = h.readUInt16BE(at + 2);
      else if (len === 127) len = Number(h.readBigUInt64BE(at + 2));
      if (h === buf) off += size;
      this.headLen = 0;
      this.opcode = b0 & 0x0f;
      if (end - off >= len) {
        this.frame(this.opcode, buf.subarray(off, off + len));
        off += len;
      } else {
        this.partial = Buffer.allocUnsafe(len);
        this.partialLen = 0;
      }
    }
  }
}

function headerSize(b1: number): number {
  const len = b1 & 0x7f;
  return len < 126 ? 2 : len === 126 ? 4 : 10;
}

export class WsReader {
  private socket!: Socket;
  /** the receive time of the read being parsed */
  private readAt = 0;
  private closed = false;

  private constructor(private readonly on: ReaderEvents) {}

  /** Connects and completes the handshake; resolves once the connection is open. */
  static open(url: string, on: ReaderEvents, now: () => number): Promise<WsReader> {
    const r = new WsReader(on);
    const u = new URL(url);
    const key = randomBytes(16).toString('base64');
    const accept = createHash('sha1').update(key + GUID).digest('base64');
    return new Promise((resolve, reject) => {
      let head = '';
      let parser: FrameParser | undefined;
      const socket = connect({
        host: u.hostname,
        port: Number(u.port),
        onread: {
          buffer: READ_BUFFER,
          callback: (n: number, buf: Uint8Array): boolean => {
            r.readAt = now();
            const b = buf as Buffer;
            if (parser) {
              parser.feed(b, 0, n);
              return true;
            }
            // the handshake response, then (in the same read, perhaps) the first frames
            head += b.toString('latin1', 0, n);
            const endAt = head.indexOf('\r\n\r\n');
            if (endAt < 0) return true;
            const lines = head.slice(0, endAt).split('\r\n');
            if (!/^HTTP\/1\.1 101 /.test(lines[0]) || !lines.some((l) => l.toLowerCase() === `sec-websocket-accept: ${accept.toLowerCase()}`)) {
              socket.destroy();
              reject(new Error(`WebSocket handshake refused: ${lines[0]}`));
              return false;
            }
            parser = new FrameParser((op, payload) => r.frame(op, payload));
            resolve(r);
            const rest = head.length - (endAt + 4); // the response is ASCII: characters are bytes
            if (rest > 0) parser.feed(b, n - rest, n);
            return true;
          },
        },
      });
      r.socket = socket;
      socket.setNoDelay(true);
      socket.on('connect', () => {
        socket.write(
          `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
      });
      socket.on('error', (err) => {
        reject(err);
        socket.destroy();
      });
      socket.on('close', () => {
        if (r.closed) return;
        r.closed = true;
        on.close();
      });
    });
  }

  private frame(opcode: number, payload: Buffer): void {
    if (opcode === OP_TEXT || opcode === OP_BINARY) this.on.message(payload, this.readAt);
    else if (opcode === OP_PING) this.socket.write(clientFrame(0xa, Buffer.from(payload)));
    else if (opcode === OP_CLOSE) {
      this.socket.end(clientFrame(OP_CLOSE, Buffer.from(payload.subarray(0, 2))));
    }
  }

  send(text: string): void {
    this.socket.write(clientFrame(OP_TEXT, Buffer.from(text)));
  }

  /** stops reading the socket: the server's writes pile up in its buffers, as with a stuck peer */
  pause(): void {
    this.socket.pause();
  }
}
