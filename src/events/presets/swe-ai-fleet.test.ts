// The swe-ai-fleet preset on the services' own payloads: subject-driven mapping, envelopes, ids, rejects.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../config/schema.js';
import { validateEvent } from '../../pipeline/validate.js';
import { platformSubject, sweAiFleet } from './swe-ai-fleet.js';
import { rejectOf } from '../../../test/helpers/reject.js';

interface Fixture {
  subject: string;
  payload: Record<string, unknown>;
}
const load = (f: string): Fixture[] => JSON.parse(readFileSync(new URL(`../../../test/fixtures/presets/swe-ai-fleet/${f}`, import.meta.url), 'utf8'));
const messages = load('messages.json');
const NOW = Date.parse('2025-11-20T10:35:00Z');
const limits = configSchema.parse({}).validation;

const map = (f: Fixture, subject: string | undefined = f.subject) => sweAiFleet.normalize(f.payload, { subject }, NOW);

describe('swe-ai-fleet preset', () => {
  it('maps every fixture message onto the expected canonical fields', () => {
    const story = (id: string) => ({ id, type: 'story' });
    const got = messages.map((f) => {
      const e = map(f);
      return [e.type, e.source, e.workflow, e.stage, e.task, e.agent, e.duration_ms];
    });
    expect(got).toEqual([
      ['workflow.started', 'planning', story('US-101'), undefined, undefined, undefined, undefined],
      ['workflow.started', 'planning', { id: 'BRC-7', type: 'backlog_review' }, undefined, undefined, undefined, undefined],
      ['planning.story.transitioned', 'planning', story('US-101'), 'po_review', undefined, undefined, undefined],
      ['planning.plan.approved', 'planning', story('US-101'), undefined, undefined, undefined, undefined],
      ['workflow.started', 'planning', story('US-102'), undefined, undefined, undefined, undefined],
      ['workflow.paused', 'planning', story('US-102'), 'carry_over', undefined, undefined, undefined],
      ['workflow.completed', 'planning', story('US-101'), 'done', undefined, undefined, undefined],
      ['workflow.cancelled', 'planning', story('US-102'), 'archived', undefined, undefined, undefined],
      ['workflow.started', 'planning', story('US-103'), undefined, undefined, undefined, undefined],
      ['workflow.paused', 'planning', story('US-103'), 'carry_over', undefined, undefined, undefined],
      ['workflow.completed', 'planning', { id: 'BRC-7', type: 'backlog_review' }, undefined, undefined, undefined, undefined],
      ['stage.started', 'orchestrator', story('US-101'), 'deliberation', { id: 'T-1' }, 'DEV', undefined],
      ['task.started', 'orchestrator', undefined, undefined, { id: 'T-1@agent-dev-001' }, 'DEV', undefined],
      ['task.completed', 'orchestrator', undefined, undefined, { id: 'T-1@agent-dev-001' }, 'DEV', 41000],
      ['stage.completed', 'orchestrator', story('US-101'), 'deliberation', undefined, undefined, undefined],
      ['task.started', 'orchestrator', undefined, undefined, { id: 'T-2@agent-qa-001' }, 'QA', undefined],
      ['task.failed', 'orchestrator', undefined, undefined, { id: 'T-2@agent-qa-001' }, 'QA', undefined],
      ['task.completed', 'agents', undefined, undefined, { id: 'T-3@agent-architect-001' }, 'ARCHITECT', 12500],
      ['task.failed', 'agents', undefined, undefined, { id: 'T-4@agent-dev-002' }, 'DEV', 3000],
      ['task.completed', 'agents', undefined, undefined, { id: 'ceremony-BRC-7:story-US-101:task-extraction' }, 'TASK_EXTRACTOR', 8000],
    ]);
  });

  it('produces events the canonical schema accepts, at the payload times', () => {
    const times = messages.map((f) => new Date(validateEvent(map(f), limits, NOW).timeMs).toISOString());
    expect(times).toEqual([
      '2025-11-20T10:00:00.000Z',
      '2025-11-20T10:00:10.000Z',
      '2025-11-20T10:00:30.000Z',
      '2025-11-20T10:01:00.000Z',
      '2025-11-20T10:02:00.000Z',
      '2025-11-20T10:05:00.000Z',
      '2025-11-20T10:12:00.000Z',
      '2025-11-20T10:20:00.000Z',
      '2025-11-20T10:25:00.000Z',
      '2025-11-20T10:28:00.000Z',
      '2025-11-20T10:30:10.000Z',
      '2025-11-20T10:02:00.000Z',
      '2025-11-20T10:02:05.000Z',
      '2025-11-20T10:02:46.000Z',
      '2025-11-20T10:03:15.500Z', // epoch seconds as a float
      '2025-11-20T10:04:00.000Z',
      '2025-11-20T10:06:30.000Z',
      '2025-11-20T10:07:00.250Z',
      '2025-11-20T10:08:00.000Z',
      '2025-11-20T10:09:00.000Z',
    ]);
  });

  it('unwraps an EventEnvelope: its idempotency key is the id, its tracing fields are kept', () => {
    expect(map(messages[2])).toEqual({
      id: '56e4672e6ca5d59e1c8a975c35703c831646b560d3aae09aa784b75143e1484f',
      type: 'planning.story.transitioned',
      time: '2025-11-20T10:00:30.000000+00:00',
      source: 'planning',
      workflow: { id: 'US-101', type: 'story' },
      stage: 'po_review',
      attributes: {
        subject: 'planning.story.transitioned',
        story_id: 'US-101',
        from_state: 'DRAFT',
        to_state: 'PO_REVIEW',
        transitioned_by: 'po.alice',
        correlation_id: '5b0f7c1e-2d0a-4e8b-9a51-0c7e6f3d9a12',
        producer: 'planning-service',
      },
    });
  });

  it('repairs the planning service timestamp with two zones (isoformat() + "Z")', () => {
    expect(map(messages[0]).time).toBe('2025-11-20T10:00:00.000000+00:00');
  });

  it('keeps model, error and agent ids of an agent failure', () => {
    expect(map(messages[18])).toEqual({
      id: 'swe-ai-fleet:7f66a84047215642ee24f885f1f7187d',
      type: 'task.failed',
      time: '2025-11-20T10:08:00+00:00',
      source: 'agents',
      task: { id: 'T-4@agent-dev-002' },
      agent: 'DEV',
      duration_ms: 3000,
      model: 'qwen2.5-coder-7b-instruct',
      attributes: {
        subject: 'agent.response.failed',
        task_id: 'T-4',
        agent_id: 'agent-dev-002',
        status: 'failed',
        error: 'vLLM request timed out after 3s',
        error_type: 'TimeoutError',
        num_agents: 3,
      },
    });
  });

  it('derives the same id for a redelivery and a different one for another payload or subject', () => {
    const f = messages[0];
    const a = map(f).id;
    expect(a).toBe('swe-ai-fleet:dbb7a5e5aeb2d0ee60713deaa6771198');
    expect(map(structuredClone(f)).id).toBe(a);
    expect(map({ ...f, payload: { ...f.payload, story_id: 'US-999' } }).id).not.toBe(a);
    expect(map(f, `prod.${f.subject}`).id).not.toBe(a);
  });

  it('ignores a deployment prefix before the platform subject', () => {
    const e = map(messages[13], `acme.prod.${messages[13].subject}`);
    expect([e.type, e.source, e.agent, e.duration_ms]).toEqual(['task.completed', 'orchestrator', 'DEV', 41000]);
    expect(e.attributes).toMatchObject({ subject: 'orchestration.task.completed' });
    expect(platformSubject('a.b.c.d.planning.story.created')).toBeUndefined(); // more prefix than allowed
  });

  it('takes the event_type when a message arrives without a subject (file replay, HTTP)', () => {
    const created = map(messages[0], undefined);
    expect([created.type, created.workflow]).toEqual(['workflow.started', { id: 'US-101', type: 'story' }]);
    const envelope = map(messages[2], undefined);
    expect([envelope.type, envelope.stage]).toEqual(['planning.story.transitioned', 'po_review']);
    const completed = map(messages[13], undefined);
    expect([completed.type, completed.agent]).toEqual(['task.completed', 'DEV']);
  });

  it('maps story transitions by target state', () => {
    const t = (from: string, to: string) => sweAiFleet.normalize({ story_id: 'S', from_state: from, to_state: to }, { subject: 'planning.story.transitioned' }, NOW).type;
    expect(t('TESTING', 'DONE')).toBe('workflow.completed');
    expect(t('DRAFT', 'ARCHIVED')).toBe('workflow.cancelled');
    expect(t('DONE', 'ARCHIVED')).toBe('planning.story.transitioned'); // archiving a finished story ends nothing
    expect(t('IN_PROGRESS', 'CARRY_OVER')).toBe('workflow.paused');
    expect(t('CARRY_OVER', 'READY_FOR_EXECUTION')).toBe('workflow.resumed');
    expect(t('CARRY_OVER', 'DRAFT')).toBe('workflow.resumed');
    expect(t('TESTING', 'IN_PROGRESS')).toBe('planning.story.transitioned');
    // the orchestrator's consumer reads from_phase/to_phase
    expect(sweAiFleet.normalize({ story_id: 'S', from_phase: 'TESTING', to_phase: 'DONE' }, { subject: 'planning.story.transitioned' }, NOW).type).toBe('workflow.completed');
  });

  it('uses the receipt time when the payload has none', () => {
    expect(sweAiFleet.normalize({ story_id: 'S', version: 4 }, { subject: 'context.updated' }, NOW).time).toBe(NOW);
  });

  it('rejects subjects it does not know with reason unmapped, naming the subject', () => {
    const errs = load('unmapped.json').map((f) => rejectOf(() => map(f)));
    expect(errs.map((e) => [e.reason, e.message])).toEqual([
      ['unmapped', 'preset swe-ai-fleet: subject planning.story.exploded is not a known planning, orchestration, context or agent.response subject'],
      ['unmapped', 'preset swe-ai-fleet: subject workflow.state.changed is not a known planning, orchestration, context or agent.response subject'],
    ]);
    const noSubject = rejectOf(() => sweAiFleet.normalize({ story_id: 'S' }, {}, NOW));
    expect([noSubject.reason, noSubject.message]).toEqual(['unmapped', 'preset swe-ai-fleet: event_type undefined is not a known planning, orchestration, context or agent.response subject']);
  });

  it('never resolves subjects through Object.prototype', () => {
    for (const s of ['constructor', 'planning.constructor', 'toString.planning', '__proto__.x']) {
      expect(rejectOf(() => sweAiFleet.normalize({}, { subject: s }, NOW)).reason).toBe('unmapped');
    }
  });

  it('rejects a run event without the id of its run as invalid_event', () => {
    const e = rejectOf(() => sweAiFleet.normalize({ title: 'no id' }, { subject: 'planning.story.created' }, NOW));
    expect([e.reason, e.message]).toEqual(['invalid_event', 'preset swe-ai-fleet: planning.story.created without story_id or ceremony_id']);
  });

  it('declares where the platform publishes', () => {
    expect(sweAiFleet.defaults).toEqual({
      nats: [
        { stream: 'PLANNING_EVENTS', subjects: ['planning.>'] },
        { stream: 'ORCHESTRATOR_EVENTS', subjects: ['orchestration.>'] },
        { stream: 'CONTEXT_EVENTS', subjects: ['context.>'] },
      ],
    });
  });
});
