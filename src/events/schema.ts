// The canonical workflow event: the zod schema every source's messages are normalized to.
import { z } from 'zod';

export const LIFECYCLE_TYPES = [
  'workflow.started',
  'workflow.completed',
  'workflow.failed',
  'workflow.cancelled',
  'workflow.paused',
  'workflow.resumed',
  'stage.started',
  'stage.completed',
  'stage.failed',
  'task.started',
  'task.completed',
  'task.failed',
  'agent.heartbeat',
  'agent.request',
  'agent.response',
  'agent.error',
  'queue.depth',
  'tool.called',
  'tool.failed',
] as const;

export const PRIORITIES = ['low', 'normal', 'high', 'critical'] as const;
export type Priority = (typeof PRIORITIES)[number];

export const MAX_ID = 256; // ids are dedupe keys, never labels; long enough for URNs and ULIDs with prefixes
export const MAX_NAME = 256; // names become label values only after the guard truncates them

// Bounds of the numeric fields: far above any real value, far below what poisons a metric. A counter
// adds every event's tokens and cost for the life of the process, and two events of 1.79e308 made the
// cost counter +Inf until restart; at these bounds no number of events can reach +Inf. Past a bound
// the event is rejected (reason out_of_range; invalid_duration and invalid_timestamp for durations
// and times, see validate.ts), never clamped: a clamped value would be counted as if it were true.
export const MAX_TOKENS = 1e9; // tokens of one event: a thousand times the largest context window
export const MAX_COST_USD = 1e6; // dollars of one event
export const MAX_DURATION_MS = 366 * 24 * 3600 * 1000; // a year and a day; validation.maxDurationSeconds (30 days by default) is the operator's tighter limit
export const MAX_QUEUE_DEPTH = 1e9; // items waiting in one queue
export const MAX_EPOCH_MS = Date.UTC(9999, 11, 31, 23, 59, 59, 999); // the last instant RFC 3339 can write (year 9999)

const name = z.string().min(1).max(MAX_NAME);
/** a time as RFC 3339 text or epoch (seconds below 1e11, else milliseconds); the text is parsed by validate.ts */
const time = z.union([z.string().min(1).max(64), z.number().min(0).max(MAX_EPOCH_MS)]);

/** Event types: the lifecycle set above, or a custom dotted name. */
export const eventType = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.:-]*$/, 'type must be dotted words such as task.completed');

export const canonicalEventSchema = z.object({
  id: z.string().min(1).max(MAX_ID).describe('unique event id; the dedupe key'),
  type: eventType.describe('workflow.*, stage.*, task.*, agent.*, queue.depth or a custom type'),
  time: time.describe('RFC 3339 timestamp, or epoch seconds or milliseconds'),
  source: name.describe('the emitting component, e.g. orchestrator'),
  workflow: z
    .object({ id: z.string().min(1).max(MAX_ID), type: name })
    .optional()
    .describe('the run this event belongs to; its type becomes the workflow_type label'),
  stage: name.optional(),
  task: z.object({ id: z.string().min(1).max(MAX_ID), name: name.optional() }).optional(),
  agent: name.optional(),
  duration_ms: z.number().min(0).max(MAX_DURATION_MS).optional().describe('elapsed time; else derived from the matching *.started event'),
  priority: z.enum(PRIORITIES).default('normal'),
  queue: z.object({ name, depth: z.number().min(0).max(MAX_QUEUE_DEPTH) }).optional().describe('for queue.depth events'),
  tokens_in: z.number().min(0).max(MAX_TOKENS).optional(),
  tokens_out: z.number().min(0).max(MAX_TOKENS).optional(),
  model: name.optional(),
  cost_usd: z.number().min(0).max(MAX_COST_USD).optional(),
  tool: name.optional().describe('the tool of a tool.called / tool.failed event'),
  enqueued_at: time
    .optional()
    .describe('on task.started: when the task was enqueued (RFC 3339 or epoch ms); queue wait is time minus this'),
  // no lower bound: a negative wait is clock skew, counted as a lifecycle anomaly and the event kept
  queue_wait_ms: z.number().max(MAX_DURATION_MS).optional().describe('on task.started: time the task waited in its queue; wins over enqueued_at'),
  attributes: z.record(z.string(), z.unknown()).optional().describe('free-form; never a label unless allow-listed'),
});

export type CanonicalEventInput = z.input<typeof canonicalEventSchema>;
export type WorkflowEvent = z.output<typeof canonicalEventSchema>;
