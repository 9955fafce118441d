// The agentic-sdlc preset on Redis stream entries in the platform's three shapes (EventBus `data`,
// message-bus {topic, payload}, field by field), as the redis-streams source hands them over.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../config/schema.js';
import { decode, validateEvent } from '../../pipeline/validate.js';
import { agenticSdlc } from './agentic-sdlc.js';
import { rejectOf } from '../../../test/helpers/reject.js';

type Fields = Record<string, unknown>;
const load = (f: string): { fields: Fields }[] =>
  JSON.parse(readFileSync(new URL(`../../../test/fixtures/presets/agentic-sdlc/${f}`, import.meta.url), 'utf8'));
const entries = load('entries.json');
const NOW = Date.parse('2025-11-20T10:35:00Z');
const KEY = 'workflow:events';
const limits = configSchema.parse({}).validation;
const WF1 = 'c6a1e2f0-3b7d-4d55-9a0e-1f2b3c4d5e61';
const WF2 = '0d9e8f7a-6b5c-4d3e-8f21-a0b1c2d3e4f5';

/** Entry field values as Redis stores them: text, objects written as JSON (what XADD callers do). */
function entryFields(fields: Fields): Record<string, string> {
  return Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
}

/** What the redis-streams source gives the pipeline: the `data` field decoded, else all fields as text. */
function asSourceGives(fields: Fields): Record<string, unknown> {
  const text = entryFields(fields);
  return 'data' in text ? (decode(text.data, limits.maxMessageBytes) as Record<string, unknown>) : text;
}

const map = (fields: Fields) => agenticSdlc.normalize(asSourceGives(fields), { subject: KEY }, NOW);

describe('agentic-sdlc preset', () => {
  it('maps every fixture entry onto the expected canonical fields', () => {
    const got = entries.map(({ fields }) => {
      const e = map(fields);
      return [e.type, e.source, e.workflow, e.stage, e.task, e.agent, e.duration_ms, e.priority];
    });
    const app = { id: WF1, type: 'app' };
    const feature = { id: WF2, type: 'feature' };
    // agent results and DECISION_REQUIRED do not carry the workflow's type
    const wf1 = { id: WF1, type: 'unknown' };
    const wf2 = { id: WF2, type: 'unknown' };
    const t1 = { id: '5f0c2a9e-7d14-4e6b-b3a8-2c9d0e1f2a3b' };
    const t2 = { id: '9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d' };
    expect(got).toEqual([
      ['workflow.started', 'orchestrator', app, undefined, undefined, undefined, undefined, undefined],
      ['task.started', 'orchestrator', app, 'scaffolding', t1, 'scaffold', undefined, 'high'],
      ['task.completed', 'agents', wf1, 'scaffolding', t1, 'scaffold', 42000, undefined],
      ['stage.completed', 'orchestrator', app, 'scaffolding', undefined, 'scaffold', 42500, undefined],
      ['workflow.started', 'orchestrator', feature, undefined, undefined, undefined, undefined, undefined],
      ['workflow.paused', 'orchestrator', feature, undefined, undefined, undefined, undefined, undefined],
      ['DECISION_REQUIRED', 'orchestrator', wf1, 'scaffolding', undefined, undefined, undefined, undefined],
      ['workflow.resumed', 'orchestrator', feature, undefined, undefined, undefined, undefined, undefined],
      ['task.started', 'orchestrator', feature, 'validation', t2, 'validation', undefined, 'normal'],
      ['task.failed', 'agents', wf2, 'validation', t2, 'validation', 75000, undefined],
      ['workflow.failed', 'orchestrator', feature, 'validation', undefined, 'validation', undefined, undefined],
      ['workflow.completed', 'orchestrator', app, undefined, undefined, undefined, undefined, undefined],
    ]);
  });

  it('produces events the canonical schema accepts, at the entry times', () => {
    const times = entries.map(({ fields }) => new Date(validateEvent(map(fields), limits, NOW).timeMs).toISOString().slice(11, 19));
    expect(times).toEqual(['10:00:00', '10:00:05', '10:00:47', '10:00:48', '10:01:00', '10:02:00', '10:03:00', '10:04:00', '10:04:30', '10:05:45', '10:06:00', '10:09:00']);
  });

  it('unwraps a message-bus entry and keeps the agent result details', () => {
    expect(map(entries[9].fields)).toEqual({
      id: 'agentic-sdlc:0ecc4e80690521d0159f0577d316bb3a',
      type: 'task.failed',
      time: '2025-11-20T10:05:45.000Z',
      source: 'agents',
      workflow: { id: WF2, type: 'unknown' },
      stage: 'validation',
      task: { id: '9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d' },
      agent: 'validation',
      duration_ms: 75000,
      attributes: {
        agent_id: 'validation-agent-2c1d',
        status: 'failure',
        action: 'validate_code',
        success: false,
        error: '3 TypeScript errors',
        platform_type: 'TASK_FAILED',
        stream: KEY,
        topic: 'orchestrator:results',
      },
    });
  });

  it('qualifies the millisecond ids of the EventBus with type and workflow, and keeps uuids as they are', () => {
    expect(map(entries[0].fields).id).toBe(`event-1763632800000:WORKFLOW_CREATED:${WF1}`);
    expect(map(entries[3].fields).id).toBe('1f2e3d4c-5b6a-4789-8a0b-c1d2e3f4a5b6');
    // two events published in the same millisecond by the platform stay distinct
    const a = map({ data: { id: 'event-1', type: 'WORKFLOW_PAUSED', workflow_id: 'w1', payload: {} } });
    const b = map({ data: { id: 'event-1', type: 'WORKFLOW_RESUMED', workflow_id: 'w1', payload: {} } });
    expect([a.id, b.id]).toEqual(['event-1:WORKFLOW_PAUSED:w1', 'event-1:WORKFLOW_RESUMED:w1']);
  });

  it('derives a stable id for entries without one', () => {
    const r = entries[2].fields;
    expect(map(r).id).toBe(map(structuredClone(r)).id);
    expect(agenticSdlc.normalize(asSourceGives(r), { subject: 'stream:orchestrator:results' }, NOW).id).not.toBe(map(r).id);
  });

  it('reads the upper-case type in any case and from event_type', () => {
    const e = map({ data: { event_type: 'workflow_cancelled', workflow_id: 'w9', payload: { workflow_type: 'bugfix' }, timestamp: '2025-11-20T10:10:00.000Z' } });
    expect([e.type, e.workflow, e.time]).toEqual(['workflow.cancelled', { id: 'w9', type: 'bugfix' }, '2025-11-20T10:10:00.000Z']);
  });

  it('labels a completion without the workflow type as unknown (the EventBus WORKFLOW_COMPLETED carries none)', () => {
    const e = map({ data: { id: 'event-9', type: 'WORKFLOW_COMPLETED', workflow_id: WF1, payload: { workflow_id: WF1 }, timestamp: '2025-11-20T10:09:00.000Z', trace_id: 't' } });
    expect(e.workflow).toEqual({ id: WF1, type: 'unknown' });
  });

  it('keeps declared types without a canonical meaning under their own name', () => {
    const e = map({ type: 'WORKFLOW_STARTED', workflow_id: WF1, payload: '{}', timestamp: '2025-11-20T10:00:01.000Z' });
    expect([e.type, e.workflow]).toEqual(['WORKFLOW_STARTED', { id: WF1, type: 'unknown' }]);
  });

  it('reads an aggregator event without payload as the orchestrator\'s, not as an agent result', () => {
    const msg = { workflow_id: 'w3', metadata: { stage: 'orchestrator:workflow:paused', created_at: '2025-11-20T10:20:00.000Z' } };
    const e = map({ topic: 'workflow:events', payload: { key: 'w3', msg } });
    expect([e.type, e.source, e.workflow, e.time]).toEqual(['workflow.paused', 'orchestrator', { id: 'w3', type: 'unknown' }, '2025-11-20T10:20:00.000Z']);
  });

  it('uses the receipt time when an entry has none', () => {
    expect(map({ type: 'AGENT_HEARTBEAT', agent_type: 'e2e' }).time).toBe(NOW);
    expect(map({ type: 'AGENT_HEARTBEAT', agent_type: 'e2e' }).agent).toBe('e2e');
  });

  it('rejects entries it does not know with reason unmapped, naming what it saw', () => {
    const errs = load('unmapped.json').map(({ fields }) => rejectOf(() => map(fields)));
    expect(errs.map((e) => [e.reason, e.message])).toEqual([
      ['unmapped', 'preset agentic-sdlc: type pipeline:updates is not an agentic-sdlc workflow, stage, task or agent event'],
      ['unmapped', 'preset agentic-sdlc: no type, event_type or metadata.stage in entry with fields agent, note'],
    ]);
  });

  it('rejects a message-bus entry whose payload is not JSON, and a run event without workflow_id', () => {
    const bad = rejectOf(() => map({ topic: 'workflow:events', payload: 'not json' }));
    expect([bad.reason, bad.message]).toEqual(['invalid_event', 'preset agentic-sdlc: entry of topic workflow:events has a payload that is not a JSON object']);
    const noRun = rejectOf(() => map({ type: 'WORKFLOW_FAILED', payload: '{"reason":"x"}' }));
    expect([noRun.reason, noRun.message]).toEqual(['invalid_event', 'preset agentic-sdlc: WORKFLOW_FAILED without workflow_id']);
  });

  it('declares where the platform publishes', () => {
    expect(agenticSdlc.defaults).toEqual({
      redis: {
        keys: [
          'events:WORKFLOW_CREATED',
          'events:WORKFLOW_COMPLETED',
          'events:WORKFLOW_FAILED',
          'events:WORKFLOW_ERROR',
          'events:WORKFLOW_CANCELLED',
          'events:TASK_ASSIGNED',
          'stream:orchestrator:results',
        ],
      },
    });
  });
});
