// Operator control end to end: the command reaches real NATS and real Redis with the right payload,
// the HTTP-only queue serves it to a poller, refusals publish nothing, and every attempt is audited
// and counted.
import { readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Msg, type Subscription } from '@nats-io/transport-node';
import { afterEach, describe, expect, it } from 'vitest';
import type { ControlCommand } from '../src/control/command.js';
import type { AuditEntry } from '../src/server/audit.js';
import { uniqueName } from './helpers/brokers.js';
import { useBuses } from './helpers/buses.js';
import { startApp, type TestApp } from './helpers/app.js';
import { value } from './helpers/metrics.js';

const OPERATOR = 'operator-token-0123456789abcdef';
const READER = 'read-only-token-0123456789abcdef';
const auth = {
  tokens: [
    { name: 'alice', role: 'operator', token: OPERATOR },
    { name: 'dashboard', role: 'read', token: READER },
  ],
};
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

let t: TestApp | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

async function control(id: string, body: unknown, headers: Record<string, string> = bearer(OPERATOR)) {
  const res = await t!.app.server.inject({ method: 'POST', url: `/api/workflows/${encodeURIComponent(id)}/control`, headers, payload: body as object });
  return { status: res.statusCode, body: res.json() as Record<string, unknown> };
}

async function auditItems(): Promise<AuditEntry[]> {
  const res = await t!.app.server.inject({ url: '/api/audit', headers: bearer(OPERATOR) });
  expect(res.statusCode).toBe(200);
  return (res.json() as { items: AuditEntry[] }).items;
}

/** The next message on `sub`, or undefined after `ms`. */
async function next(sub: Subscription, ms = 3000): Promise<Msg | undefined> {
  const it = sub[Symbol.asyncIterator]();
  let timer: NodeJS.Timeout | undefined;
  const r = await Promise.race([it.next(), new Promise<undefined>((res) => (timer = setTimeout(() => res(undefined), ms)))]);
  clearTimeout(timer);
  return r && !r.done ? r.value : undefined;
}

describe('control over NATS', () => {
  const b = useBuses();

  async function natsApp() {
    const stream = uniqueName('WFX_CTL');
    const prefix = uniqueName('wfx-ctl');
    b.streams.push(stream);
    const subjectPrefix = `${prefix}.control.workflow`;
    t = await startApp(
      {
        auth,
        sources: [{ kind: 'nats-jetstream', servers: [b.nurl], streams: [{ stream, subjects: [`${prefix}.events.>`], durable: 'wfx' }], create: true }],
        control: { natsSubjectPrefix: subjectPrefix },
      },
      { listen: false },
    );
    return subjectPrefix;
  }

  it('publishes the command on control.workflow.<id> with the payload, audits and counts it', async () => {
    const subjectPrefix = await natsApp();
    const sub = b.nc.subscribe(`${subjectPrefix}.>`);
    await b.nc.flush();

    const res = await control('wf-42', { action: 'pause', reason: 'runaway agent' });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ status: 'published', action: 'pause', workflow_id: 'wf-42', bus: 'nats', target: `${subjectPrefix}.wf-42` });

    const msg = await next(sub);
    expect(msg?.subject).toBe(`${subjectPrefix}.wf-42`);
    const cmd = msg!.json<ControlCommand>();
    expect(cmd).toEqual({
      id: res.body.id,
      type: 'workflow.control',
      action: 'pause',
      workflow_id: 'wf-42',
      reason: 'runaway agent',
      requested_by: 'alice',
      requested_at: res.body.requested_at,
    });
    expect(msg!.headers?.get('Nats-Msg-Id')).toBe(res.body.id);

    const [entry] = await auditItems();
    expect(entry).toMatchObject({ id: res.body.id, action: 'pause', workflow_id: 'wf-42', reason: 'runaway agent', outcome: 'published', status: 202, bus: 'nats', target: `${subjectPrefix}.wf-42` });
    expect(entry.who).toMatchObject({ name: 'alice', role: 'operator' });
    expect(Date.parse(entry.at)).toBeGreaterThan(Date.now() - 60_000);
    expect(value(await t!.scrape(), 'workflow_exporter_control_commands_total', { action: 'pause', outcome: 'published' })).toBe(1);
    sub.unsubscribe();
  });

  it('refuses without a token (401) and with a read-only token (403), publishes nothing, audits both', async () => {
    const subjectPrefix = await natsApp();
    const sub = b.nc.subscribe(`${subjectPrefix}.>`);
    await b.nc.flush();

    const none = await control('wf-7', { action: 'cancel' }, {});
    expect(none.status).toBe(401);
    const wrong = await control('wf-7', { action: 'cancel' }, bearer('not-a-valid-token-at-all-000000'));
    expect(wrong.status).toBe(401);
    const reader = await control('wf-7', { action: 'cancel' }, bearer(READER));
    expect(reader.status).toBe(403);

    // the first message on the subject is the test's own marker: nothing was published before it
    b.nc.publish(`${subjectPrefix}.marker`, 'marker');
    const first = await next(sub);
    expect(first?.subject).toBe(`${subjectPrefix}.marker`);

    const items = await auditItems();
    // refused before the body is read: the action is unknown
    expect(items.map((e) => [e.outcome, e.status, e.action, e.who.name])).toEqual([
      ['refused', 403, 'unknown', 'dashboard'],
      ['refused', 401, 'unknown', null],
      ['refused', 401, 'unknown', null],
    ]);
    const text = await t!.scrape();
    expect(value(text, 'workflow_exporter_control_commands_total', { action: 'unknown', outcome: 'refused' })).toBe(3);
    expect(value(text, 'workflow_exporter_control_commands_total', { outcome: 'published' })).toBe(0);
    // the audit itself is for operators
    expect((await t!.app.server.inject({ url: '/api/audit', headers: bearer(READER) })).statusCode).toBe(403);
    sub.unsubscribe();
  });

  it('rejects bad requests with 400 and answers 503 when the bus is gone, audited', async () => {
    const subjectPrefix = await natsApp();
    expect((await control('wf-1', { action: 'reboot' })).status).toBe(400);
    expect((await control('wf-1', { action: 'pause', reason: 42 })).status).toBe(400);
    expect((await control('wf-1', ['pause'])).status).toBe(400);
    // a dot would split the subject token
    const dotted = await control('wf.1', { action: 'pause' });
    expect(dotted.status).toBe(400);
    expect(String(dotted.body.message)).toContain('subject token');

    await t!.app.source<import('../src/sources/nats-jetstream/nats-jetstream.js').NatsJetStreamSource>('nats')!.connection!.close();
    const down = await control('wf-1', { action: 'resume' });
    expect(down.status).toBe(503);
    expect(down.body.error).toBe('bus_unavailable');

    const items = await auditItems();
    expect(items.map((e) => [e.outcome, e.action])).toEqual([
      ['failed', 'resume'],
      ['invalid', 'pause'],
      ['invalid', 'unknown'],
      ['invalid', 'pause'],
      ['invalid', 'unknown'],
    ]);
    expect(items[0]).toMatchObject({ status: 503, target: `${subjectPrefix}.wf-1` });
    expect(items[0].error).toContain('not connected');
    const text = await t!.scrape();
    expect(value(text, 'workflow_exporter_control_commands_total', { outcome: 'invalid' })).toBe(4);
    expect(value(text, 'workflow_exporter_control_commands_total', { action: 'resume', outcome: 'failed' })).toBe(1);
  });
});

describe('control over Redis', () => {
  const b = useBuses();

  it('XADDs the command to workflow:control with the payload and flat routing fields', async () => {
    const events = uniqueName('wfx-ctl-events');
    const stream = uniqueName('wfx-ctl-control');
    b.keys.push(events, stream);
    t = await startApp({ auth, sources: [{ kind: 'redis-streams', url: b.rurl, keys: [events], group: 'wfx' }], control: { redisStream: stream } }, { listen: false });
    const res = await control('run 9/α', { action: 'resume', reason: 'fixed upstream' });
    expect(res.status).toBe(202);
    expect(res.body).toMatchObject({ bus: 'redis', target: stream, workflow_id: 'run 9/α' });

    const entries = await b.redis.xrange(stream, '-', '+');
    expect(entries).toHaveLength(1);
    const fields = Object.fromEntries(entries[0][1].reduce<[string, string][]>((acc, v, i, a) => (i % 2 === 0 ? [...acc, [v, a[i + 1]]] : acc), []));
    expect(fields.action).toBe('resume');
    expect(fields.workflow_id).toBe('run 9/α');
    expect(fields.id).toBe(res.body.id);
    expect(JSON.parse(fields.data)).toEqual({
      id: res.body.id,
      type: 'workflow.control',
      action: 'resume',
      workflow_id: 'run 9/α',
      reason: 'fixed upstream',
      requested_by: 'alice',
      requested_at: res.body.requested_at,
    });
    // refused: the stream still holds only the one command
    expect((await control('run 9/α', { action: 'cancel' }, bearer(READER))).status).toBe(403);
    expect(await b.redis.xlen(stream)).toBe(1);
    expect((await auditItems()).map((e) => e.outcome)).toEqual(['refused', 'published']);
  });
});

describe('control over the polled queue (HTTP only)', () => {
  it('queues commands for a poller with a cursor, and writes the audit file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wfx-audit-'));
    const auditFile = join(dir, 'audit.jsonl');
    t = await startApp({ auth, control: { queueSize: 2, auditFile } }, { listen: false });
    const ids: unknown[] = [];
    for (const [wf, action] of [['a', 'pause'], ['b', 'cancel'], ['c', 'resume']] as const) {
      const r = await control(wf, { action });
      expect(r.status).toBe(202);
      expect(r.body.bus).toBe('queue');
      ids.push(r.body.id);
    }
    const poll = async (q: string, token = READER) => {
      const res = await t!.app.server.inject({ url: `/api/control/commands${q}`, headers: bearer(token) });
      return { status: res.statusCode, body: res.json() as { commands: ControlCommand[]; next: number; missed: number; reset: boolean } };
    };
    // the queue holds 2: the first command fell off and the poller is told
    let p = await poll('?after=0');
    expect(p.status).toBe(200);
    expect(p.body.commands.map((c) => [c.seq, c.workflow_id, c.action, c.id])).toEqual([
      [2, 'b', 'cancel', ids[1]],
      [3, 'c', 'resume', ids[2]],
    ]);
    expect(p.body).toMatchObject({ next: 3, missed: 1, reset: false });
    p = await poll('?after=2');
    expect(p.body.commands.map((c) => c.seq)).toEqual([3]);
    expect(p.body.missed).toBe(0);
    p = await poll('?after=3');
    expect(p.body).toEqual({ commands: [], next: 3, missed: 0, reset: false });
    // a cursor from before a restart is ahead of the queue: everything held, flagged
    p = await poll('?after=99');
    expect(p.body.reset).toBe(true);
    expect(p.body.commands.map((c) => c.seq)).toEqual([2, 3]);
    expect((await poll('?after=-1')).status).toBe(400);
    expect((await t.app.server.inject({ url: '/api/control/commands' })).statusCode).toBe(401);

    await t.close();
    t = undefined;
    const lines = readFileSync(auditFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as AuditEntry);
    expect(lines.map((e) => [e.workflow_id, e.action, e.outcome, e.who.name])).toEqual([
      ['a', 'pause', 'published', 'alice'],
      ['b', 'cancel', 'published', 'alice'],
      ['c', 'resume', 'published', 'alice'],
    ]);
  });

  it('is never open to anonymous callers: without configured tokens control answers 403', async () => {
    t = await startApp({}, { listen: false });
    const r = await control('wf-1', { action: 'pause' }, {});
    expect(r.status).toBe(403);
    expect(String(r.body.message)).toContain('auth.tokens');
    const q = await t.app.server.inject({ url: '/api/control/commands' });
    expect(q.json()).toMatchObject({ commands: [] });
    expect(value(await t.scrape(), 'workflow_exporter_control_commands_total', { action: 'unknown', outcome: 'refused' })).toBe(1);
  });
});

describe('control ids and refusals (issue 14 item 10)', () => {
  const post = (url: string, payload: string, headers: Record<string, string>) =>
    t!.app.server.inject({ method: 'POST', url, headers: { 'content-type': 'application/json', ...headers }, payload });

  it('an empty id is 400, ids up to 256 characters are taken, and refusals and bad bodies are audited and counted before any body is read', async () => {
    t = await startApp({ auth }, { listen: false });
    const pause = JSON.stringify({ action: 'pause' });
    const empty = await post('/api/workflows//control', pause, bearer(OPERATOR));
    expect.soft(empty.statusCode).toBe(400);
    expect.soft(empty.json().message).toBe('workflow id must be 1 to 256 characters without control characters');
    for (const n of [101, 150, 256]) expect.soft((await post(`/api/workflows/${'w'.repeat(n)}/control`, pause, bearer(OPERATOR))).statusCode, `id of ${n}`).toBe(202);
    // 256 characters of four UTF-8 bytes each, percent-encoded: still one id of 256
    expect.soft((await post(`/api/workflows/${encodeURIComponent('😀'.repeat(128))}/control`, pause, bearer(OPERATOR))).statusCode).toBe(202);
    expect.soft((await post(`/api/workflows/${'w'.repeat(257)}/control`, pause, bearer(OPERATOR))).statusCode).toBe(400);

    // without a token, with a body that is not JSON, of a type nobody parses, or too large: 401 all
    const truncated = await post('/api/workflows/wf-x/control', '{"action":', {});
    expect.soft(truncated.statusCode).toBe(401);
    const xml = await post('/api/workflows/wf-x/control', '<pause/>', { 'content-type': 'application/xml' });
    expect.soft(xml.statusCode).toBe(401);
    const huge = await post('/api/workflows/wf-x/control', JSON.stringify({ action: 'pause', reason: 'r'.repeat(64 * 1024) }), bearer(READER));
    expect.soft(huge.statusCode).toBe(403);
    // an operator's bad JSON is audited as invalid
    expect.soft((await post('/api/workflows/wf-y/control', '{"action":', bearer(OPERATOR))).statusCode).toBe(400);

    const items = await auditItems();
    expect.soft(items.map((e) => [e.outcome, e.status, e.action, e.workflow_id.length])).toEqual([
      ['invalid', 400, 'unknown', 4],
      ['refused', 403, 'unknown', 4],
      ['refused', 401, 'unknown', 4],
      ['refused', 401, 'unknown', 4],
      ['invalid', 400, 'pause', 257],
      ['published', 202, 'pause', 256],
      ['published', 202, 'pause', 256],
      ['published', 202, 'pause', 150],
      ['published', 202, 'pause', 101],
      ['invalid', 400, 'pause', 0],
    ]);
    const text = await t.scrape();
    expect.soft(value(text, 'workflow_exporter_control_commands_total', { action: 'unknown', outcome: 'refused' })).toBe(3);
    expect.soft(value(text, 'workflow_exporter_control_commands_total', { action: 'pause', outcome: 'published' })).toBe(4);
    expect.soft(value(text, 'workflow_exporter_auth_rejected_total', { reason: 'missing_token' })).toBe(2);
    expect.soft(value(text, 'workflow_exporter_auth_rejected_total', { reason: 'insufficient_role' })).toBe(1);
    // nothing reached the queue but the four good ids
    const q = await t.app.server.inject({ url: '/api/control/commands?after=0', headers: bearer(READER) });
    expect.soft((q.json() as { commands: { workflow_id: string }[] }).commands.map((c) => c.workflow_id.length)).toEqual([101, 150, 256, 256]);
  });
});
