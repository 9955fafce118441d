// The pipeline runner: decode, normalize, validate, lifecycle state, then every sink; a batch's
// promise resolves only when all sinks took it, so a source acks after that and never before.
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { RejectError, type RejectReason, errorMessage } from '../errors.js';
import { createNormalizer, type NormalizeOptions, type Normalizer } from '../events/normalize.js';
import type { WorkflowEvent } from '../events/schema.js';
import type { DeadLetter, DeadLetters } from './dead-letters.js';
import type { Metrics } from '../metrics/registry.js';
import { opFor, UNKNOWN, type LifecycleOp, type LifecycleStore } from '../state/lifecycle.js';
import { RateLimitedLog } from '../util/rate-limited-log.js';
import type { Admitted, EventAccounting } from './accounting.js';
import type { BatchHandler, BatchResult, ProcessedBatch, RejectedItem, Sink } from './types.js';
import type { RawMessage } from '../events/raw.js';
import { decode, validateBuilt, validateEvent } from './validate.js';

export const MAX_ERRORS_IN_RESULT = 20; // enough for a producer to see what is wrong, bounded response

export interface PipelineDeps {
  config: Config;
  metrics: Metrics;
  store: LifecycleStore;
  deadLetters: DeadLetters;
  logger: Logger;
  now?: () => number;
  /** duplicate ids and late events (accounting.ts): one Map lookup per event */
  accounting?: EventAccounting;
}

export class Pipeline {
  private readonly sinks: Sink[] = [];
  private readonly rejectLog: RateLimitedLog;
  private readonly now: () => number;
  private inFlight = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(private readonly deps: PipelineDeps) {
    this.now = deps.now ?? Date.now;
    this.rejectLog = new RateLimitedLog(deps.logger, deps.config.log.rejectLogsPerMinute, this.now);
  }

  addSink(sink: Sink): void {
    this.sinks.push(sink);
  }

  /** Wraps every sink added so far (batch tracing, when OpenTelemetry output is on). */
  wrapSinks(wrap: (sink: Sink) => Sink): void {
    for (let i = 0; i < this.sinks.length; i++) this.sinks[i] = wrap(this.sinks[i]);
  }

  /** The handler a source calls with its batches. */
  handler(source: string, opts: NormalizeOptions = {}): BatchHandler {
    const normalize = createNormalizer(opts);
    return (messages) => this.process(source, normalize, messages);
  }

  async process(source: string, normalize: Normalizer, messages: RawMessage[]): Promise<BatchResult> {
    this.inFlight++;
    const started = performance.now();
    try {
      return await this.run(source, normalize, messages);
    } finally {
      this.deps.metrics.batchDuration.labels(source).observe((performance.now() - started) / 1000);
      if (--this.inFlight === 0) {
        const w = this.idleWaiters;
        this.idleWaiters = [];
        for (const f of w) f();
      }
    }
  }

  private async run(source: string, normalize: Normalizer, messages: RawMessage[]): Promise<BatchResult> {
    const { metrics, config, deadLetters } = this.deps;
    const nowMs = this.now();
    const limits = config.validation;
    metrics.received.labels(source).inc(messages.length);

    const events: WorkflowEvent[] = [];
    const timesMs: number[] = [];
    let letters: DeadLetter[] | undefined;
    let errors: RejectedItem[] | undefined;
    let rejected = 0;

    for (let i = 0; i < messages.length; i++) {
      const m = messages[i];
      try {
        let v;
        if (m.built) v = validateBuilt(m.value as Record<string, unknown>, limits, nowMs);
        else {
          const value = m.value !== undefined ? m.value : decode(m.data ?? '', limits.maxMessageBytes);
          v = validateEvent(normalize(value, m, nowMs), limits, nowMs);
        }
        events.push(v.event);
        timesMs.push(v.timeMs);
      } catch (err) {
        const reason: RejectReason = err instanceof RejectError ? err.reason : 'invalid_event';
        const message = errorMessage(err);
        rejected++;
        metrics.rejected.labels(source, reason).inc();
        (letters ??= []).push(deadLetters.make(source, reason, message, m.value !== undefined ? m.value : m.data, m.subject, m.transportId));
        if (!errors) errors = [];
        if (errors.length < MAX_ERRORS_IN_RESULT) errors.push({ index: i, reason, message });
        this.rejectLog.warn(`reject:${reason}`, { source, reason, error: message, subject: m.subject, transportId: m.transportId }, 'event rejected');
      }
    }

    const pending: Promise<unknown>[] = [];
    if (letters) pending.push(deadLetters.record(letters));

    let admitted: Admitted | undefined;
    try {
      if (this.deps.accounting && events.length > 0) {
        const a = this.deps.accounting.admit(events, timesMs, nowMs);
        // a promise only with the shared filter: the per-process path stays without an await
        admitted = a instanceof Promise ? await a : a;
      }
      if (events.length > 0) {
        const durations = await this.derive(events, timesMs);
        const batch: ProcessedBatch = { source, events, timesMs, durations, receivedAtMs: nowMs };
        for (const sink of this.sinks) {
          const r = sink.write(batch);
          if (r) pending.push(r);
        }
      }
      if (pending.length > 0) await Promise.all(pending);
      if (admitted?.claimed) void this.deps.accounting!.confirm(admitted);
    } catch (err) {
      // the source redelivers a failed batch: its ids must not count as duplicates then
      if (admitted) {
        await this.deps.accounting!.forget(admitted).catch((cause: unknown) =>
          // the provisional claims lapse after sharedDedupePendingMs: a redelivery sooner is taken for a duplicate
          this.deps.logger.warn({ source, ids: admitted!.claimed?.length, err: errorMessage(cause) }, 'shared duplicate filter: releasing the ids of a failed batch failed'),
        );
      }
      throw err;
    }
    return { accepted: events.length, rejected, errors: errors ?? [] };
  }

  private readonly endBeforeStart = () => this.deps.metrics.lifecycleAnomalies.labels('end_before_start').inc();

  /**
   * The lifecycle step (state, and durations in seconds: duration_ms when given, else end time minus
   * the matched start). Alone, without the duplicate filter and the sinks, it lets events read back
   * from the bus seed the state of a pipeline of their own (the tail follower's), so the ends that
   * come after them get their durations.
   */
  derive(events: WorkflowEvent[], timesMs: number[]): Promise<number[]> {
    return deriveDurations(this.deps.store, events, timesMs, this.endBeforeStart);
  }

  /** Resolves when no batch is in flight. */
  drain(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async close(): Promise<void> {
    await this.drain();
    for (const s of this.sinks) await s.close?.();
  }
}

/**
 * Durations in seconds, NaN where none: duration_ms when given, else the end's time minus the start
 * the store matched. Applies every lifecycle op of the events to the store, in order.
 */
export async function deriveDurations(store: LifecycleStore, events: WorkflowEvent[], timesMs: number[], endBeforeStart: () => void = () => {}): Promise<number[]> {
  const durations = new Array<number>(events.length);
  const ops: LifecycleOp[] = [];
  const opIndex: number[] = [];
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    durations[i] = e.duration_ms !== undefined ? e.duration_ms / 1000 : NaN;
    const op = opFor(e, timesMs[i]);
    if (op) {
      ops.push(op);
      opIndex.push(i);
    }
  }
  if (ops.length === 0) return durations;
  const starts = await store.apply(ops);
  for (let j = 0; j < ops.length; j++) {
    const i = opIndex[j];
    const start = starts[j];
    // an end event that does not name its workflow type takes the one its start recorded
    const st = ops[j].startType;
    const wf = events[i].workflow;
    if (st !== undefined && wf && wf.type === UNKNOWN && st !== UNKNOWN) wf.type = st;
    if (start === start && durations[i] !== durations[i]) {
      const d = (timesMs[i] - start) / 1000;
      if (d >= 0) durations[i] = d;
      else endBeforeStart();
    }
  }
  return durations;
}
