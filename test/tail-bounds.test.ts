// The tail's memory is bounded in bytes too: oversized attributes are replaced by their size in its copy.
import { afterEach, describe, expect, it } from 'vitest';
import { startApp, type TestApp } from './helpers/app.js';
import { value } from './helpers/metrics.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe('tail attribute bound', () => {
  it('keeps small attributes, replaces large ones by their byte size, and counts both events', async () => {
    t = await startApp({ tail: { maxAttributesBytes: 1024 } });
    const now = new Date().toISOString();
    const big = { blob: 'é'.repeat(10_000) };
    const r = await t.app.server.inject({ method: 'POST', url: '/api/events', payload: [
      { id: 'small', type: 'agent.heartbeat', time: now, source: 's', agent: 'a', attributes: { k: 'v' } },
      { id: 'big', type: 'agent.heartbeat', time: now, source: 's', agent: 'a', attributes: big },
    ] });
    expect(r.json().accepted).toBe(2);
    const body = (await t.app.server.inject({ url: '/api/events?limit=10' })).json();
    const byId = Object.fromEntries(body.events.map((e: { id: string }) => [e.id, e]));
    expect(byId.small.attributes).toEqual({ k: 'v' });
    expect(byId.big.attributes).toEqual({ __truncated_bytes: Buffer.byteLength(JSON.stringify(big)) });
    expect(value(await t.scrape(), 'workflow_events_total', { type: 'agent.heartbeat' })).toBe(2);
  });
});
