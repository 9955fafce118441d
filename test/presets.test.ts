// The three presets end to end against the real brokers: platform-shaped messages in, exact metrics out.
import { readFileSync } from 'node:fs';
import { jetstream } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import { uniqueName } from './helpers/brokers.js';
import { useBuses } from './helpers/buses.js';
import { startApp, waitFor, type TestApp } from './helpers/app.js';
import { value } from './helpers/metrics.js';

const fixture = (path: string) => readFileSync(new URL(`./fixtures/presets/${path}`, import.meta.url), 'utf8');
const json = <T>(path: string): T => JSON.parse(fixture(path)) as T;
// the fixtures' events happen between 10:00 and 10:31; the exporter's clock is set just after them
const NOW = Date.parse('2025-11-20T10:35:00Z');
const now = () => NOW;

describe('preset swe-ai-fleet over NATS JetStream', () => {
  const b = useBuses();

  it('turns planning, orchestrator and agent subjects into exact run, stage and task metrics', async () => {
    // the platform's streams, each named and prefixed uniquely so parallel runs share the server safely
    const prefix = uniqueName('wfxp');
    const defs = [
      { stream: uniqueName('PLANNING_EVENTS'), subjects: [`${prefix}.planning.>`] },
      { stream: uniqueName('ORCHESTRATOR_EVENTS'), subjects: [`${prefix}.orchestration.>`] },
      { stream: uniqueName('AGENT_RESPONSES'), subjects: [`${prefix}.agent.response.>`] },
    ];
    b.streams.push(...defs.map((d) => d.stream));
    const messages = json<{ subject: string; payload: object }[]>('swe-ai-fleet/messages.json');
    const [unknown] = json<{ subject: string; payload: object }[]>('swe-ai-fleet/unmapped.json');
    let t: TestApp | undefined;
    try {
      t = await startApp(
        {
          http: false,
          sources: [{ kind: 'nats-jetstream', servers: [b.nurl], preset: 'swe-ai-fleet', create: true, streams: defs.map((d) => ({ ...d, durable: 'wfx-presets' })) }],
        },
        { now },
      );
      const js = jetstream(b.nc);
      // in order: within each stream, starts must reach the exporter before their ends
      for (const m of [...messages, unknown]) await js.publish(`${prefix}.${m.subject}`, JSON.stringify(m.payload));
      // a redelivered copy of the first message: same subject and payload, so the same derived id
      await js.publish(`${prefix}.${messages[0].subject}`, JSON.stringify(messages[0].payload));
      const total = messages.length + 2;
      await waitFor('all messages received', async () => value(await t!.scrape(), 'workflow_exporter_events_received_total', { source: 'nats' }) === total);
      const text = await t.scrape();

      expect(value(text, 'workflow_events_total')).toBe(20);
      expect(value(text, 'workflow_events_total', { source: 'planning' })).toBe(11);
      expect(value(text, 'workflow_events_total', { source: 'planning', type: 'workflow.started' })).toBe(4);
      expect(value(text, 'workflow_events_total', { source: 'planning', type: 'workflow.paused' })).toBe(2);
      expect(value(text, 'workflow_events_total', { source: 'planning', type: 'planning.story.transitioned' })).toBe(1);
      expect(value(text, 'workflow_events_total', { source: 'planning', type: 'planning.plan.approved' })).toBe(1);
      expect(value(text, 'workflow_events_total', { source: 'orchestrator' })).toBe(6);
      expect(value(text, 'workflow_events_total', { source: 'agents' })).toBe(3);

      expect(value(text, 'workflow_runs_started_total', { workflow_type: 'story' })).toBe(3);
      expect(value(text, 'workflow_runs_started_total', { workflow_type: 'backlog_review' })).toBe(1);
      expect(value(text, 'workflow_runs_finished_total', { workflow_type: 'story', outcome: 'completed' })).toBe(1);
      expect(value(text, 'workflow_runs_finished_total', { workflow_type: 'story', outcome: 'cancelled' })).toBe(1);
      expect(value(text, 'workflow_runs_finished_total', { workflow_type: 'backlog_review', outcome: 'completed' })).toBe(1);
      // durations derived from story.created -> story.transitioned(DONE / ARCHIVED) and ceremony started -> completed
      expect(value(text, 'workflow_run_duration_seconds_count', { workflow_type: 'story', outcome: 'completed' })).toBe(1);
      expect(value(text, 'workflow_run_duration_seconds_sum', { workflow_type: 'story', outcome: 'completed' })).toBe(720);
      expect(value(text, 'workflow_run_duration_seconds_count', { workflow_type: 'story', outcome: 'cancelled' })).toBe(1);
      expect(value(text, 'workflow_run_duration_seconds_sum', { workflow_type: 'story', outcome: 'cancelled' })).toBe(1080);
      expect(value(text, 'workflow_run_duration_seconds_sum', { workflow_type: 'backlog_review', outcome: 'completed' })).toBe(1800);
      // US-103 went to CARRY_OVER and stays paused
      expect(value(text, 'workflow_runs_active', { workflow_type: 'story', state: 'paused' })).toBe(1);
      expect(value(text, 'workflow_runs_active', { workflow_type: 'story', state: 'running' })).toBe(0);

      // deliberation.started 10:02:00 -> deliberation.completed at epoch 1763632995.5
      expect(value(text, 'workflow_stage_duration_seconds_count', { workflow_type: 'story', stage: 'deliberation', outcome: 'completed' })).toBe(1);
      expect(value(text, 'workflow_stage_duration_seconds_sum', { workflow_type: 'story', stage: 'deliberation', outcome: 'completed' })).toBe(75.5);

      expect(value(text, 'workflow_tasks_total', { agent: 'DEV', outcome: 'completed' })).toBe(1);
      expect(value(text, 'workflow_tasks_total', { agent: 'DEV', outcome: 'failed' })).toBe(1);
      expect(value(text, 'workflow_tasks_total', { agent: 'QA', outcome: 'failed' })).toBe(1);
      expect(value(text, 'workflow_tasks_total', { agent: 'ARCHITECT', outcome: 'completed' })).toBe(1);
      expect(value(text, 'workflow_tasks_total', { agent: 'TASK_EXTRACTOR', outcome: 'completed' })).toBe(1);
      // duration_ms from the payload where given, else task.dispatched -> task.failed (10:04:00 -> 10:06:30)
      expect(value(text, 'workflow_task_duration_seconds_sum', { agent: 'DEV', outcome: 'completed' })).toBe(41);
      expect(value(text, 'workflow_task_duration_seconds_count', { agent: 'QA', outcome: 'failed' })).toBe(1);
      expect(value(text, 'workflow_task_duration_seconds_sum', { agent: 'QA', outcome: 'failed' })).toBe(150);
      expect(value(text, 'workflow_task_duration_seconds_sum', { agent: 'ARCHITECT', outcome: 'completed' })).toBe(12.5);
      expect(value(text, 'workflow_task_duration_seconds_sum', { agent: 'DEV', outcome: 'failed' })).toBe(3);
      expect(value(text, 'workflow_task_duration_seconds_sum', { agent: 'TASK_EXTRACTOR', outcome: 'completed' })).toBe(8);
      expect(value(text, 'workflow_task_duration_seconds_count')).toBe(5);
      // latest DEV event: agent.response.failed at 10:08:00, whatever order the streams were read in
      expect(value(text, 'workflow_agent_last_seen_timestamp_seconds', { agent: 'DEV' })).toBe(Date.parse('2025-11-20T10:08:00Z') / 1000);

      // agent responses have no start event on these streams; the redelivery was dropped, not counted
      expect(value(text, 'workflow_exporter_lifecycle_anomalies_total', { kind: 'end_without_start' })).toBe(3);
      expect(value(text, 'workflow_exporter_lifecycle_anomalies_total', { kind: 'duplicate_id' })).toBe(1);
      expect(value(text, 'workflow_exporter_events_rejected_total', { source: 'nats', reason: 'unmapped' })).toBe(1);
      expect(t.app.deadLetters.list(1)[0].subject).toBe(`${prefix}.${unknown.subject}`);
    } finally {
      await t?.close();
    }
  });
});

describe('preset agentic-sdlc over Redis Streams', () => {
  const b = useBuses();

  it('reads EventBus, message-bus and field-by-field entries into exact metrics', async () => {
    const key = uniqueName('wfx:presets:workflow:events');
    b.keys.push(key);
    type Entry = { fields: Record<string, unknown> };
    const entries = json<Entry[]>('agentic-sdlc/entries.json');
    const unknown = json<Entry[]>('agentic-sdlc/unmapped.json');
    let t: TestApp | undefined;
    try {
      t = await startApp(
        { http: false, sources: [{ kind: 'redis-streams', url: b.rurl, keys: [key], group: 'wfx-presets', consumer: 'c1', preset: 'agentic-sdlc', startId: '0' }] },
        { now },
      );
      const p = b.redis.pipeline();
      for (const { fields } of [...entries, ...unknown]) {
        // as the platform writes them: nested objects as JSON text, one entry field per key
        p.xadd(key, '*', ...Object.entries(fields).flatMap(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
      }
      p.xadd(key, '*', 'data', '{"type":"WORKFLOW_CREATED",');
      await p.exec();
      const total = entries.length + unknown.length + 1;
      await waitFor('all entries received', async () => value(await t!.scrape(), 'workflow_exporter_events_received_total', { source: 'redis' }) === total);
      const text = await t.scrape();

      expect(value(text, 'workflow_events_total')).toBe(12);
      expect(value(text, 'workflow_events_total', { source: 'orchestrator' })).toBe(10);
      expect(value(text, 'workflow_events_total', { source: 'orchestrator', type: 'DECISION_REQUIRED' })).toBe(1);
      expect(value(text, 'workflow_events_total', { source: 'agents', type: 'task.completed' })).toBe(1);
      expect(value(text, 'workflow_events_total', { source: 'agents', type: 'task.failed' })).toBe(1);

      expect(value(text, 'workflow_runs_started_total', { workflow_type: 'app' })).toBe(1);
      expect(value(text, 'workflow_runs_started_total', { workflow_type: 'feature' })).toBe(1);
      expect(value(text, 'workflow_runs_finished_total', { workflow_type: 'app', outcome: 'completed' })).toBe(1);
      expect(value(text, 'workflow_runs_finished_total', { workflow_type: 'feature', outcome: 'failed' })).toBe(1);
      // WORKFLOW_CREATED 10:00:00 -> completed 10:09:00; 10:01:00 -> failed 10:06:00 (paused and resumed between)
      expect(value(text, 'workflow_run_duration_seconds_count', { workflow_type: 'app', outcome: 'completed' })).toBe(1);
      expect(value(text, 'workflow_run_duration_seconds_sum', { workflow_type: 'app', outcome: 'completed' })).toBe(540);
      expect(value(text, 'workflow_run_duration_seconds_count', { workflow_type: 'feature', outcome: 'failed' })).toBe(1);
      expect(value(text, 'workflow_run_duration_seconds_sum', { workflow_type: 'feature', outcome: 'failed' })).toBe(300);
      expect(value(text, 'workflow_runs_active')).toBe(0);

      expect(value(text, 'workflow_stage_duration_seconds_count', { workflow_type: 'app', stage: 'scaffolding', outcome: 'completed' })).toBe(1);
      expect(value(text, 'workflow_stage_duration_seconds_sum', { workflow_type: 'app', stage: 'scaffolding', outcome: 'completed' })).toBe(42.5);
      expect(value(text, 'workflow_tasks_total', { agent: 'scaffold', outcome: 'completed' })).toBe(1);
      expect(value(text, 'workflow_tasks_total', { agent: 'validation', outcome: 'failed' })).toBe(1);
      expect(value(text, 'workflow_task_duration_seconds_count', { agent: 'scaffold', outcome: 'completed' })).toBe(1);
      expect(value(text, 'workflow_task_duration_seconds_sum', { agent: 'scaffold', outcome: 'completed' })).toBe(42);
      expect(value(text, 'workflow_task_duration_seconds_sum', { agent: 'validation', outcome: 'failed' })).toBe(75);
      // every TASK_ASSIGNED found its agent result; the one end without a start is the stage completion:
      // the platform publishes no stage start, so that duration comes from the event's duration_ms alone
      expect(value(text, 'workflow_exporter_lifecycle_anomalies_total', { kind: 'end_without_start' })).toBe(1);

      expect(value(text, 'workflow_exporter_events_rejected_total', { source: 'redis', reason: 'unmapped' })).toBe(2);
      expect(value(text, 'workflow_exporter_events_rejected_total', { source: 'redis', reason: 'invalid_json' })).toBe(1);
      await waitFor('every entry acked', async () => {
        const groups = (await b.redis.xinfo('GROUPS', key)) as unknown[][];
        const g = groups[0];
        return g[g.indexOf('pending') + 1] === 0;
      });
    } finally {
      await t?.close();
    }
  });
});

describe('preset saas-factory over HTTP', () => {
  it('turns dashboard events posted as NDJSON into exact task and system metrics', async () => {
    const t = await startApp({ sources: [{ kind: 'http', preset: 'saas-factory' }] }, { now });
    try {
      const body = fixture('saas-factory/events.ndjson') + fixture('saas-factory/unmapped.ndjson');
      const res = await t.app.server.inject({ method: 'POST', url: '/api/events', headers: { 'content-type': 'application/x-ndjson' }, payload: body });
      expect(res.statusCode).toBe(202);
      expect(res.json()).toEqual({
        accepted: 9,
        rejected: 2,
        errors: [
          {
            index: 9,
            reason: 'unmapped',
            message: 'preset saas-factory: event_type connection is not one of agent_request, agent_started, agent_response, agent_completed, agent_error, system_health, metrics, alerts',
          },
          { index: 10, reason: 'unmapped', message: 'preset saas-factory: message has no event_type' },
        ],
      });
      const text = await t.scrape();

      expect(value(text, 'workflow_events_total')).toBe(9);
      expect(value(text, 'workflow_events_total', { source: 'orchestrator', type: 'task.started' })).toBe(3);
      expect(value(text, 'workflow_events_total', { source: 'system', type: 'system.health' })).toBe(1);
      expect(value(text, 'workflow_events_total', { source: 'websocket_manager', type: 'system.metrics' })).toBe(1);
      expect(value(text, 'workflow_events_total', { source: 'system', type: 'system.alerts' })).toBe(1);

      expect(value(text, 'workflow_tasks_total', { agent: 'idea_agent', outcome: 'completed' })).toBe(1);
      expect(value(text, 'workflow_tasks_total', { agent: 'market_agent', outcome: 'failed' })).toBe(1);
      expect(value(text, 'workflow_tasks_total', { agent: 'requirements_agent', outcome: 'completed' })).toBe(1);
      // agent_request -> agent_response / agent_error paired by request_id; req-3 reports duration_ms itself
      expect(value(text, 'workflow_task_duration_seconds_count', { agent: 'idea_agent', outcome: 'completed' })).toBe(1);
      expect(value(text, 'workflow_task_duration_seconds_sum', { agent: 'idea_agent', outcome: 'completed' })).toBe(2.5);
      expect(value(text, 'workflow_task_duration_seconds_sum', { agent: 'market_agent', outcome: 'failed' })).toBe(3);
      expect(value(text, 'workflow_task_duration_seconds_sum', { agent: 'requirements_agent', outcome: 'completed' })).toBe(1.2);
      expect(value(text, 'workflow_task_duration_seconds_count')).toBe(3);

      expect(value(text, 'workflow_exporter_events_received_total', { source: 'http' })).toBe(11);
      expect(value(text, 'workflow_exporter_events_rejected_total', { source: 'http', reason: 'unmapped' })).toBe(2);
    } finally {
      await t.close();
    }
  });
});
