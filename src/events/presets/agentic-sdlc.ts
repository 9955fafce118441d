// Preset agentic-sdlc: the orchestrator's upper-case workflow events (WORKFLOW_CREATED, STAGE_COMPLETE, …)
// and its agents' results, as they land in Redis streams.
import { RejectError } from '../../errors.js';
import type { RawMessage } from '../raw.js';
import {
  compact,
  derivedId,
  firstNum,
  firstStr,
  firstTime,
  isObj,
  mapPriority,
  objOrJson,
  pickInto,
  put,
  str,
  UNKNOWN,
  unmapped,
  type Obj,
} from './common.js';
import type { Preset } from './preset.js';

const NAME = 'agentic-sdlc';

/** The platform's event types onto canonical ones; listed types not here are kept as they are. */
const CANONICAL = new Map<string, string>([
  ['WORKFLOW_CREATED', 'workflow.started'],
  ['WORKFLOW_COMPLETED', 'workflow.completed'],
  ['WORKFLOW_FAILED', 'workflow.failed'],
  ['WORKFLOW_ERROR', 'workflow.failed'],
  ['WORKFLOW_CANCELLED', 'workflow.cancelled'],
  ['WORKFLOW_PAUSED', 'workflow.paused'],
  ['WORKFLOW_RESUMED', 'workflow.resumed'],
  ['WORKFLOW_STAGE_STARTED', 'stage.started'],
  ['STAGE_STARTED', 'stage.started'],
  ['WORKFLOW_STAGE_COMPLETED', 'stage.completed'],
  ['STAGE_COMPLETED', 'stage.completed'],
  ['STAGE_COMPLETE', 'stage.completed'],
  ['WORKFLOW_STAGE_FAILED', 'stage.failed'],
  ['STAGE_FAILED', 'stage.failed'],
  // the orchestrator publishes TASK_ASSIGNED when it dispatches a task to an agent: the task's start
  ['TASK_ASSIGNED', 'task.started'],
  ['TASK_COMPLETED', 'task.completed'],
  ['TASK_FAILED', 'task.failed'],
  ['TASK_TIMEOUT', 'task.failed'],
  ['TASK_CANCELLED', 'task.cancelled'],
  ['AGENT_HEARTBEAT', 'agent.heartbeat'],
]);

/**
 * Types the platform declares or publishes that have no canonical meaning of their own (or, like
 * WORKFLOW_STARTED and TASK_STARTED, would count a run or task twice next to WORKFLOW_CREATED and
 * TASK_ASSIGNED): counted in workflow_events_total under their own name.
 */
const KEPT = new Set([
  'WORKFLOW_STARTED',
  'TASK_STARTED',
  'AGENT_REGISTERED',
  'DECISION_REQUIRED',
  'DECISION_APPROVED',
  'DECISION_REJECTED',
  'CLARIFICATION_REQUIRED',
  'CLARIFICATION_COMPLETE',
]);

/** The event aggregator's `metadata.stage` names for the same events. */
const STAGE_NAMES = new Map([
  ['orchestrator:workflow:created', 'WORKFLOW_CREATED'],
  ['orchestrator:workflow:stage:completed', 'WORKFLOW_STAGE_COMPLETED'],
  ['orchestrator:workflow:completed', 'WORKFLOW_COMPLETED'],
  ['orchestrator:workflow:failed', 'WORKFLOW_FAILED'],
  ['orchestrator:workflow:paused', 'WORKFLOW_PAUSED'],
  ['orchestrator:workflow:resumed', 'WORKFLOW_RESUMED'],
]);

const ATTRIBUTE_FIELDS = new Set(['agent_id', 'status', 'reason', 'name', 'action']);

// `id` values such as event-1732100000000 come from Date.now(): two events in one millisecond share one
const TIMESTAMP_ID = /^event-\d+$/;

const truthy = (v: unknown) => v === true || v === 'true';

/**
 * The event inside a stream entry. The orchestrator's EventBus writes the JSON in a `data` field
 * (the source hands it over decoded); its message bus mirrors publishes as {topic, payload} where
 * payload is JSON text {key, msg}; hand-written entries put each field in its own entry field.
 */
function unwrap(msg: Obj): { m: Obj; topic?: string } {
  if (typeof msg.topic === 'string' && typeof msg.payload === 'string') {
    const env = objOrJson(msg.payload);
    if (!env) throw new RejectError('invalid_event', `preset ${NAME}: entry of topic ${msg.topic} has a payload that is not a JSON object`);
    return { m: isObj(env.msg) ? env.msg : env, topic: msg.topic };
  }
  return { m: msg };
}

/** The platform type of an event, or of an agent result (which carries none: `result` is set). */
function platformType(m: Obj): { ptype: string; result?: true } | undefined {
  const t = str(m.type) ?? str(m.event_type);
  if (t) return { ptype: t.toUpperCase() };
  const stage = (isObj(m.metadata) ? str(m.metadata.stage) : undefined) ?? str(m.stage);
  const named = stage === undefined ? undefined : STAGE_NAMES.get(stage);
  if (named) return { ptype: named };
  if (str(m.task_id) && (typeof m.success === 'boolean' || m.success === 'true' || m.success === 'false')) {
    return { ptype: truthy(m.success) ? 'TASK_COMPLETED' : 'TASK_FAILED', result: true };
  }
  return undefined;
}

export const agenticSdlc: Preset = {
  name: NAME,
  defaults: {
    redis: {
      // what the orchestrator writes today: EventBus streams per type, and agent results mirrored by
      // its message bus; the monitoring topic workflow:events is read as stream:workflow:events
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
  },
  normalize(msg: Obj, raw: RawMessage, nowMs: number): Obj {
    const { m, topic } = unwrap(msg);
    const found = platformType(m);
    // foreign text in error messages is bounded, like the dead letter that carries it
    if (!found) throw unmapped(NAME, `no type, event_type or metadata.stage in entry with fields ${Object.keys(m).slice(0, 8).join(', ').slice(0, 200) || '(none)'}`);
    const { ptype, result: isResult = false } = found;
    const type = CANONICAL.get(ptype) ?? (KEPT.has(ptype) ? ptype : undefined);
    if (!type) throw unmapped(NAME, `type ${(str(m.type) ?? str(m.event_type) ?? ptype).slice(0, 200)} is not an agentic-sdlc workflow, stage, task or agent event`);
    // an agent result is its own payload; events nest theirs (as JSON text in field-by-field entries)
    const p: Obj = isResult ? m : (objOrJson(m.payload) ?? {});
    const ctxs = [p, m, isObj(p.workflow_context) ? p.workflow_context : undefined, isObj(m.workflow_context) ? m.workflow_context : undefined];
    const read = (keys: readonly string[]) => {
      for (const o of ctxs) {
        const v = firstStr(o, keys);
        if (v !== undefined) return v;
      }
      return undefined;
    };
    const dot = type.indexOf('.');
    const kind = dot > 0 ? type.slice(0, dot) : type;

    const workflowId = read(['workflow_id']);
    // WORKFLOW_CREATED carries the workflow's type as payload.type
    const workflowType = read(['workflow_type']) ?? (ptype === 'WORKFLOW_CREATED' ? str(p.type) : undefined) ?? UNKNOWN;
    if (kind === 'workflow' && !workflowId) throw new RejectError('invalid_event', `preset ${NAME}: ${ptype} without workflow_id`);
    const stageRaw = str(p.stage) ?? str(p.completed_stage) ?? str(p.failed_stage) ?? (isResult ? undefined : str(m.stage));
    const stage = stageRaw && !stageRaw.includes(':') ? stageRaw : read(['current_stage']);
    const taskId = read(['task_id']);
    const metrics = isObj(p.metrics) ? p.metrics : undefined;
    const error = isObj(p.error) ? str(p.error.message) : str(p.error);

    let id = firstStr(m, ['id', 'message_id', 'event_id']);
    if (id && TIMESTAMP_ID.test(id)) id = `${id}:${ptype}:${workflowId ?? taskId ?? ''}`;
    const attributes = pickInto({}, p, ATTRIBUTE_FIELDS);
    put(attributes, 'success', typeof p.success === 'boolean' ? p.success : undefined);
    put(attributes, 'error', error);
    put(attributes, 'tokens_used', metrics ? firstNum(metrics, ['tokens_used']) : undefined);
    put(attributes, 'trace_id', str(m.trace_id) ?? (isObj(m.trace) ? str(m.trace.trace_id) : undefined));
    attributes.platform_type = ptype;
    put(attributes, 'stream', raw.subject);
    put(attributes, 'topic', topic);

    return compact({
      id: id ?? derivedId(NAME, raw, msg),
      type,
      time: firstTime(m, ['timestamp']) ?? firstTime(p, ['timestamp', 'created_at']) ?? (isObj(m.metadata) ? firstTime(m.metadata, ['created_at']) : undefined) ?? nowMs,
      source: isResult ? 'agents' : 'orchestrator',
      workflow: workflowId ? { id: workflowId, type: workflowType } : undefined,
      stage,
      task: (kind === 'task' || kind === 'stage') && taskId ? { id: taskId } : undefined,
      agent: read(['agent_type']),
      duration_ms: firstNum(p, ['duration_ms']) ?? (metrics ? firstNum(metrics, ['duration_ms']) : undefined),
      priority: mapPriority(p.priority ?? m.priority),
      attributes,
    });
  },
};
