// The contracts between sources, the pipeline and sinks.
import type { SourceKind } from '../config/schema.js';
import type { RejectReason } from '../errors.js';
import type { RawMessage } from '../events/raw.js';
import type { WorkflowEvent } from '../events/schema.js';

export interface RejectedItem {
  index: number;
  reason: RejectReason;
  message: string;
}

export interface BatchResult {
  accepted: number;
  rejected: number;
  /** the first few rejections, for the HTTP response; all are counted and dead-lettered */
  errors: RejectedItem[];
  /** set when batches are traced: a source that acks calls it once the ack is written */
  acked?: () => void;
}

/** Called by a source with one batch; resolves once every sink took it. Only then may the source ack. */
export type BatchHandler = (messages: RawMessage[]) => Promise<BatchResult>;

export interface SourceStatus {
  connected: boolean;
  /** messages waiting in the bus for this consumer, when the bus can tell */
  pending?: number;
  /** a short human reason when not connected */
  detail?: string;
}

export interface Source {
  readonly name: string;
  readonly kind: SourceKind;
  /** connect (create or attach resources) and begin delivering batches to the handler */
  start(handler: BatchHandler): Promise<void>;
  /** stop fetching; resolves after the in-flight batch went through the sinks and was acked */
  stop(): Promise<void>;
  status(): SourceStatus;
  /** the closed kinds this source counts in workflow_exporter_source_errors_total; they start at zero */
  readonly errorKinds?: readonly string[];
}

/** A validated batch as sinks see it. Arrays are aligned by index. */
export interface ProcessedBatch {
  /** the exporter source's name (nats, redis, http, demo…) */
  source: string;
  events: WorkflowEvent[];
  /** event time, epoch ms */
  timesMs: number[];
  /** duration in seconds from duration_ms or lifecycle state; NaN when neither gives one */
  durations: number[];
  receivedAtMs: number;
}

export interface Sink {
  readonly name: string;
  write(batch: ProcessedBatch): void | Promise<void>;
  close?(): Promise<void>;
}
