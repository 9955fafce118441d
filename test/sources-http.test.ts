// The http source end to end: POST /api/events as one event, a JSON array and NDJSON; exact metrics out.
import { afterEach, describe, expect, it } from 'vitest';
import { knownRuns } from './helpers/events.js';
import { startApp, type TestApp } from './helpers/app.js';
import { value } from './helpers/metrics.js';

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe('http source', () => {
  it('turns NDJSON, arrays and single events into exact counters and histograms', async () => {
    t = await startApp({});
    const set = knownRuns('http', 9);
    const [first, ...rest] = set.events;
    const half = Math.floor(rest.length / 2);

    let res = await fetch(`${t.url}/api/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(first) });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: 1, rejected: 0, errors: [] });

    res = await fetch(`${t.url}/api/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(rest.slice(0, half)) });
    expect((await res.json()).accepted).toBe(half);

    const ndjson = rest.slice(half).map((e) => JSON.stringify(e)).join('\r\n') + '\n\n';
    res = await fetch(`${t.url}/api/events`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: ndjson });
    expect((await res.json()).accepted).toBe(rest.length - half);

    const text = await t.scrape();
    expect(value(text, 'workflow_events_total')).toBe(set.events.length);
    expect(value(text, 'workflow_events_total', { source: 'orchestrator', type: 'workflow.started' })).toBe(9);
    expect(value(text, 'workflow_runs_started_total', { workflow_type: 'feature-dev' })).toBe(9);
    expect(value(text, 'workflow_runs_finished_total', { workflow_type: 'feature-dev', outcome: 'completed' })).toBe(set.completed);
    expect(value(text, 'workflow_runs_finished_total', { workflow_type: 'feature-dev', outcome: 'failed' })).toBe(set.failed);
    expect(value(text, 'workflow_run_duration_seconds_count')).toBe(9);
    expect(value(text, 'workflow_run_duration_seconds_sum')).toBe(set.runSecondsSum);
    // completed runs took 10 s, failed ones 4 s: the 5 s bucket holds exactly the failed ones
    expect(value(text, 'workflow_run_duration_seconds_bucket', { outcome: 'failed', le: '5' })).toBe(set.failed);
    expect(value(text, 'workflow_run_duration_seconds_bucket', { outcome: 'completed', le: '5' })).toBe(0);
    expect(value(text, 'workflow_tasks_total', { agent: 'coder', outcome: 'completed' })).toBe(9);
    expect(value(text, 'workflow_task_duration_seconds_sum', { agent: 'coder' })).toBe(set.taskSecondsSum);
    expect(value(text, 'workflow_stage_duration_seconds_count', { workflow_type: 'feature-dev', stage: 'coding', outcome: 'completed' })).toBe(set.completed);
    expect(value(text, 'workflow_stage_duration_seconds_sum', { stage: 'coding' })).toBe(9 * 3);
    expect(value(text, 'workflow_runs_active')).toBe(0);
    expect(value(text, 'workflow_exporter_events_received_total', { source: 'http' })).toBe(set.events.length);
    expect(value(text, 'workflow_exporter_events_rejected_total')).toBe(0);
  });

  it('counts the active run while it is open, by state', async () => {
    t = await startApp({});
    const now = new Date().toISOString();
    const wf = { id: 'wf-open', type: 'bug-fix' };
    await t.app.server.inject({ method: 'POST', url: '/api/events', payload: [
      { id: 'a', type: 'workflow.started', time: now, source: 's', workflow: wf },
      { id: 'b', type: 'workflow.paused', time: now, source: 's', workflow: wf },
    ] });
    let text = await t.scrape();
    expect(value(text, 'workflow_runs_active', { workflow_type: 'bug-fix', state: 'paused' })).toBe(1);
    expect(value(text, 'workflow_runs_active', { workflow_type: 'bug-fix', state: 'running' })).toBe(0);
    // the end event does not know its workflow type: the one recorded at start labels it
    await t.app.server.inject({ method: 'POST', url: '/api/events', payload: { id: 'c', type: 'workflow.cancelled', time: now, source: 's', workflow: { id: wf.id, type: 'unknown' } } });
    text = await t.scrape();
    expect(value(text, 'workflow_runs_active', { workflow_type: 'bug-fix' })).toBe(0);
    expect(value(text, 'workflow_runs_finished_total', { workflow_type: 'bug-fix', outcome: 'cancelled' })).toBe(1);
  });

  it('rejects bad input with counted reasons, keeps the good events of the batch, and dead-letters the rest', async () => {
    t = await startApp({});
    const now = new Date().toISOString();
    const lines = [
      JSON.stringify({ id: 'ok1', type: 'agent.heartbeat', time: now, source: 's', agent: 'coder' }),
      '{"id": "trunc',
      JSON.stringify({ id: 'bad-type', type: 'no spaces allowed', time: now, source: 's' }),
      JSON.stringify({ specversion: '0.3', id: 'ce', source: 's', type: 'task.completed' }),
      '42',
      JSON.stringify({ id: 'old', type: 'x.y', time: '2001-01-01T00:00:00Z', source: 's' }),
    ];
    const res = await t.app.server.inject({ method: 'POST', url: '/api/events', headers: { 'content-type': 'application/x-ndjson' }, payload: lines.join('\n') });
    expect(res.statusCode).toBe(202);
    const body = res.json();
    expect(body.accepted).toBe(1);
    expect(body.rejected).toBe(5);
    expect(body.errors.map((e: { index: number; reason: string }) => [e.index, e.reason])).toEqual([
      [1, 'invalid_json'],
      [2, 'invalid_event'],
      [3, 'invalid_cloudevent'],
      [4, 'not_an_object'],
      [5, 'invalid_timestamp'],
    ]);

    // a body with invalid UTF-8 and a body that is not JSON at all: 400 and counted
    let r = await t.app.server.inject({ method: 'POST', url: '/api/events', headers: { 'content-type': 'application/json' }, payload: Buffer.from([0x7b, 0xc3, 0x28, 0x7d]) });
    expect(r.statusCode).toBe(400);
    expect(r.json().errors[0].reason).toBe('invalid_encoding');
    r = await t.app.server.inject({ method: 'POST', url: '/api/events', headers: { 'content-type': 'application/json' }, payload: 'not json' });
    expect(r.statusCode).toBe(400);

    const text = await t.scrape();
    const rej = (reason: string) => value(text, 'workflow_exporter_events_rejected_total', { source: 'http', reason });
    expect([rej('invalid_json'), rej('invalid_event'), rej('invalid_cloudevent'), rej('not_an_object'), rej('invalid_timestamp'), rej('invalid_encoding')]).toEqual([2, 1, 1, 1, 1, 1]);
    expect(value(text, 'workflow_events_total')).toBe(1);

    const dl = (await t.app.server.inject({ method: 'GET', url: '/api/dead-letters?limit=10' })).json();
    expect(dl.total).toBe(7);
    expect(dl.items[0].reason).toBe('invalid_json');
    expect(dl.items[0].raw).toBe('not json');
    expect(dl.items.find((d: { reason: string }) => d.reason === 'invalid_cloudevent').error).toContain('unsupported specversion "0.3"');
    expect((await t.app.server.inject({ method: 'GET', url: '/api/dead-letters?reason=bogus' })).statusCode).toBe(400);
  });

  it('refuses bodies over the limit with 413 and counts them', async () => {
    t = await startApp({ sources: [{ kind: 'http', bodyLimitBytes: 2048, maxEventsPerRequest: 3 }] });
    let r = await t.app.server.inject({ method: 'POST', url: '/api/events', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ pad: 'x'.repeat(4096) }) });
    expect(r.statusCode).toBe(413);
    r = await t.app.server.inject({ method: 'POST', url: '/api/events', headers: { 'content-type': 'application/x-ndjson' }, payload: '{}\n{}\n{}\n{}\n' });
    expect(r.statusCode).toBe(413);
    const text = await t.scrape();
    expect(value(text, 'workflow_exporter_events_rejected_total', { reason: 'too_large' })).toBe(5);
  });

  it('refuses a content type it does not read with 415, counted and dead-lettered (issue 14 item 10)', async () => {
    t = await startApp({});
    const event = JSON.stringify({ id: 'x', type: 'task.started', time: new Date().toISOString(), source: 's' });
    const post = (headers: Record<string, string>) => t!.app.server.inject({ method: 'POST', url: '/api/events', headers, payload: event });
    const xml = await post({ 'content-type': 'application/xml' });
    expect.soft(xml.statusCode).toBe(415);
    expect.soft(xml.json()).toEqual({ error: 'unsupported_media_type', message: 'send JSON (application/json, text/plain, application/cloudevents+json) or NDJSON (application/x-ndjson), not application/xml' });
    expect.soft((await post({ 'content-type': 'application/x-www-form-urlencoded' })).statusCode).toBe(415);
    expect.soft((await post({ 'content-type': 'application/json' })).statusCode).toBe(202);
    const text = await t.scrape();
    expect.soft(value(text, 'workflow_exporter_events_rejected_total', { source: 'http', reason: 'unsupported_media_type' })).toBe(2);
    expect.soft(value(text, 'workflow_exporter_events_received_total', { source: 'http' })).toBe(3);
    const dl = (await t.app.server.inject({ url: '/api/dead-letters?limit=5&reason=unsupported_media_type' })).json() as { items: { error: string }[] };
    expect.soft(dl.items.map((i) => i.error)).toEqual(['content type application/x-www-form-urlencoded is not read by ingest', 'content type application/xml is not read by ingest']);
  });

  it('accepts CloudEvents 1.0 structured JSON', async () => {
    t = await startApp({});
    const r = await t.app.server.inject({
      method: 'POST',
      url: '/api/events',
      headers: { 'content-type': 'application/cloudevents+json' },
      payload: JSON.stringify({ specversion: '1.0', id: 'ce-1', source: 'urn:orchestrator', type: 'com.acme.workflow.task.completed', time: new Date().toISOString(), data: { agent: 'coder', duration_ms: 1500, task: { id: 't' } } }),
    });
    expect(r.statusCode).toBe(202);
    const text = await t.scrape();
    expect(value(text, 'workflow_tasks_total', { agent: 'coder', outcome: 'completed' })).toBe(1);
    expect(value(text, 'workflow_task_duration_seconds_sum', { agent: 'coder' })).toBe(1.5);
    expect(value(text, 'workflow_events_total', { source: 'urn:orchestrator', type: 'task.completed' })).toBe(1);
  });
});
