// Live-tail clients (their own process): N WebSocket clients on /ws/events, a quarter unfiltered and
// the rest filtered by workflow type; `stuck` of them subscribe and then never read their socket.
// Readers scan each frame's bytes for "sent_ms": stamps (no JSON.parse, so the clients stay cheap;
// stamps.ts) and record publish->receive latency into a fixed histogram while the harness says so.
// The connections are ws-reader.ts's minimal WebSocket client: this process shares the machine with
// the exporter it measures, and the `ws` library's framing and garbage were most of its CPU.
import { scanStamps } from './stamps.js';
import { WsReader } from './ws-reader.js';

export interface TailClientsOptions {
  url: string;
  clients: number;
  stuck: number;
  workflowTypes: string[];
}

export interface TailClientsResult {
  readers: number;
  stuck: number;
  /** events received by readers while recording */
  delivered: number;
  /** events the server said it dropped for readers / for stuck clients while recording */
  droppedReaders: number;
  droppedStuck: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  latencyMaxMs: number;
  /** per reader: events since subscribing (for the completeness check) */
  perClient: { filter: string; events: number }[];
  closed: number;
}

const opts = JSON.parse(process.argv[2]) as TailClientsOptions;
const BUCKET_MS = 0.05;
const hist = new Uint32Array(400_000); // 0.05 ms buckets up to 20 s; the last one is overflow
let recording = false;
let delivered = 0;
let droppedReaders = 0;
let droppedStuck = 0;
let maxMs = 0;
let closed = 0;
const now = () => performance.timeOrigin + performance.now();

interface Client {
  filter: string;
  events: number;
  stuck: boolean;
  subscribed: boolean;
}
const clients: Client[] = [];

/** the receive time of the frame being scanned */
let frameAt = 0;

function record(sentMs: number): void {
  const ms = frameAt - sentMs;
  if (ms > maxMs) maxMs = ms;
  hist[Math.min(hist.length - 1, Math.max(0, Math.floor(ms / BUCKET_MS)))]++;
}

function onFrame(c: Client, data: Buffer, at: number): void {
  // {"type":"events"... | {"type":"dropped","count":N} | {"type":"snapshot"... | {"type":"subscribed"...
  const kind = data[9];
  if (kind === 0x73 /* s: subscribed or snapshot */) {
    if (data[10] === 0x75 /* u */) c.subscribed = true;
    return;
  }
  if (kind === 0x64 /* d: dropped */) {
    const m = /"count":(\d+)/.exec(data.toString('latin1', 0, 64));
    if (recording && m) {
      if (c.stuck) droppedStuck += Number(m[1]);
      else droppedReaders += Number(m[1]);
    }
    return;
  }
  if (kind !== 0x65 /* e: events */) return;
  frameAt = at;
  const n = scanStamps(data, recording ? record : undefined);
  c.events += n;
  if (recording) delivered += n;
}

function percentile(p: number): number {
  let total = 0;
  for (let i = 0; i < hist.length; i++) total += hist[i];
  if (total === 0) return NaN;
  const want = Math.ceil((p / 100) * total);
  let acc = 0;
  for (let i = 0; i < hist.length; i++) {
    acc += hist[i];
    if (acc >= want) return (i + 0.5) * BUCKET_MS;
  }
  return NaN;
}

function connect(i: number): Promise<void> {
  const stuck = i >= opts.clients - opts.stuck;
  const types = opts.workflowTypes;
  // a quarter see everything; the others one workflow type each, evenly
  const filter = i % 4 === 0 ? {} : { workflow_types: [types[(i >> 2) % types.length]] };
  const c: Client = { filter: JSON.stringify(filter), events: 0, stuck, subscribed: false };
  clients.push(c);
  let reader: WsReader | undefined;
  return new Promise((resolve, reject) => {
    WsReader.open(
      opts.url,
      {
        message(data, at) {
          onFrame(c, data, at);
          if (!c.subscribed) return;
          if (stuck) reader?.pause(); // from here on, this one never reads
          resolve();
        },
        close() {
          closed++;
          reject(new Error('closed before subscribing'));
        },
      },
      now,
    ).then((r) => {
      reader = r;
      r.send(JSON.stringify({ type: 'subscribe', filter, replay: 0 }));
    }, reject);
  });
}

async function main(): Promise<void> {
  // connect in small waves: a thousand handshakes at once would measure the accept queue
  for (let i = 0; i < opts.clients; i += 50) {
    await Promise.all(Array.from({ length: Math.min(50, opts.clients - i) }, (_, k) => connect(i + k)));
  }
  process.send?.({ ready: clients.length });
  process.on('message', (m: { cmd?: string }) => {
    if (m.cmd === 'start') {
      hist.fill(0);
      delivered = droppedReaders = droppedStuck = maxMs = 0;
      recording = true;
    } else if (m.cmd === 'stop') {
      recording = false;
      const result: TailClientsResult = {
        readers: clients.filter((c) => !c.stuck).length,
        stuck: opts.stuck,
        delivered,
        droppedReaders,
        droppedStuck,
        latencyP50Ms: percentile(50),
        latencyP99Ms: percentile(99),
        latencyMaxMs: maxMs,
        perClient: clients.filter((c) => !c.stuck).map((c) => ({ filter: c.filter, events: c.events })),
        closed,
      };
      process.send?.({ result });
    }
  });
}

main().catch((err) => process.send?.({ failed: String((err as Error).stack ?? err) }, () => process.exit(1)));
