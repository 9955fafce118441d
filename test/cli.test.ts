// The CLI as a user runs it: the built dist/cli.js in its own process (npm test builds first).
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { knownRuns } from './helpers/events.js';
import { natsUrl, redisUrl, uniqueName } from './helpers/brokers.js';
import { startApp, waitFor } from './helpers/app.js';
import { value } from './helpers/metrics.js';

const run = promisify(execFile);
const CLI = join(process.cwd(), 'dist', 'cli.js');
const dir = mkdtempSync(join(tmpdir(), 'wfx-cli-'));

async function cli(args: string[], env: Record<string, string> = {}) {
  try {
    const r = await run('node', [CLI, ...args], { env: { ...process.env, ...env }, timeout: 60_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

describe('workflow-exporter CLI', () => {
  it('check-config accepts a good file and names path and reason for a bad one', async () => {
    const good = join(dir, 'good.yaml');
    writeFileSync(good, 'server:\n  port: 9999\nsources:\n  - kind: redis-streams\n    keys: [a]\n');
    let r = await cli(['check-config', good]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${good}: ok (redis:redis-streams, http:http)\n`);

    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'server:\n  port: -1\nsources:\n  - kind: kafka\n');
    r = await cli(['check-config', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('config error:');
    expect(r.stderr).toMatch(/^ {2}server\.port: /m);
    expect(r.stderr).toMatch(/^ {2}sources\.0\.kind: /m);

    r = await cli(['check-config', good], { WFX_STATE__BACKEND: 'postgres' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/state\.backend/);
  });

  it('replay pushes an NDJSON file through the pipeline and prints the metrics', async () => {
    const set = knownRuns('replay', 12);
    const file = join(dir, 'events.ndjson');
    writeFileSync(file, [...set.events.map((e) => JSON.stringify(e)), '{oops'].join('\n') + '\n');
    const r = await cli(['replay', file]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`replayed ${set.events.length + 1} lines: ${set.events.length} accepted, 1 rejected`);
    expect(value(r.stdout, 'workflow_events_total')).toBe(set.events.length);
    expect(value(r.stdout, 'workflow_run_duration_seconds_sum')).toBe(set.runSecondsSum);
    expect(value(r.stdout, 'workflow_exporter_events_rejected_total', { source: 'file', reason: 'invalid_json' })).toBe(1);
  });

  it('serve --demo answers /metrics with live workflow metrics and drains on SIGTERM', async () => {
    const port = await freePort();
    const p = spawn('node', [CLI, 'serve', '--demo', '--port', String(port), '--host', '127.0.0.1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    const exited = new Promise<number | null>((r) => p.on('exit', (code) => r(code)));
    try {
      await waitFor('ready', async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.status === 200, 15_000, 100);
      await waitFor('a finished task', async () => value(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text(), 'workflow_tasks_total') > 0, 20_000, 250);
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(value(text, 'workflow_runs_started_total')).toBeGreaterThan(0);
      expect(value(text, 'workflow_queue_depth', { queue: 'tasks' })).toBeGreaterThan(0);
      expect(value(text, 'workflow_exporter_events_rejected_total')).toBe(0);
      expect(value(text, 'workflow_exporter_build_info')).toBe(1);
    } finally {
      p.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(out).toContain('shutdown complete');
  });

  it('simulate publishes demo traffic to real Redis, NATS and HTTP', async () => {
    const rurl = await redisUrl();
    const key = uniqueName('wfx:sim');
    const redis = new Redis(rurl);
    try {
      const r = await cli(['simulate', '--to', 'redis', '--url', rurl, '--key', key, '--rate', '400', '--duration', '2', '--seed', '7']);
      expect(r.code).toBe(0);
      const sent = Number(/sent (\d+) events/.exec(r.stderr)?.[1]);
      // runs are scheduled ahead; the first 2 s carry starts and tool calls, few ends yet
      expect(sent).toBeGreaterThan(50);
      expect(await redis.xlen(key)).toBe(sent);
    } finally {
      await redis.del(key);
      await redis.quit();
    }

    const nurl = await natsUrl();
    const stream = uniqueName('WFX_SIM');
    const subject = uniqueName('wfxsim');
    const nc = await connect({ servers: nurl });
    const jsm = await jetstreamManager(nc);
    try {
      const r = await cli(['simulate', '--to', 'nats', '--url', nurl, '--stream', stream, '--subject', subject, '--rate', '400', '--duration', '2']);
      expect(r.code).toBe(0);
      const sent = Number(/sent (\d+) events/.exec(r.stderr)?.[1]);
      expect((await jsm.streams.info(stream)).state.messages).toBe(sent);
    } finally {
      await jsm.streams.delete(stream).catch(() => {});
      await nc.drain();
    }

    const t = await startApp({});
    try {
      const r = await cli(['simulate', '--to', 'http', '--url', `${t.url}/api/events`, '--rate', '300', '--duration', '2']);
      expect(r.code).toBe(0);
      const sent = Number(/sent (\d+) events/.exec(r.stderr)?.[1]);
      const text = await t.scrape();
      expect(value(text, 'workflow_events_total')).toBe(sent);
      expect(value(text, 'workflow_exporter_events_rejected_total')).toBe(0);
    } finally {
      await t.close();
    }
  });
});
