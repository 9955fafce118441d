// OpenTelemetry output against an OTLP/HTTP receiver started here (it decodes the exporters' JSON):
// the metric catalog with exact values, exponential histograms, batch spans with event ids, and no
// OpenTelemetry module loaded at all when the output is off.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { CanonicalEventInput } from '../src/events/schema.js';
import { startApp, waitFor, type TestApp } from './helpers/app.js';
import { natsUrl, redisUrl, uniqueName } from './helpers/brokers.js';

type AnyValue = { stringValue?: string; intValue?: number | string; doubleValue?: number; arrayValue?: { values?: AnyValue[] } };
type KV = { key: string; value: AnyValue };
interface Point {
  attributes?: KV[];
  asDouble?: number;
  asInt?: number | string;
  count?: number | string;
  sum?: number;
  bucketCounts?: (number | string)[];
  explicitBounds?: number[];
  scale?: number;
  zeroCount?: number | string;
  positive?: { offset?: number; bucketCounts?: (number | string)[] };
}
interface OtlpMetric {
  name: string;
  unit?: string;
  sum?: { dataPoints: Point[]; isMonotonic?: boolean; aggregationTemporality?: number };
  gauge?: { dataPoints: Point[] };
  histogram?: { dataPoints: Point[] };
  exponentialHistogram?: { dataPoints: Point[] };
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes?: KV[];
  events?: { name: string }[];
}

/** A minimal OTLP/HTTP receiver: keeps every JSON body posted to /v1/metrics and /v1/traces. */
class Receiver {
  readonly metricBodies: { resourceMetrics: { resource?: { attributes?: KV[] }; scopeMetrics: { metrics: OtlpMetric[] }[] }[] }[] = [];
  readonly traceBodies: { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] }[] = [];
  readonly contentTypes = new Set<string>();
  private server?: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.contentTypes.add(String(req.headers['content-type']));
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        if (req.url === '/v1/metrics') this.metricBodies.push(body);
        else if (req.url === '/v1/traces') this.traceBodies.push(body);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The metric `name` from the newest push that has it. */
  latest(name: string): OtlpMetric | undefined {
    for (let i = this.metricBodies.length - 1; i >= 0; i--) {
      for (const rm of this.metricBodies[i].resourceMetrics) for (const sm of rm.scopeMetrics) for (const m of sm.metrics) if (m.name === name) return m;
    }
    return undefined;
  }

  spans(): OtlpSpan[] {
    return this.traceBodies.flatMap((b) => b.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)));
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}

const str = (v: AnyValue | undefined): string | undefined => v?.stringValue;
const attr = (kvs: KV[] | undefined, key: string) => kvs?.find((a) => a.key === key)?.value;
const num = (v: number | string | undefined) => Number(v ?? 0);
function point(m: OtlpMetric | undefined, labels: Record<string, string>): Point | undefined {
  const pts = m?.sum?.dataPoints ?? m?.gauge?.dataPoints ?? m?.histogram?.dataPoints ?? m?.exponentialHistogram?.dataPoints ?? [];
  return pts.find((p) => Object.entries(labels).every(([k, v]) => str(attr(p.attributes, k)) === v));
}
const val = (p: Point | undefined) => (p?.asDouble !== undefined ? p.asDouble : num(p?.asInt));

let t: TestApp | undefined;
let rx: Receiver | undefined;
afterEach(async () => {
  await t?.close();
  await rx?.close();
  t = undefined;
  rx = undefined;
});

const iso = (ms: number) => new Date(ms).toISOString();
function runEvents(tag: string, now: number): CanonicalEventInput[] {
  const wf = (i: number) => ({ id: `${tag}-wf-${i}`, type: 'feature-dev' });
  const out: CanonicalEventInput[] = [];
  // three runs of 2 s, 4 s and 40 s
  [2, 4, 40].forEach((secs, i) => {
    out.push({ id: `${tag}-s${i}`, type: 'workflow.started', time: iso(now - 60_000), source: 'orchestrator', workflow: wf(i) });
    out.push({ id: `${tag}-e${i}`, type: 'workflow.completed', time: iso(now - 60_000 + secs * 1000), source: 'orchestrator', workflow: wf(i) });
  });
  out.push({ id: `${tag}-r`, type: 'agent.response', time: iso(now), source: 'gw', agent: 'coder', model: 'big', tokens_in: 100, tokens_out: 40, cost_usd: 0.25 });
  return out;
}

async function post(events: CanonicalEventInput[]) {
  const res = await t!.app.server.inject({ method: 'POST', url: '/api/events', payload: events });
  expect(res.statusCode).toBe(202);
}

describe('OTLP output', () => {
  it('pushes the metric catalog with the values /metrics shows, and a span per batch with its event ids', async () => {
    rx = new Receiver();
    await rx.start();
    t = await startApp({ otlp: { endpoint: rx.url, intervalMs: 200 } }, { listen: false });
    const events = runEvents('o', Date.now());
    await post(events);

    await waitFor('a metrics push with 7 events', () => num(val(point(rx!.latest('workflow_events_total'), {}))) > 0 && sumOf(rx!.latest('workflow_events_total')) === 7);
    expect([...rx.contentTypes]).toContain('application/json');
    const events_ = rx.latest('workflow_events_total')!;
    expect(events_.sum?.isMonotonic).toBe(true);
    expect(val(point(events_, { source: 'orchestrator', type: 'workflow.started' }))).toBe(3);
    expect(val(point(rx.latest('workflow_agent_tokens_total'), { agent: 'coder', model: 'big', direction: 'out' }))).toBe(40);
    expect(val(point(rx.latest('workflow_agent_cost_usd_total'), { agent: 'coder' }))).toBe(0.25);
    expect(rx.latest('workflow_exporter_build_info')?.gauge?.dataPoints.length).toBe(1);
    // process_* and nodejs_* stay on /metrics only
    expect(rx.latest('process_cpu_user_seconds_total')).toBeUndefined();

    const runs = rx.latest('workflow_run_duration_seconds')!;
    expect(runs.unit).toBe('s');
    const h = point(runs, { workflow_type: 'feature-dev', outcome: 'completed' })!;
    expect(num(h.count)).toBe(3);
    expect(h.sum).toBe(46);
    // explicit bounds are the catalog's run buckets; per-bucket (not cumulative) counts, +Inf last
    expect(h.explicitBounds).toEqual([1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200]);
    expect(h.bucketCounts!.map(num)).toEqual([0, 2, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);

    await t.app.otel!.flush();
    await waitFor('the batch span', () => rx!.spans().some((s) => s.name === 'batch http'));
    const batch = rx.spans().find((s) => s.name === 'batch http')!;
    const ids = attr(batch.attributes, 'wfx.event_ids')?.arrayValue?.values?.map((v) => v.stringValue);
    expect(ids).toEqual(events.map((e) => e.id));
    expect(num(attr(batch.attributes, 'wfx.accepted')?.intValue)).toBe(7);
    expect(num(attr(batch.attributes, 'messaging.batch.message_count')?.intValue)).toBe(7);
    expect(batch.events?.map((e) => e.name)).toEqual(['validated', 'released for ack']);
    const children = rx.spans().filter((s) => s.parentSpanId === batch.spanId && s.traceId === batch.traceId);
    expect(children.map((s) => s.name).sort()).toEqual(expect.arrayContaining(['sink metrics', 'sink semantics']));

    // the exporter's own record of its pushes
    const text = await t.scrape();
    expect(text).toMatch(/workflow_exporter_otlp_exports_total\{signal="metrics",result="ok"\} [1-9]/);
    expect(text).toMatch(/workflow_exporter_otlp_exports_total\{signal="traces",result="ok"\} [1-9]/);
  });

  it('sends exponential histograms when asked, with the exact count and sum', async () => {
    rx = new Receiver();
    await rx.start();
    t = await startApp({ otlp: { endpoint: rx.url, intervalMs: 200, histograms: 'exponential', traces: false } }, { listen: false });
    await post(runEvents('x', Date.now()));
    await waitFor('an exponential run histogram', () => {
      const p = point(rx!.latest('workflow_run_duration_seconds'), { outcome: 'completed' });
      return num(p?.count) === 3;
    });
    const m = rx.latest('workflow_run_duration_seconds')!;
    expect(m.histogram).toBeUndefined();
    const p = point(m, { workflow_type: 'feature-dev', outcome: 'completed' })!;
    expect(p.sum).toBe(46);
    expect(typeof p.scale).toBe('number');
    // every observation lands in a positive bucket: the bucket counts add up to the count
    expect((p.positive?.bucketCounts ?? []).map(num).reduce((a, b) => a + b, 0) + num(p.zeroCount)).toBe(3);
    // prom-client still has its fixed buckets for /metrics
    expect(await t.scrape()).toContain('workflow_run_duration_seconds_count{workflow_type="feature-dev",outcome="completed"} 3');
    // counters still come from the registry
    expect(sumOf(rx.latest('workflow_events_total'))).toBe(7);
    expect(rx.traceBodies).toHaveLength(0);
  });

  it('traces a NATS and a Redis batch from hand-over through the sinks to the ack', async () => {
    rx = new Receiver();
    await rx.start();
    const nurl = await natsUrl();
    const rurl = await redisUrl();
    const stream = uniqueName('WFX_OTEL');
    const subject = uniqueName('wfx-otel');
    const key = uniqueName('wfx-otel');
    const nc = await connect({ servers: nurl });
    const redis = new Redis(rurl);
    try {
      t = await startApp(
        {
          http: false,
          sources: [
            { kind: 'nats-jetstream', servers: [nurl], streams: [{ stream, subjects: [`${subject}.>`], durable: 'wfx' }], create: true },
            { kind: 'redis-streams', url: rurl, keys: [key], group: 'wfx', startId: '0' },
          ],
          otlp: { endpoint: rx.url, intervalMs: 60_000 },
        },
        { listen: false },
      );
      const now = new Date().toISOString();
      await jetstream(nc).publish(`${subject}.events`, JSON.stringify({ id: 'n-1', type: 'agent.heartbeat', time: now, source: 'o', agent: 'coder' }));
      await redis.xadd(key, '*', 'data', JSON.stringify({ id: 'r-1', type: 'agent.heartbeat', time: now, source: 'o', agent: 'coder' }));
      await waitFor('both batches acked and exported', async () => {
        await t!.app.otel!.flush();
        const names = rx!.spans().map((s) => s.name);
        return names.includes('batch nats') && names.includes('batch redis') && names.filter((n) => n === 'ack').length === 2;
      });
      for (const [source, id, system] of [['nats', 'n-1', 'nats-jetstream'], ['redis', 'r-1', 'redis-streams']] as const) {
        const batch = rx.spans().find((s) => s.name === `batch ${source}`)!;
        expect(attr(batch.attributes, 'wfx.event_ids')?.arrayValue?.values?.map((v) => v.stringValue)).toEqual([id]);
        const children = rx.spans().filter((s) => s.parentSpanId === batch.spanId);
        expect(children.map((s) => s.name).sort()).toEqual(['ack', 'sink metrics', 'sink semantics', 'sink tail']);
        const ack = children.find((s) => s.name === 'ack')!;
        expect(str(attr(ack.attributes, 'wfx.ack'))).toBe('acked');
        expect(str(attr(ack.attributes, 'messaging.system'))).toBe(system);
      }
      // the acks the spans report reached the brokers
      const jsm = await jetstreamManager(nc);
      await waitFor('nats ack', async () => (await jsm.consumers.info(stream, 'wfx')).num_ack_pending === 0);
      expect(((await redis.xpending(key, 'wfx')) as unknown[])[0]).toBe(0);
      await t.close();
      t = undefined;
      await jsm.streams.delete(stream);
    } finally {
      await redis.del(key);
      redis.disconnect();
      await nc.drain();
    }
  });

  it('traces no batch the sampler leaves out, and still pushes metrics', async () => {
    rx = new Receiver();
    await rx.start();
    t = await startApp({ otlp: { endpoint: rx.url, intervalMs: 60_000, traceSampleRatio: 0 } }, { listen: false });
    await post(runEvents('s', Date.now()));
    await t.app.otel!.flush();
    await waitFor('a metrics push', () => sumOf(rx!.latest('workflow_events_total')) === 7);
    expect(rx.spans()).toEqual([]);
  });

  it('loads no OpenTelemetry module when the output is off', async () => {
    // a module hook in a real process records every import that resolves to @opentelemetry
    const hook = `data:text/javascript,${encodeURIComponent(
      "import { register } from 'node:module'; register('data:text/javascript,' + encodeURIComponent(\"export async function resolve(s, c, n) { const r = await n(s, c); if (r.url.includes('@opentelemetry')) process.stderr.write('OTEL ' + r.url + '\\\\n'); return r; }\"));",
    )}`;
    const run = async (extra: string[]) => {
      const child = spawn('node', ['--import', hook, join(process.cwd(), 'dist', 'cli.js'), 'serve', '--port', '0', '--host', '127.0.0.1', '--no-demo', ...extra], {
        env: { ...process.env, WFX_LOG_LEVEL: 'info' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (out += c.toString()));
      try {
        await waitFor('the exporter to listen', () => out.includes('listening on'), 30_000);
      } finally {
        child.kill('SIGTERM');
        await once(child, 'exit');
      }
      return out;
    };
    const off = await run([]);
    expect(off).not.toContain('OTEL ');
    // the same probe sees the modules when the output is on, so its silence above means something
    rx = new Receiver();
    await rx.start();
    const on = await run(['--otlp-endpoint', rx.url]);
    expect(on).toContain('OTEL ');
    expect(on).toContain('OpenTelemetry output on');
  });
});

function sumOf(m: OtlpMetric | undefined): number {
  return (m?.sum?.dataPoints ?? []).reduce((a, p) => a + val(p), 0);
}
