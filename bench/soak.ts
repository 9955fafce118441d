// npm run soak: demo traffic at a steady rate into a real exporter process for a long time, with live-tail
// clients connecting and leaving; RSS, heap, event-loop lag and open file descriptors sampled to a CSV.
//   npm run soak -- --duration 1h [--rate 200] [--clients 50] [--interval 10] [--warmup 11m] [--out FILE]
import { mkdtempSync, readdirSync, rmSync, writeFileSync, appendFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { parsePrometheusText } from '../src/util/exposition.js';
import { freePort, rssMiB, sleep, start, stop, until } from './lib/proc.js';

// run from bench/.build/bench/soak.js
const REPO = resolve(import.meta.dirname, '..', '..', '..');

/** "90", "90s", "10m", "1h" to seconds. */
export function seconds(v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(s|m|h)?$/.exec(v.trim());
  if (!m) throw new Error(`--duration ${JSON.stringify(v)}: use seconds or a unit, e.g. 600, 10m, 1h`);
  return Number(m[1]) * (m[2] === 'h' ? 3600 : m[2] === 'm' ? 60 : 1);
}

const { values } = parseArgs({
  options: {
    duration: { type: 'string', default: '1h' },
    rate: { type: 'string', default: '200' },
    clients: { type: 'string', default: '50' },
    interval: { type: 'string', default: '10' },
    warmup: { type: 'string' },
    out: { type: 'string' },
  },
});
const DURATION_S = seconds(values.duration!);
const RATE = Number(values.rate);
const CLIENTS = Number(values.clients);
const INTERVAL_S = Number(values.interval);
// JIT, the history ring, the window stats and the dedupe window (accounting.dedupeWindowSeconds, 600 s
// by default: ids are kept that long) fill up first; growth before that is filling, not leaking
const WARMUP_S = values.warmup ? seconds(values.warmup) : Math.max(660, DURATION_S * 0.1);
const CLIENT_LIFE_S = [5, 60] as const; // each tail client stays this long (uniform), then a new one takes its place
const FILTERS = [{}, { types: ['task.*'] }, { types: ['workflow.*'] }, { priorities: ['high', 'critical'] }, { q: 'fail' }];
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const OUT = resolve(values.out ?? join(REPO, 'bench', 'results', `soak-${stamp}.csv`));

interface Sample {
  t_s: number;
  rss_mib: number;
  heap_used_mib: number;
  lag_p99_ms: number;
  open_fds: number;
  tail_clients: number;
  events_total: number;
  client_events: number;
  client_connects: number;
  client_dropped_notices: number;
}

const tally = { events: 0, connects: 0, dropped: 0, errors: 0 };

/** One tail client for a random lifetime, then a successor; runs until `end`. */
async function clientSlot(url: string, end: number, seed: number): Promise<void> {
  let n = seed;
  while (Date.now() < end) {
    const life = (CLIENT_LIFE_S[0] + Math.random() * (CLIENT_LIFE_S[1] - CLIENT_LIFE_S[0])) * 1000;
    await new Promise<void>((done) => {
      const ws = new WebSocket(`${url.replace('http', 'ws')}/ws/events`);
      const timer = setTimeout(() => ws.close(1000), Math.min(life, Math.max(0, end - Date.now())));
      ws.on('open', () => {
        tally.connects++;
        ws.send(JSON.stringify({ type: 'subscribe', filter: FILTERS[n++ % FILTERS.length], replay: 100 }));
      });
      ws.on('message', (d) => {
        const m = JSON.parse(String(d)) as { type: string; events?: unknown[] };
        if (m.type === 'events') tally.events += m.events?.length ?? 0;
        else if (m.type === 'dropped') tally.dropped++;
      });
      ws.on('error', () => tally.errors++);
      ws.on('close', () => {
        clearTimeout(timer);
        done();
      });
    });
  }
}

function metric(text: string, name: string): number {
  let sum = 0;
  for (const s of parsePrometheusText(text)) if (s.name === name) sum += s.value;
  return sum;
}

/** Least-squares slope of y over x. */
function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return NaN;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return num / den;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'wfx-soak-'));
  const config = join(dir, 'config.yaml');
  writeFileSync(config, `log: {level: warn}\nsources:\n  - {kind: demo, rate: ${RATE}, seed: 7}\ntail: {maxClients: ${CLIENTS * 2}}\n`);
  const port = await freePort();
  const log: string[] = [];
  const child = start(process.execPath, [join(REPO, 'dist', 'cli.js'), 'serve', '--config', config, '--port', String(port), '--host', '127.0.0.1'], {
    name: 'exporter',
    cwd: REPO,
    logTo: log,
  });
  const url = `http://127.0.0.1:${port}`;
  await until('exporter ready', async () => ((await fetch(`${url}/readyz`).catch(() => undefined))?.ok ? true : undefined), 30_000, 100);
  const pid = child.pid!;
  process.stderr.write(`soak: ${DURATION_S} s, ${RATE} events/s, ${CLIENTS} tail clients, sample every ${INTERVAL_S} s -> ${OUT}\n`);

  mkdirSync(dirname(OUT), { recursive: true });
  const columns: (keyof Sample)[] = ['t_s', 'rss_mib', 'heap_used_mib', 'lag_p99_ms', 'open_fds', 'tail_clients', 'events_total', 'client_events', 'client_connects', 'client_dropped_notices'];
  writeFileSync(OUT, `${columns.join(',')}\n`);

  const t0 = Date.now();
  const end = t0 + DURATION_S * 1000;
  const slots = Array.from({ length: CLIENTS }, (_, i) => clientSlot(url, end, i));
  const samples: Sample[] = [];
  try {
    for (let k = 1; Date.now() < end; k++) {
      await sleep(Math.max(0, t0 + k * INTERVAL_S * 1000 - Date.now()));
      if (child.exitCode !== null) throw new Error(`the exporter exited (${child.exitCode}):\n${log.join('').slice(-3000)}`);
      const text = await (await fetch(`${url}/metrics`)).text();
      const s: Sample = {
        t_s: Math.round((Date.now() - t0) / 1000),
        rss_mib: Math.round(rssMiB(pid) * 10) / 10,
        heap_used_mib: Math.round((metric(text, 'nodejs_heap_size_used_bytes') / 1048576) * 10) / 10,
        lag_p99_ms: Math.round(metric(text, 'nodejs_eventloop_lag_p99_seconds') * 1e4) / 10,
        open_fds: readdirSync(`/proc/${pid}/fd`).length,
        tail_clients: metric(text, 'workflow_exporter_tail_clients'),
        events_total: metric(text, 'workflow_events_total'),
        client_events: tally.events,
        client_connects: tally.connects,
        client_dropped_notices: tally.dropped,
      };
      samples.push(s);
      appendFileSync(OUT, `${columns.map((c) => s[c]).join(',')}\n`);
      process.stderr.write(`${s.t_s}s rss ${s.rss_mib} MiB heap ${s.heap_used_mib} MiB lag p99 ${s.lag_p99_ms} ms fds ${s.open_fds} clients ${s.tail_clients}\n`);
    }
  } finally {
    await Promise.race([Promise.all(slots), sleep(5000)]);
    await stop(child);
    rmSync(dir, { recursive: true, force: true });
  }

  const steady = samples.filter((s) => s.t_s >= WARMUP_S);
  const xs = steady.map((s) => s.t_s / 3600);
  const range = (k: keyof Sample) => {
    const v = steady.map((s) => s[k]);
    return { min: Math.min(...v), max: Math.max(...v), first: v[0], last: v.at(-1) };
  };
  const lags = steady.map((s) => s.lag_p99_ms).sort((a, b) => a - b);
  const summary = {
    durationS: DURATION_S,
    rate: RATE,
    clients: CLIENTS,
    warmupS: WARMUP_S,
    samples: samples.length,
    steadySamples: steady.length,
    rssMiB: { ...range('rss_mib'), slopeMiBPerHour: Math.round(slope(xs, steady.map((s) => s.rss_mib)) * 10) / 10 },
    heapUsedMiB: { ...range('heap_used_mib'), slopeMiBPerHour: Math.round(slope(xs, steady.map((s) => s.heap_used_mib)) * 10) / 10 },
    lagP99Ms: { median: lags[Math.floor(lags.length / 2)], max: lags.at(-1) },
    openFds: range('open_fds'),
    eventsCounted: samples.at(-1)?.events_total,
    tail: { connects: tally.connects, eventsDelivered: tally.events, droppedNotices: tally.dropped, clientErrors: tally.errors },
    csv: relative(REPO, OUT), // relative, so a committed summary names no machine's paths
  };
  writeFileSync(OUT.replace(/\.csv$/, '.json'), `${JSON.stringify(summary, null, 2)}\n`);
  process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
}

main().catch((err) => {
  process.stderr.write(`soak failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
