// Preset swe-ai-fleet: NATS JetStream events of the planning, orchestrator and context services and of
// the Ray agents, read by subject (planning.story.created, agent.response.completed, …).
import { RejectError } from '../../errors.js';
import type { RawMessage } from '../raw.js';
import {
  compact,
  derivedId,
  firstNum,
  firstStr,
  firstTime,
  isObj,
  normalizeTime,
  pickInto,
  str,
  unmapped,
  type Obj,
} from './common.js';
import type { Preset } from './preset.js';

const NAME = 'swe-ai-fleet';

/** Workflow types: a user story's life, and a backlog-review ceremony over many stories. */
export const STORY = 'story';
export const BACKLOG_REVIEW = 'backlog_review';
/** The stage name deliberations of a story's agent councils are counted under. */
export const DELIBERATION = 'deliberation';

/** `source` label per subject root: the service that publishes under it. */
const SOURCES = new Map([
  ['planning', 'planning'],
  ['orchestration', 'orchestrator'],
  ['context', 'context'],
  ['agent', 'agents'],
]);

// Timestamp fields in the order the services use them (EventEnvelope, domain events, use cases).
const TIME_FIELDS = ['timestamp', 'occurred_at', 'started_at', 'completed_at', 'cancelled_at', 'reached_at', 'dispatched_at', 'created_at'] as const;
// Identifying fields kept in attributes for the live tail; never labels.
const ATTRIBUTE_FIELDS = new Set([
  'story_id', 'task_id', 'agent_id', 'plan_id', 'decision_id', 'ceremony_id', 'project_id', 'epic_id', 'council_id',
  'from_state', 'to_state', 'from_phase', 'to_phase', 'status', 'error', 'error_type', 'checks_passed', 'num_agents',
  'winner_agent_id', 'milestone', 'version', 'approved_by', 'rejected_by', 'transitioned_by', 'created_by',
]);
const ENVELOPE_FIELDS = new Set(['correlation_id', 'causation_id', 'producer']);

interface Ctx {
  subject: string;
  p: Obj;
}

type Rule = (c: Ctx) => Obj;

const storyRun = (p: Obj): Obj | undefined => {
  const id = str(p.story_id);
  return id ? { id, type: STORY } : undefined;
};

const ceremonyRun = (p: Obj): Obj | undefined => {
  const id = str(p.ceremony_id);
  return id ? { id, type: BACKLOG_REVIEW } : undefined;
};

/**
 * A task execution is one agent's work on a task: several agents of a council work the same task_id,
 * so the agent id is part of the key that pairs task.started with its end event.
 */
function taskOf(p: Obj): Obj | undefined {
  const task = str(p.task_id);
  if (!task) return undefined;
  const agent = str(p.agent_id);
  return { id: agent ? `${task}@${agent}` : task };
}

const role = (p: Obj) => str(p.role);
const durationOf = (p: Obj) => firstNum(p, ['duration_ms']) ?? (isObj(p.output) ? firstNum(p.output, ['duration_ms']) : undefined);

/** Other subjects of a known service: counted under their own type, linked to their story. */
const custom: Rule = ({ subject, p }) => ({
  type: subject,
  workflow: storyRun(p) ?? ceremonyRun(p),
  agent: role(p),
  task: taskOf(p),
});

const taskEnd = (type: string): Rule => ({ p }) => ({
  type,
  task: taskOf(p),
  agent: role(p),
  duration_ms: durationOf(p),
  model: str(p.model),
});

const lower = (s: string | undefined) => s?.toLowerCase();

/**
 * Story FSM transitions: DONE ends the run, ARCHIVED before DONE cancels it, CARRY_OVER (sprint
 * ended unfinished) pauses it until it leaves that state; other moves stay `planning.story.transitioned`.
 */
const storyTransitioned: Rule = ({ subject, p }) => {
  const from = (str(p.from_state) ?? str(p.from_phase))?.toUpperCase();
  const to = (str(p.to_state) ?? str(p.to_phase))?.toUpperCase();
  let type = subject;
  if (to === 'DONE') type = 'workflow.completed';
  else if (to === 'ARCHIVED' && from !== 'DONE') type = 'workflow.cancelled';
  else if (to === 'CARRY_OVER') type = 'workflow.paused';
  else if (from === 'CARRY_OVER' && to !== 'ARCHIVED') type = 'workflow.resumed';
  return { type, workflow: storyRun(p), stage: lower(to) };
};

// Maps, not object literals: subjects are foreign input and must never reach Object.prototype.
const RULES = new Map<string, Rule>(Object.entries({
  'planning.story.created': ({ p }) => ({ type: 'workflow.started', workflow: storyRun(p) }),
  'planning.story.transitioned': storyTransitioned,
  'planning.backlog_review.ceremony.started': ({ p }) => ({ type: 'workflow.started', workflow: ceremonyRun(p) }),
  'planning.backlog_review.ceremony.completed': ({ p }) => ({ type: 'workflow.completed', workflow: ceremonyRun(p) }),
  'planning.backlog_review.ceremony.cancelled': ({ p }) => ({ type: 'workflow.cancelled', workflow: ceremonyRun(p) }),
  'orchestration.deliberation.started': ({ p }) => ({ type: 'stage.started', workflow: storyRun(p), stage: DELIBERATION, agent: role(p), task: taskOf(p) }),
  'orchestration.deliberation.completed': ({ p }) => ({
    type: 'stage.completed',
    workflow: storyRun(p),
    stage: DELIBERATION,
    agent: role(p),
    duration_ms: durationOf(p),
  }),
  'orchestration.task.dispatched': ({ p }) => ({ type: 'task.started', task: taskOf(p), agent: role(p) }),
  'orchestration.task.completed': taskEnd('task.completed'),
  'orchestration.task.failed': taskEnd('task.failed'),
  'orchestration.phase.changed': ({ subject, p }) => ({ type: subject, workflow: storyRun(p), stage: lower(str(p.to_phase)) }),
  'agent.response.completed': taskEnd('task.completed'),
  'agent.response.failed': taskEnd('task.failed'),
}));

for (const s of [
  'planning.project.created',
  'planning.epic.created',
  'planning.story.tasks_not_ready',
  'planning.task.created',
  'planning.tasks.derived',
  'planning.decision.approved',
  'planning.decision.rejected',
  'planning.plan.approved',
  'planning.backlog_review.story.reviewed',
  'planning.backlog_review.deliberations.complete',
  'planning.backlog_review.tasks.complete',
  'orchestration.plan.approved',
  'orchestration.council.created',
  'context.updated',
  'context.decision.added',
  'context.milestone.reached',
  'context.snapshot.created',
  'agent.response.progress',
]) {
  RULES.set(s, custom);
}

const COMPLETED_VARIANT = 'agent.response.completed.';
const TASK_EXTRACTION = 'agent.response.completed.task-extraction';
// the extraction event names no role: it is always the work of the TASK_EXTRACTOR agent role
const completed = taskEnd('task.completed');
const taskExtraction: Rule = (c) => {
  const out = completed(c);
  out.agent ??= 'TASK_EXTRACTOR';
  return out;
};
const MAX_PREFIX_TOKENS = 3; // environment or tenant prefixes such as prod. or acme.prod.

/**
 * The platform subject inside a NATS subject, ignoring a deployment prefix (`prod.planning.…`).
 * `agent.response.completed.<variant>` (task-extraction, backlog-review.role) are completions too.
 */
export function platformSubject(subject: string): { subject: string; rule: Rule } | undefined {
  const direct = RULES.get(subject);
  if (direct) return { subject, rule: direct };
  const tokens = subject.split('.');
  for (let i = 0; i <= MAX_PREFIX_TOKENS && i < tokens.length; i++) {
    if (!SOURCES.has(tokens[i])) continue;
    const rest = i === 0 ? subject : tokens.slice(i).join('.');
    const rule = RULES.get(rest);
    if (rule) return { subject: rest, rule };
    if (rest.startsWith(COMPLETED_VARIANT)) {
      return { subject: rest, rule: rest === TASK_EXTRACTION ? taskExtraction : RULES.get('agent.response.completed')! };
    }
  }
  return undefined;
}

/**
 * Newer services wrap payloads in an EventEnvelope {event_type, payload, idempotency_key,
 * correlation_id, timestamp, producer}; older ones publish the payload alone.
 */
function unwrap(msg: Obj): { p: Obj; envelope?: Obj } {
  if (typeof msg.event_type === 'string' && isObj(msg.payload) && typeof msg.idempotency_key === 'string') {
    return { p: msg.payload, envelope: msg };
  }
  return { p: msg };
}

export const sweAiFleet: Preset = {
  name: NAME,
  defaults: {
    nats: [
      { stream: 'PLANNING_EVENTS', subjects: ['planning.>'] },
      { stream: 'ORCHESTRATOR_EVENTS', subjects: ['orchestration.>'] },
      { stream: 'CONTEXT_EVENTS', subjects: ['context.>'] },
    ],
  },
  normalize(msg: Obj, raw: RawMessage, nowMs: number): Obj {
    const { p, envelope } = unwrap(msg);
    let found = raw.subject !== undefined ? platformSubject(raw.subject) : undefined;
    if (!found && raw.subject === undefined) {
      // replayed from a file or posted over HTTP: no subject, so take the event_type the services write
      const et = str(msg.event_type) ?? str(p.event_type);
      if (et) found = platformSubject(et) ?? platformSubject(`planning.${et}`);
    }
    if (!found) {
      // foreign text in an error message: bounded, like the dead letter that carries it
      const what = raw.subject !== undefined ? `subject ${raw.subject.slice(0, 200)}` : `event_type ${String(JSON.stringify(msg.event_type ?? p.event_type)).slice(0, 200)}`;
      throw unmapped(NAME, `${what} is not a known planning, orchestration, context or agent.response subject`);
    }
    const ctx: Ctx = { subject: found.subject, p };
    const out = found.rule(ctx);
    if (String(out.type).startsWith('workflow.') && out.workflow === undefined) {
      throw new RejectError('invalid_event', `preset ${NAME}: ${found.subject} without story_id or ceremony_id`);
    }
    const id = firstStr(envelope, ['idempotency_key']) ?? firstStr(p, ['event_id', 'message_id']) ?? derivedId(NAME, raw, msg);
    const attributes = pickInto({ subject: found.subject }, p, ATTRIBUTE_FIELDS);
    pickInto(attributes, envelope, ENVELOPE_FIELDS);
    return compact({
      id,
      time: normalizeTime(envelope?.timestamp) ?? firstTime(p, TIME_FIELDS) ?? nowMs,
      source: SOURCES.get(found.subject.slice(0, found.subject.indexOf('.'))),
      ...out,
      attributes,
    });
  },
};
