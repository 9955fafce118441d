// Hostile input: a corpus of malformed, oversized and malicious messages, generated extremes, and
// fast-check fuzzing. Each input is rejected or sanitized with a counted reason, the exposition stays
// valid for promtool, memory stays bounded and nothing crashes.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MemorySource } from '../src/sources/memory/memory.js';
import { startApp, type TestApp } from './helpers/app.js';
import { parsePrometheusText, value } from './helpers/metrics.js';

const CORPUS = join(import.meta.dirname, 'fixtures', 'hostile');

interface Case {
  file: string;
  contentType: string;
  status: number;
  expect: { rejected?: Record<string, number>; accepted?: Record<string, number>; anomalies?: Record<string, number> };
}

/** `promtool check metrics` over an exposition: its complaints, one per line (empty when clean). */
export function promtool(text: string): string[] {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (r.error) throw new Error(`promtool is not installed (apt-get install prometheus): ${r.error.message}`);
  const out = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.trim() !== '');
  if (r.status !== 0 && out.length === 0) out.push(`promtool exited ${r.status}`);
  return out;
}

/** Every counter the hostile tests account with, read from one scrape. */
function tally(text: string) {
  const by = (name: string, label: string) => {
    const m: Record<string, number> = {};
    for (const s of parsePrometheusText(text)) if (s.name === name) m[s.labels[label]] = (m[s.labels[label]] ?? 0) + s.value;
    return m;
  };
  return {
    received: value(text, 'workflow_exporter_events_received_total'),
    rejected: by('workflow_exporter_events_rejected_total', 'reason'),
    accepted: by('workflow_events_total', 'type'),
    anomalies: by('workflow_exporter_lifecycle_anomalies_total', 'kind'),
  };
}
type Tally = ReturnType<typeof tally>;

function delta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const d = (after[k] ?? 0) - (before[k] ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}
const sum = (m: Record<string, number>) => Object.values(m).reduce((a, b) => a + b, 0);

/**
 * The accounting identity: every message received is accepted (workflow_events_total), rejected with
 * a reason, or dropped as a duplicate id. Nothing disappears uncounted.
 */
function expectAccounted(before: Tally, after: Tally): void {
  const received = after.received - before.received;
  const accounted = sum(delta(before.rejected, after.rejected)) + sum(delta(before.accepted, after.accepted)) + (delta(before.anomalies, after.anomalies).duplicate_id ?? 0);
  expect(accounted).toBe(received);
}

describe('hostile input over HTTP (in-process exporter)', () => {
  let t: TestApp;
  const post = (payload: string | Buffer, contentType = 'application/json') =>
    t.app.server.inject({ method: 'POST', url: '/api/events', headers: { 'content-type': contentType }, payload });
  const counters = async () => tally(await t.scrape());

  beforeAll(async () => {
    t = await startApp({ http: true, metrics: { maxLabelValues: 500 } });
  });
  afterAll(() => t.close());

  const cases = JSON.parse(readFileSync(join(CORPUS, 'cases.json'), 'utf8')) as Case[];
  it.each(cases)('corpus $file: $status, counted by reason', async (c) => {
    const raw = readFileSync(join(CORPUS, c.file));
    const body = Buffer.from(raw.toString('latin1').replaceAll('__NOW__', new Date().toISOString()), 'latin1');
    const before = await counters();
    const res = await post(body, c.contentType);
    expect(res.statusCode).toBe(c.status);
    const after = await counters();
    expect(delta(before.rejected, after.rejected)).toEqual(c.expect.rejected ?? {});
    expect(delta(before.accepted, after.accepted)).toEqual(c.expect.accepted ?? {});
    expect(delta(before.anomalies, after.anomalies)).toEqual(c.expect.anomalies ?? {});
    expectAccounted(before, after);
  });

  it('prototype-pollution keys never reach Object.prototype', async () => {
    const probe = {} as Record<string, unknown>;
    expect(probe.polluted).toBeUndefined();
    expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false);
    const h = await t.app.server.inject({ method: 'GET', url: '/api/events?limit=1000' });
    const proto = (JSON.parse(h.body) as { events: { id: string; attributes?: Record<string, unknown> }[] }).events.find((e) => e.id === 'h-proto');
    expect(proto?.attributes).toEqual({ constructor: { prototype: { polluted: 'yes' } }, ok: 1 });
  });

  it('label values with quotes, backslashes, newlines and control characters round-trip through the exposition', async () => {
    const text = await t.scrape();
    expect(value(text, 'workflow_tasks_total', { agent: 'a"b\\c\nd', outcome: 'completed' })).toBe(1);
    expect(value(text, 'workflow_agent_last_seen_timestamp_seconds', { agent: 'tab\there\u0000nul' })).toBeGreaterThan(0);
    expect(promtool(text)).toEqual([]);
  });

  it('numbers past their schema bounds never reach a counter: the cost counter stays finite (issue 14 item 4)', async () => {
    const now = new Date().toISOString();
    const agent = { type: 'agent.response', time: now, source: 'hostile', agent: 'bounded-llm', model: 'bounded-model' };
    const huge = [{ id: 'h-bound-1', ...agent, cost_usd: 1.79e308 }, { id: 'h-bound-2', ...agent, cost_usd: 1.79e308, tokens_in: 1e308 }];
    const res = await post(huge.map((e) => JSON.stringify(e)).join('\n'), 'application/x-ndjson');
    expect(res.statusCode).toBe(400);
    expect(res.json().errors.map((e: { reason: string }) => e.reason)).toEqual(['out_of_range', 'out_of_range']);
    expect((await post(JSON.stringify({ id: 'h-bound-3', ...agent, cost_usd: 0.25, tokens_in: 1000 }))).statusCode).toBe(202);
    const text = await t.scrape();
    expect(value(text, 'workflow_agent_cost_usd_total', { agent: 'bounded-llm', model: 'bounded-model' })).toBe(0.25);
    expect(value(text, 'workflow_agent_tokens_total', { agent: 'bounded-llm', model: 'bounded-model', direction: 'in' })).toBe(1000);
  });

  it('a 10 MB body is refused with 413 and counted too_large', async () => {
    const before = await counters();
    const big = `{"id":"h-10mb","type":"task.started","time":"${new Date().toISOString()}","source":"hostile","attributes":{"pad":"${'x'.repeat(10 << 20)}"}}`;
    const res = await post(big);
    expect(res.statusCode).toBe(413);
    const after = await counters();
    expect(delta(before.rejected, after.rejected)).toEqual({ too_large: 1 });
    expectAccounted(before, after);
  });

  it('an array over maxEventsPerRequest is refused with 413, every element counted too_large', async () => {
    const before = await counters();
    const now = new Date().toISOString();
    const events = Array.from({ length: 10_001 }, (_, i) => ({ id: `h-arr-${i}`, type: 'task.started', time: now, source: 'hostile' }));
    const res = await post(JSON.stringify(events));
    expect(res.statusCode).toBe(413);
    const after = await counters();
    expect(delta(before.rejected, after.rejected)).toEqual({ too_large: 10_001 });
    expectAccounted(before, after);
  });

  it('huge arrays inside attributes: within maxMessageBytes accepted as data, past it refused too_large', async () => {
    const before = await counters();
    const event = (n: number) => JSON.stringify({ id: `h-bigattr-${n}`, type: 'task.started', time: new Date().toISOString(), source: 'hostile', attributes: { xs: new Array(n).fill(0) } });
    expect((await post(event(100_000))).statusCode).toBe(202); // ~200 kB
    expect((await post(event(200_000))).statusCode).toBe(400); // ~400 kB, over the 256 KiB default
    const after = await counters();
    expect(delta(before.accepted, after.accepted)).toEqual({ 'task.started': 1 });
    expect(delta(before.rejected, after.rejected)).toEqual({ too_large: 1 });
  });

  it('deep nesting: attributes, a nested body and a deeply nested array element are refused, counted, never a 500', async () => {
    const now = new Date().toISOString();
    const deepAttrs = `{"id":"h-deep","type":"task.started","time":"${now}","source":"hostile","attributes":${'{"a":'.repeat(40)}1${'}'.repeat(40)}}`;
    const deepArray = `[${'['.repeat(100_000)}${']'.repeat(100_000)}]`;
    // ~200 kB of nesting: within maxMessageBytes, so it reaches the depth check
    const deepObjectElement = `[{"id":"h-deep2","type":"task.started","time":"${now}","source":"hostile","attributes":${'{"a":'.repeat(40_000)}1${'}'.repeat(40_000)}}]`;
    const before = await counters();
    expect((await post(deepAttrs)).statusCode).toBe(400);
    expect((await post(deepArray)).statusCode).toBe(400);
    expect((await post(deepObjectElement)).statusCode).toBe(400);
    const after = await counters();
    expect(delta(before.rejected, after.rejected)).toEqual({ too_deep: 2, not_an_object: 1 });
    expectAccounted(before, after);
    // the dead letter of the array element keeps its own text, cut at deadLetters.maxRawBytes
    const dl = await t.app.server.inject({ method: 'GET', url: '/api/dead-letters?limit=5&reason=not_an_object' });
    expect(dl.statusCode).toBe(200);
    expect((JSON.parse(dl.body) as { items: { raw: string; truncated: boolean }[] }).items[0]).toMatchObject({ raw: '['.repeat(4096), truncated: true });
  });

  it('array elements are size-checked one by one like NDJSON lines: one over maxMessageBytes is refused, its neighbours counted', async () => {
    const now = new Date().toISOString();
    const small = (id: string) => ({ id, type: 'task.started', time: now, source: 'hostile' });
    const big = { ...small('h-arr-big'), attributes: { pad: 'x'.repeat(300 * 1024) } }; // ~300 kB: under the 1 MiB body limit, over 256 KiB per event
    const before = await counters();
    const res = await post(JSON.stringify([small('h-arr-ok1'), big, small('h-arr-ok2')]));
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ accepted: 2, rejected: 1, errors: [{ index: 1, reason: 'too_large' }] });
    const after = await counters();
    expect(delta(before.accepted, after.accepted)).toEqual({ 'task.started': 2 });
    expect(delta(before.rejected, after.rejected)).toEqual({ too_large: 1 });
    expectAccounted(before, after);
  });

  it('10 kB label values: over the schema limit refused, long ones truncated to maxLabelLength and counted', async () => {
    const now = new Date().toISOString();
    const before = await counters();
    const tenK = 'k'.repeat(10_000);
    expect((await post(JSON.stringify({ id: 'h-10k', type: 'task.started', time: now, source: 'hostile', agent: tenK }))).statusCode).toBe(400);
    const long = `long-${'w'.repeat(200)}`;
    expect((await post(JSON.stringify({ id: 'h-200', type: 'workflow.started', time: now, source: 'hostile', workflow: { id: 'wf-long', type: long } }))).statusCode).toBe(202);
    const text = await t.scrape();
    const after = tally(text);
    expect(delta(before.rejected, after.rejected)).toEqual({ invalid_event: 1 });
    expect(value(text, 'workflow_runs_started_total', { workflow_type: long.slice(0, 128) })).toBe(1);
    expect(value(text, 'workflow_exporter_label_overflow_total', { label: 'workflow_type', kind: 'truncated' })).toBeGreaterThanOrEqual(1);
    for (const s of parsePrometheusText(text)) for (const v of Object.values(s.labels)) expect(v.length).toBeLessThanOrEqual(128);
  });

  it('fuzz: arbitrary bytes as JSON and NDJSON bodies never cause a 5xx and every message is accounted for', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 512 }), fc.boolean(), async (bytes, ndjson) => {
        const before = await counters();
        const res = await post(Buffer.from(bytes), ndjson ? 'application/x-ndjson' : 'application/json');
        expect(res.statusCode).toBeLessThan(500);
        expectAccounted(before, await counters());
      }),
      { numRuns: 150, seed: 6 },
    );
  });

  it('fuzz: arbitrary JSON values and event-shaped records never cause a 5xx and are accounted for', async () => {
    const now = Date.now();
    const text = fc.string({ unit: 'grapheme', maxLength: 40 });
    const eventish = fc.record(
      {
        id: fc.oneof(text, fc.uuid()),
        type: fc.oneof(fc.constantFrom('workflow.started', 'workflow.completed', 'task.completed', 'agent.request', 'queue.depth'), text),
        time: fc.oneof(fc.integer({ min: now - 3_600_000, max: now }).map((ms) => new Date(ms).toISOString()), fc.double(), text),
        source: text,
        agent: text,
        stage: text,
        workflow: fc.record({ id: text, type: text }, { requiredKeys: [] }),
        duration_ms: fc.oneof(fc.double(), fc.integer(), text),
        queue: fc.record({ name: text, depth: fc.double() }),
        attributes: fc.dictionary(text, fc.jsonValue({ maxDepth: 3 })),
      },
      { requiredKeys: ['id', 'type', 'time', 'source'] },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(fc.oneof(fc.jsonValue({ maxDepth: 4 }), eventish), { minLength: 1, maxLength: 20 }), async (items) => {
        const before = await counters();
        const res = await post(JSON.stringify(items));
        expect(res.statusCode).toBeLessThan(500);
        expectAccounted(before, await counters());
      }),
      { numRuns: 150, seed: 6 },
    );
    expect(promtool(await t.scrape())).toEqual([]);
  });

  it('fuzz: any string as agent, stage, source or workflow type keeps the exposition valid and round-trips', async () => {
    const name = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 });
    let n = 0;
    await fc.assert(
      fc.asyncProperty(name, name, name, async (agent, stage, wfType) => {
        n++;
        const id = `fz-${n}`;
        const time = new Date().toISOString();
        const res = await post(
          JSON.stringify([
            { id: `${id}-s`, type: 'stage.started', time, source: 'fuzz', agent, stage, workflow: { id, type: wfType } },
            { id: `${id}-e`, type: 'stage.completed', time, source: 'fuzz', agent, stage, workflow: { id, type: wfType }, duration_ms: 5 },
          ]),
        );
        expect(res.statusCode).toBe(202);
        const text = await t.scrape();
        expect(value(text, 'workflow_agent_last_seen_timestamp_seconds', { agent })).toBeGreaterThan(0);
      }),
      { numRuns: 60, seed: 6 },
    );
    expect(promtool(await t.scrape())).toEqual([]);
  });
});

describe('a million distinct agent names (cardinality and memory)', () => {
  it('keeps at most maxLabelValues agent series, counts the rest as __overflow__, and memory stays bounded', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const t = await startApp({ http: false, sources: [{ kind: 'memory' }], metrics: { maxLabelValues: 500 } });
    try {
      const mem = t.app.source<MemorySource>('memory')!;
      const N = 1_000_000;
      const BATCH = 5000;
      const time = new Date().toISOString();
      const push = (from: number) =>
        mem.push(Array.from({ length: BATCH }, (_, i) => ({ id: `m-${from + i}`, type: 'agent.heartbeat', time, source: 'cardinality', agent: `agent-${from + i}` })));
      // warm-up: the bounded structures (label cap, dedupe window, tail history) fill up first
      for (let i = 0; i < 300_000; i += BATCH) await push(i);
      gc();
      const heapWarm = process.memoryUsage().heapUsed;
      for (let i = 300_000; i < N; i += BATCH) await push(i);
      gc();
      const grewMb = (process.memoryUsage().heapUsed - heapWarm) / 2 ** 20;
      const text = await t.scrape();
      const agents = new Set(parsePrometheusText(text).filter((s) => s.name === 'workflow_agent_last_seen_timestamp_seconds').map((s) => s.labels.agent));
      expect(agents.size).toBe(501); // 500 kept + __overflow__
      expect(agents.has('__overflow__')).toBe(true);
      expect(value(text, 'workflow_exporter_label_overflow_total', { label: 'agent', kind: 'cap' })).toBeGreaterThanOrEqual(N - 500);
      expect(value(text, 'workflow_events_total', { source: 'cardinality' })).toBe(N);
      expect(promtool(text)).toEqual([]);
      process.stdout.write(`HOSTILE-FIGURES ${JSON.stringify({ case: '1M distinct agents', heapGrowthAfterWarmupMb: Math.round(grewMb * 10) / 10, agentSeries: agents.size })}\n`);
      // 700,000 more distinct names after warm-up: unbounded label or map growth would be hundreds of MB
      expect(grewMb).toBeLessThan(32);
    } finally {
      await t.close();
    }
  }, 120_000);
});
