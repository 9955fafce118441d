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

const name = z.string().min(1).max(MAX_NAME);

/** Event types: the lifecycle set above, or a custom dotted name. */
export const eventType = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.:-]*$/, 'type must be dotted words such as task.completed');

export const canonicalEventSchema = z.object({
  id: z.string().min(1).max(MAX_ID).describe('unique event id; the dedupe key'),
  type: eventType.describe('workflow.*, stage.*, task.*, agent.*, queue.depth or a custom type'),
  time: z
    .union([z.string().min(1).max(64), z.number()])
    .describe('RFC 3339 timestamp, or epoch milliseconds'),
  source: name.describe('the emitting component, e.g. orchestrator'),
  workflow: z
    .object({ id: z.string().min(1).max(MAX_ID), type: name })
    .optional()
    .describe('the run this event belongs to; its type becomes the workflow_type label'),
  stage: name.optional(),
  task: z.object({ id: z.string().min(1).max(MAX_ID), name: name.optional() }).optional(),
  agent: name.optional(),
  duration_ms: z.number().optional().describe('elapsed time; else derived from the matching *.started event'),
  priority: z.enum(PRIORITIES).default('normal'),
  queue: z.object({ name, depth: z.number() }).optional().describe('for queue.depth events'),
  tokens_in: z.number().optional(),
  tokens_out: z.number().optional(),
  model: name.optional(),
  cost_usd: z.number().optional(),
  tool: name.optional().describe('the tool of a tool.called / tool.failed event'),
  enqueued_at: z
    .union([z.string().min(1).max(64), z.number()])
    .optional()
    .describe('on task.started: when the task was enqueued (RFC 3339 or epoch ms); queue wait is time minus this'),
  queue_wait_ms: z.number().optional().describe('on task.started: time the task waited in its queue; wins over enqueued_at'),
  attributes: z.record(z.string(), z.unknown()).optional().describe('free-form; never a label unless allow-listed'),
});

export type CanonicalEventInput = z.input<typeof canonicalEventSchema>;
export type WorkflowEvent = z.output<typeof canonicalEventSchema>;
