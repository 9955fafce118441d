// Durations derived from start/end pairs reach the tail: duration_ms filled and marked
// duration_derived in history, WebSocket, SSE and both export formats; a carried duration is kept
// as sent, and a redacted duration_ms stays redacted.
import { afterEach, describe, expect, test } from 'vitest';
import { startApp, waitFor, type TestApp } from './helpers/app.js';
import { SseReader } from './helpers/sse.js';
import { publish, TailTestClient, type TailEvent } from './helpers/tail.js';

const apps: TestApp[] = [];
const closers: (() => void)[] = [];
afterEach(async () => {
  for (const c of closers.splice(0)) c();
  for (const a of apps.splice(0)) await a.close();
});

const T0 = Date.now() - 60_000;
const at = (ms: number) => new Date(T0 + ms).toISOString();
const wf = { id: 'wf-d', type: 'derived' };
/** a run of 2.25 s with a stage of 1.5 s and a task of 0.125 s that none of the end events carries, and one task that carries 1200 ms */
const EVENTS = [
  { id: 'd-run-start', type: 'workflow.started', time: at(0), source: 'dur', workflow: wf },
  { id: 'd-stage-start', type: 'stage.started', time: at(250), source: 'dur', workflow: wf, stage: 'plan' },
  { id: 'd-task-start', type: 'task.started', time: at(300), source: 'dur', workflow: wf, task: { id: 't-1' }, agent: 'coder' },
  { id: 'd-task-end', type: 'task.completed', time: at(425), source: 'dur', workflow: wf, task: { id: 't-1' }, agent: 'coder' },
  { id: 'd-carried', type: 'task.completed', time: at(500), source: 'dur', workflow: wf, task: { id: 't-2' }, agent: 'coder', duration_ms: 1200 },
  { id: 'd-stage-end', type: 'stage.completed', time: at(1750), source: 'dur', workflow: wf, stage: 'plan' },
  { id: 'd-run-end', type: 'workflow.completed', time: at(2250), source: 'dur', workflow: wf },
];
const EXPECTED: Record<string, { duration_ms?: number; duration_derived?: true }> = {
  'd-run-start': {},
  'd-stage-start': {},
  'd-task-start': {},
  'd-task-end': { duration_ms: 125, duration_derived: true },
  'd-carried': { duration_ms: 1200 },
  'd-stage-end': { duration_ms: 1500, duration_derived: true },
  'd-run-end': { duration_ms: 2250, duration_derived: true },
};
const durations = (events: TailEvent[]) => Object.fromEntries(events.map((e) => [e.id, { duration_ms: e.duration_ms, duration_derived: e.duration_derived }]));
const expected = Object.fromEntries(Object.entries(EXPECTED).map(([id, v]) => [id, { duration_ms: v.duration_ms, duration_derived: v.duration_derived }]));

describe('derived durations in the tail', () => {
  test('history, WebSocket, SSE, NDJSON and CSV export carry them with exact values', async () => {
    const a = await startApp({ http: true });
    apps.push(a);
    const ws = await TailTestClient.connect(a.url);
    closers.push(() => ws.close());
    await ws.subscribe({ sources: ['dur'] }, 0);
    const sse = await SseReader.open(`${a.url}/api/events/stream?sources=dur`, {});
    closers.push(() => sse.abort());
    expect(sse.status).toBe(200);

    await publish(a.url, EVENTS);

    const history = (await (await fetch(`${a.url}/api/events?sources=dur`)).json()) as { events: TailEvent[] };
    expect(durations(history.events)).toEqual(expected);

    await ws.waitEvents(EVENTS.length);
    expect(ws.ids()).toEqual(EVENTS.map((e) => e.id));
    expect(durations(ws.events)).toEqual(expected);

    await waitFor('every event on the SSE stream', () => sse.ids().length === EVENTS.length);
    const sseEvents = sse.messages.filter((m) => m.event === 'event').map((m) => JSON.parse(m.data) as TailEvent);
    expect(durations(sseEvents)).toEqual(expected);

    const ndjson = await (await fetch(`${a.url}/api/events/export?format=ndjson&sources=dur`)).text();
    const exported = ndjson.trim().split('\n').map((l) => JSON.parse(l) as TailEvent);
    expect(exported.map((e) => e.id)).toEqual(EVENTS.map((e) => e.id));
    expect(durations(exported)).toEqual(expected);

    const csv = (await (await fetch(`${a.url}/api/events/export?format=csv&sources=dur`)).text()).trim().split('\r\n');
    const header = csv[0].split(',');
    const col = (name: string) => header.indexOf(name);
    expect(col('duration_ms')).toBeGreaterThan(0);
    expect(header[header.length - 1]).toBe('duration_derived');
    // no cell of these events holds a comma or quote, so a plain split is the CSV reading
    const rows = csv.slice(1).map((line) => line.split(','));
    expect(rows.map((r) => [r[col('id')], r[col('duration_ms')], r[col('duration_derived')]])).toEqual([
      ['d-run-start', '', ''],
      ['d-stage-start', '', ''],
      ['d-task-start', '', ''],
      ['d-task-end', '125', 'true'],
      ['d-carried', '1200', ''],
      ['d-stage-end', '1500', 'true'],
      ['d-run-end', '2250', 'true'],
    ]);
  });

  test('a redacted duration_ms is not filled back in', async () => {
    const a = await startApp({ http: true, redact: { fields: ['duration_ms'], mode: 'remove' } });
    apps.push(a);
    await publish(a.url, EVENTS);
    const history = (await (await fetch(`${a.url}/api/events?sources=dur`)).json()) as { events: TailEvent[] };
    expect(history.events).toHaveLength(EVENTS.length);
    for (const e of history.events) expect(e.duration_ms, e.id).toBeUndefined();
    // the marker says a duration was derived, and shows no value
    expect(history.events.filter((e) => e.duration_derived === true).map((e) => e.id)).toEqual(['d-run-end', 'd-stage-end', 'd-task-end']);
  });
});
