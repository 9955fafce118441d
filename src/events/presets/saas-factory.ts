// Preset saas-factory: the event dashboard's messages {event_type, data, timestamp, source, priority}
// (agent_request, agent_response, agent_error, system_health, metrics, alerts).
import type { RawMessage } from '../raw.js';
import { compact, derivedId, firstNum, firstStr, firstTime, isObj, mapPriority, pickInto, str, UNKNOWN, unmapped, type Obj } from './common.js';
import type { Preset } from './preset.js';

const NAME = 'saas-factory';

const TYPES = new Map([
  ['agent_request', 'task.started'],
  ['agent_started', 'task.started'], // the Next.js manager's name for the same moment
  ['agent_response', 'task.completed'],
  ['agent_completed', 'task.completed'],
  ['agent_error', 'task.failed'],
  // system events have no lifecycle: kept as custom types so workflow_events_total counts them
  ['system_health', 'system.health'],
  ['metrics', 'system.metrics'],
  ['alerts', 'system.alerts'],
]);

// A request id pairs agent_request with its agent_response / agent_error.
const REQUEST_ID_FIELDS = ['request_id', 'requestId', 'task_id', 'taskId', 'correlation_id', 'correlationId'] as const;
const AGENT_FIELDS = ['agent', 'agent_name', 'agentName', 'agent_type', 'agentType'] as const;
const DURATION_FIELDS = ['duration_ms', 'durationMs', 'response_time_ms', 'latency_ms', 'execution_time_ms', 'processing_time_ms'] as const;
const AGENT_ATTRIBUTES = new Set(['request_id', 'requestId', 'agent_id', 'agentId', 'error', 'error_type', 'message', 'status', 'tenant_id']);

function tokens(data: Obj): { tokens_in?: number; tokens_out?: number } {
  const usage = isObj(data.usage) ? data.usage : data;
  return {
    tokens_in: firstNum(usage, ['tokens_in', 'input_tokens', 'prompt_tokens']),
    tokens_out: firstNum(usage, ['tokens_out', 'output_tokens', 'completion_tokens']),
  };
}

export const saasFactory: Preset = {
  name: NAME,
  defaults: {},
  normalize(msg: Obj, raw: RawMessage, nowMs: number): Obj {
    // the Python manager writes snake_case event_type; the Next.js one camelCase eventType
    const eventType = str(msg.event_type) ?? str(msg.eventType);
    if (!eventType) throw unmapped(NAME, 'message has no event_type');
    const type = TYPES.get(eventType);
    if (!type) throw unmapped(NAME, `event_type ${eventType.slice(0, 200)} is not one of ${[...TYPES.keys()].join(', ')}`);
    const data: Obj = isObj(msg.data) ? msg.data : {};
    const source = str(msg.source);
    const isTask = type.startsWith('task.');
    const requestId = firstStr(data, REQUEST_ID_FIELDS) ?? firstStr(msg, ['correlationId', 'correlation_id']);
    const workflowId = firstStr(data, ['workflow_id', 'workflowId']);
    const priority = mapPriority(msg.priority) ?? mapPriority(data.severity);

    const attributes: Obj = isTask ? pickInto({}, data, AGENT_ATTRIBUTES) : { ...data };
    if (priority === undefined && msg.priority !== undefined) attributes.priority_raw = msg.priority;
    for (const k of ['tenantId', 'userId'] as const) if (msg[k] !== undefined) attributes[k] = msg[k];

    return compact({
      id: firstStr(msg, ['id', 'event_id']) ?? firstStr(data, ['event_id']) ?? derivedId(NAME, raw, msg),
      type,
      time: firstTime(msg, ['timestamp']) ?? firstTime(data, ['timestamp']) ?? nowMs,
      source: source ?? NAME,
      workflow: workflowId ? { id: workflowId, type: firstStr(data, ['workflow_type', 'workflowType']) ?? UNKNOWN } : undefined,
      task: isTask && requestId ? { id: requestId } : undefined,
      // dashboard sources are agent names (idea_agent, market_agent); data names the agent when set
      agent: isTask ? (firstStr(data, AGENT_FIELDS) ?? source) : undefined,
      duration_ms: isTask ? firstNum(data, DURATION_FIELDS) : undefined,
      model: isTask ? str(data.model) : undefined,
      cost_usd: isTask ? firstNum(data, ['cost_usd', 'costUsd']) : undefined,
      ...(isTask ? tokens(data) : {}),
      priority,
      attributes: Object.keys(attributes).length > 0 ? attributes : undefined,
    });
  },
};
