// Operator control commands: the payload a workflow platform receives, and the bus contract.
import { randomUUID } from 'node:crypto';

export const CONTROL_ACTIONS = ['pause', 'resume', 'cancel'] as const;
export type ControlAction = (typeof CONTROL_ACTIONS)[number];

/** Outcomes of a control request; label values of workflow_exporter_control_commands_total. */
export type ControlOutcome = 'published' | 'failed' | 'refused' | 'invalid';

/**
 * What the platform receives, as JSON, on every bus. `id` is unique per command (a platform
 * dedupes on it: JetStream also gets it as Nats-Msg-Id); `seq` orders the queue bus only.
 */
export interface ControlCommand {
  id: string;
  type: 'workflow.control';
  action: ControlAction;
  workflow_id: string;
  reason?: string;
  requested_by: string;
  requested_at: string;
  seq?: number;
}

/** Where commands go. `target` names the subject or stream for the reply and the audit entry. */
export interface ControlBus {
  readonly kind: 'nats' | 'redis' | 'queue';
  target(workflowId: string): string;
  /** resolves once the bus took the command; rejects when it could not */
  publish(cmd: ControlCommand): Promise<void>;
  /** why this workflow id cannot be addressed on this bus, or undefined when it can */
  invalidId?(workflowId: string): string | undefined;
}

export function makeCommand(action: ControlAction, workflowId: string, requestedBy: string, reason: string | undefined, now: number): ControlCommand {
  const cmd: ControlCommand = {
    id: randomUUID(),
    type: 'workflow.control',
    action,
    workflow_id: workflowId,
    requested_by: requestedBy,
    requested_at: new Date(now).toISOString(),
  };
  if (reason !== undefined) cmd.reason = reason;
  return cmd;
}

/** A bus that could not take a command; the cause is the client's error. */
export class ControlBusError extends Error {
  readonly code = 'control_bus_failed';
  constructor(bus: string, message: string, options?: { cause?: unknown }) {
    super(`${bus}: ${message}`, options);
    this.name = 'ControlBusError';
  }
}
