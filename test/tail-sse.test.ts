// The live tail as Server-Sent Events: filters from the query, Last-Event-ID resume, limits, shutdown.
import { afterEach, describe, expect, test } from 'vitest';
import { startApp, waitFor, type TestApp } from './helpers/app.js';
import { value } from './helpers/metrics.js';
import { SseReader } from './helpers/sse.js';
import { publish, tailEvent } from './helpers/tail.js';

const apps: TestApp[] = [];
const readers: SseReader[] = [];
afterEach(async () => {
  for (const r of readers.splice(0)) r.abort();
  for (const a of apps.splice(0)) await a.close();
});
async function app(tail: Record<string, unknown> = {}): Promise<TestApp> {
  const a = await startApp({ tail });
  apps.push(a);
  return a;
}
async function stream(a: TestApp, query = '', headers: Record<string, string> = {}): Promise<SseReader> {
  const r = await SseReader.open(`${a.url}/api/events/stream${query}`, headers);
  readers.push(r);
  return r;
}

describe('GET /api/events/stream', () => {
  test('streams matching events with ids, a snapshot, and counts the client', async () => {
    const a = await app();
    const s = await stream(a, '?types=task.*,agent.*&agents=coder');
    expect(s.status).toBe(200);
    expect(s.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    expect(s.headers['cache-control']).toBe('no-cache, no-transform');
    await waitFor('snapshot', () => s.messages.some((m) => m.event === 'snapshot'));
    expect(s.retry).toBe(2000);
    expect(value(await a.scrape(), 'workflow_exporter_tail_clients', { transport: 'sse' })).toBe(1);
    await publish(a.url, [
      tailEvent('a1', { type: 'task.completed', agent: 'coder' }),
      tailEvent('a2', { type: 'task.completed', agent: 'tester' }),
      tailEvent('a3', { type: 'agent.heartbeat', agent: 'coder' }),
      tailEvent('a4', { type: 'workflow.started', agent: 'coder' }),
    ]);
    await waitFor('two events', () => s.ids().length === 2);
    expect(s.ids()).toEqual(['a1', 'a3']);
    expect(s.messages.filter((m) => m.event === 'event').map((m) => m.id)).toEqual(['a1', 'a3']);
    s.abort();
    await waitFor('sse client gone', async () => value(await a.scrape(), 'workflow_exporter_tail_clients', { transport: 'sse' }) === 0);
  });

  test('Last-Event-ID resumes after that event; an unknown one replays nothing old; replay=N replays', async () => {
    const a = await app();
    await publish(a.url, Array.from({ length: 8 }, (_, i) => tailEvent(`h${i + 1}`)));
    const resumed = await stream(a, '', { 'last-event-id': 'h5' });
    await waitFor('resumed events', () => resumed.ids().length === 3);
    expect(resumed.ids()).toEqual(['h6', 'h7', 'h8']);

    const unknown = await stream(a, '', { 'last-event-id': 'gone' });
    const replay = await stream(a, '?replay=2');
    await waitFor('replayed events', () => replay.ids().length === 2);
    expect(replay.ids()).toEqual(['h7', 'h8']);
    await publish(a.url, [tailEvent('h9')]);
    await waitFor('live event', () => unknown.ids().length === 1 && resumed.ids().length === 4 && replay.ids().length === 3);
    expect(unknown.ids()).toEqual(['h9']);
  });

  test('an id with a line break goes out without an id line', async () => {
    const a = await app();
    const s = await stream(a);
    await waitFor('snapshot', () => s.messages.some((m) => m.event === 'snapshot'));
    await publish(a.url, [tailEvent('bad\nid'), tailEvent('good')]);
    await waitFor('two events', () => s.ids().length === 2);
    expect(s.messages.filter((m) => m.event === 'event').map((m) => m.id)).toEqual([undefined, 'good']);
    expect(s.ids()).toEqual(['bad\nid', 'good']);
  });

  test('bad parameters are 400 with the field named; the client limit is 503', async () => {
    const a = await app({ maxClients: 1 });
    const bad = await stream(a, '?priorities=urgent');
    await waitFor('400 body', () => bad.ended);
    expect(bad.status).toBe(400);
    expect((JSON.parse(bad.body) as { message: string }).message).toMatch(/^filter\.priorities\.0: /);
    const badReplay = await stream(a, '?replay=-3');
    await waitFor('400 body', () => badReplay.ended);
    expect(badReplay.status).toBe(400);

    const first = await stream(a);
    await waitFor('first client', () => first.messages.length > 0);
    const second = await stream(a);
    await waitFor('503 body', () => second.ended);
    expect(second.status).toBe(503);
    expect(second.headers['retry-after']).toBe('5');
    expect(JSON.parse(second.body)).toEqual({ error: 'too_many_clients', message: 'too many clients: at most 1' });
    const text = await a.scrape();
    expect(value(text, 'workflow_exporter_tail_rejected_total', { transport: 'sse', reason: 'invalid_filter' })).toBe(1);
    expect(value(text, 'workflow_exporter_tail_rejected_total', { transport: 'sse', reason: 'invalid_message' })).toBe(1);
    expect(value(text, 'workflow_exporter_tail_rejected_total', { transport: 'sse', reason: 'too_many_clients' })).toBe(1);
  });

  test('server shutdown ends the stream', async () => {
    const a = await startApp({});
    const s = await stream(a);
    await waitFor('snapshot', () => s.messages.length > 0);
    await a.close();
    await waitFor('stream end', () => s.ended);
  });
});
