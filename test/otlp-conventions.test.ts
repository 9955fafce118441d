// Recorded OTLP/JSON payloads of one multi-agent trace in each convention the mapping reads (GenAI
// semantic conventions current and 1.36, OpenInference, OpenLLMetry): each gives the same metrics.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeJson, otlpTypes } from '../src/sources/otlp/proto.js';
import { startApp, type TestApp } from './helpers/app.js';
import { value } from './helpers/metrics.js';
import { run } from './helpers/prometheus.js';
import { CONVENTIONS, PRICES, expectResearchMetrics } from './helpers/otlp.js';

const RECORDED_AT_NS = 1_700_000_000_000_000_000n; // the fixtures' trace starts here

/** A fixture with its times moved to a minute ago (event times older than 30 days are refused). */
function fixture(name: string): string {
  const shift = BigInt(Date.now() - 60_000) * 1_000_000n - RECORDED_AT_NS;
  const text = readFileSync(new URL(`./fixtures/otlp/${name}.json`, import.meta.url), 'utf8');
  return text.replace(/"(start|end)TimeUnixNano": "(\d+)"/g, (_m, k: string, ns: string) => `"${k}TimeUnixNano": "${BigInt(ns) + shift}"`);
}

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe.each(CONVENTIONS)('the %s fixture', (convention) => {
  it('as OTLP/JSON gives the exact metrics of the trace', async () => {
    t = await startApp({ sources: [{ kind: 'otlp', prices: PRICES }] });
    const r = await t.app.server.inject({ method: 'POST', url: '/v1/traces', payload: fixture(convention), headers: { 'content-type': 'application/json' } });
    expect(r.statusCode).toBe(200);
    expect(r.body).toBe('{}');
    const text = await t.scrape();
    expectResearchMetrics(text);
    // the GenAI metric names included
    const lint = await run('promtool', ['check', 'metrics'], { input: text });
    expect(lint.stdout + lint.stderr).toBe('');
  });

  it('as OTLP/protobuf gives the same', async () => {
    t = await startApp({ sources: [{ kind: 'otlp', prices: PRICES }] });
    const { request } = otlpTypes();
    const body = Buffer.from(request.encode(decodeJson(Buffer.from(fixture(convention))) as never).finish());
    const r = await t.app.server.inject({ method: 'POST', url: '/v1/traces', payload: body, headers: { 'content-type': 'application/x-protobuf' } });
    expect(r.statusCode).toBe(200);
    const text = await t.scrape();
    expectResearchMetrics(text);
    expect(value(text, 'workflow_events_total', { type: 'workflow.completed' })).toBe(1);
  });
});
