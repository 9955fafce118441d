// Scrape load (its own process): GET /metrics `count` times, one at a time, every `intervalMs`
// (0 = back to back), over one keep-alive connection or a new one each time; reports scrape times and the series count.
import { Agent } from 'node:http';
import { requestText, type TextResponse } from '../lib/http.js';
import { percentile, sortNumbers } from '../lib/stats.js';

export interface ScrapeOptions {
  url: string;
  count: number;
  warmup: number;
  intervalMs: number;
  /** a new connection per scrape (as after an idle keep-alive connection was closed), else one kept alive */
  fresh?: boolean;
}

export interface ScrapeResult {
  scrapes: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  series: number;
  bytes: number;
  errors: number;
}

const opts = JSON.parse(process.argv[2]) as ScrapeOptions;
const url = new URL(opts.url);
const agent = new Agent({ keepAlive: opts.fresh !== true, maxSockets: 1 });

function get(): Promise<TextResponse> {
  return requestText(agent, url, 'GET');
}

async function main(): Promise<void> {
  const times: number[] = [];
  let last = '';
  let errors = 0;
  for (let i = 0; i < opts.warmup + opts.count; i++) {
    const t0 = performance.now();
    const res = await get().catch(() => ({ status: 0, text: '' }));
    const ms = performance.now() - t0;
    if (res.status !== 200) errors++;
    if (i >= opts.warmup) times.push(ms);
    last = res.text;
    if (opts.intervalMs > 0) await new Promise((r) => setTimeout(r, Math.max(0, opts.intervalMs - ms)));
  }
  const sorted = sortNumbers(times);
  const series = last.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
  const result: ScrapeResult = { scrapes: times.length, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), maxMs: sorted[sorted.length - 1], series, bytes: Buffer.byteLength(last), errors };
  process.send?.({ result }, () => process.exit(0));
}

main().catch((err) => process.send?.({ failed: String(err) }, () => process.exit(1)));
