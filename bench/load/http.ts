// HTTP load generator (its own process): POSTs NDJSON bodies of N events over keep-alive connections,
// either as fast as the server answers (closed loop, `concurrency` requests in flight) or at a fixed
// event rate; tells the harness over IPC when its measured window starts and ends.
import { Agent } from 'node:http';
import { requestText, type TextResponse } from '../lib/http.js';
import { ndjsonTemplate } from '../lib/events.js';
import { otlpTemplate } from '../lib/otlp.js';
import { machineIdleSeconds } from '../lib/proc.js';
import { percentile, sortNumbers } from '../lib/stats.js';

export interface HttpLoadOptions {
  url: string;
  perBody: number;
  concurrency: number;
  warmupS: number;
  measureS: number;
  /** events per second; 0 = as fast as the server answers */
  rate?: number;
  contentType?: string;
  /** per-body sequence numbers start here, so every run sends fresh run ids */
  seqBase: number;
  /** stamp each event's attributes.sent_ms with the send time (tail latency) */
  stamp?: boolean;
  /** OTLP/HTTP protobuf bodies of perBody spans (bench/lib/otlp.ts) instead of NDJSON events */
  otlp?: boolean;
}

export interface HttpLoadResult {
  /** events accepted in the measured window */
  events: number;
  /** events accepted over the whole run, warm-up included */
  totalEvents: number;
  requests: number;
  errors: number;
  seconds: number;
  eventsPerSec: number;
  latencyP50Ms: number;
  latencyP99Ms: number;
  /** this generator's own CPU over the measured window, % of one core */
  generatorCpuPct: number;
  /** the whole machine's idle CPU over the measured window, in cores (Linux /proc/stat; NaN elsewhere) */
  idleCores: number;
  firstError?: string;
}

const opts = JSON.parse(process.argv[2]) as HttpLoadOptions;
const url = new URL(opts.url);
const agent = new Agent({ keepAlive: true, maxSockets: opts.concurrency });
const template = ndjsonTemplate(opts.perBody, new Date().toISOString(), opts.stamp === true);
const otlp = opts.otlp ? await otlpTemplate(opts.perBody, Date.now() - 120_000) : undefined;
const ct = opts.otlp ? 'application/x-protobuf' : (opts.contentType ?? 'application/x-ndjson');
let seq = opts.seqBase;

function body(): string | Buffer {
  if (otlp) return otlp.render(seq++);
  const b = template.render(seq++);
  if (!opts.stamp) return b;
  // the tail scenario needs the send time inside each event; one replace per body keeps it cheap
  return b.replaceAll('"sent_ms":0', `"sent_ms":${performance.timeOrigin + performance.now()}`);
}

function post(data: string | Buffer): Promise<TextResponse> {
  return requestText(agent, url, 'POST', { 'content-type': ct, 'content-length': Buffer.byteLength(data) }, data);
}

let measuring = false;
let stopAt = 0;
let events = 0;
let totalEvents = 0;
let requests = 0;
let errors = 0;
let firstError: string | undefined;
const latencies: number[] = [];

async function one(): Promise<void> {
  const data = body();
  const t0 = performance.now();
  try {
    const res = await post(data);
    const ms = performance.now() - t0;
    if (res.status >= 200 && res.status < 300) {
      // count what the server says it accepted: a body dropped as duplicates must not count; an
      // OTLP answer is empty when every span was taken (partial_success otherwise)
      const accepted = otlp ? (res.text.length === 0 ? opts.perBody : 0) : ((JSON.parse(res.text) as { accepted?: number }).accepted ?? 0);
      if (accepted !== opts.perBody) {
        errors++;
        firstError ??= `accepted ${accepted} of ${opts.perBody}: ${res.text.slice(0, 200)}`;
      }
      totalEvents += accepted;
      if (measuring) {
        events += accepted;
        requests++;
        latencies.push(ms);
      }
    } else {
      errors++;
      firstError ??= `HTTP ${res.status}: ${res.text.slice(0, 200)}`;
    }
  } catch (err) {
    errors++;
    firstError ??= String(err);
  }
}

async function closedLoop(): Promise<void> {
  const worker = async () => {
    while (performance.now() < stopAt) await one();
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
}

async function openLoop(rate: number): Promise<void> {
  // bodies leave on a schedule; a late one is sent at once (no coordinated omission on our side)
  const interval = (1000 * opts.perBody) / rate;
  let next = performance.now();
  const inflight = new Set<Promise<void>>();
  while (performance.now() < stopAt) {
    const wait = next - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const p = one().finally(() => inflight.delete(p));
    inflight.add(p);
    next += interval;
  }
  await Promise.all(inflight);
}

async function main(): Promise<void> {
  const run = opts.rate ? () => openLoop(opts.rate!) : closedLoop;
  stopAt = performance.now() + opts.warmupS * 1000;
  if (opts.warmupS > 0) await run();
  process.send?.({ phase: 'measure-start' });
  measuring = true;
  errors = 0;
  firstError = undefined;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const idle0 = machineIdleSeconds();
  stopAt = t0 + opts.measureS * 1000;
  await run();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const idleCores = (machineIdleSeconds() - idle0) / seconds;
  measuring = false;
  process.send?.({ phase: 'measure-end' });
  const sorted = sortNumbers(latencies);
  const result: HttpLoadResult = {
    events,
    totalEvents,
    requests,
    errors,
    seconds,
    eventsPerSec: events / seconds,
    latencyP50Ms: percentile(sorted, 50),
    latencyP99Ms: percentile(sorted, 99),
    generatorCpuPct: (cpu.user + cpu.system) / 1e4 / seconds,
    idleCores,
    firstError,
  };
  process.send?.({ result }, () => process.exit(0));
}

main().catch((err) => {
  process.send?.({ failed: String(err) }, () => process.exit(1));
});
