// Traces of pipeline batches: one span per batch from the source's hand-over through every sink to
// its release for ack, with the event ids as attributes and a child span per sink.
import { AsyncLocalStorage } from 'node:async_hooks';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Span, type Tracer } from '@opentelemetry/api';
import type { SourceKind } from '../config/schema.js';
import type { BatchHandler, ProcessedBatch, Sink } from '../pipeline/types.js';
import { descriptorOf } from '../sources/index.js';

export const ACK_WAIT_MS = 30_000; // a batch span whose ack never comes ends after this, marked unconfirmed

export class BatchTracer {
  // the batch span in scope across the awaits of one batch; sinks of concurrent batches never mix
  private readonly current = new AsyncLocalStorage<{ span: Span; ids: boolean }>();

  constructor(
    private readonly tracer: Tracer,
    private readonly maxIds: number,
  ) {}

  handler(source: string, kind: SourceKind, next: BatchHandler): BatchHandler {
    // a kind that acks once the sinks took a batch (and calls BatchResult.acked then): its span waits for the ack
    const acks = descriptorOf(kind).acks;
    return (messages) => {
      const span = this.tracer.startSpan(`batch ${source}`, {
        kind: SpanKind.CONSUMER,
        attributes: { 'messaging.system': kind, 'messaging.batch.message_count': messages.length, 'wfx.source': source },
      });
      // a batch the sampler left out costs nothing more: no child spans, no ids, no ack wait
      if (!span.isRecording()) return next(messages);
      return this.current.run({ span, ids: false }, async () => {
        let r;
        try {
          r = await next(messages);
        } catch (err) {
          span.recordException(err as Error);
          span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
          span.end();
          throw err;
        }
        span.setAttributes({ 'wfx.accepted': r.accepted, 'wfx.rejected': r.rejected });
        // every sink took the batch: the source may ack now
        span.addEvent('released for ack');
        if (!acks) {
          span.end();
          return r;
        }
        // the ack is the source's: a child span from release to the source's call of acked()
        const ack = this.tracer.startSpan('ack', { attributes: { 'messaging.system': kind } }, trace.setSpan(ROOT_CONTEXT, span));
        let open = true;
        const finish = (outcome: 'acked' | 'unconfirmed') => {
          if (!open) return;
          open = false;
          clearTimeout(timer);
          ack.setAttribute('wfx.ack', outcome);
          ack.end();
          span.end();
        };
        const timer = setTimeout(() => finish('unconfirmed'), ACK_WAIT_MS);
        timer.unref();
        return { ...r, acked: () => finish('acked') };
      });
    };
  }

  /** The sink, with a child span of the batch span around each write. */
  sink(s: Sink): Sink {
    return {
      name: s.name,
      write: (batch: ProcessedBatch) => {
        const cur = this.current.getStore();
        if (!cur) return s.write(batch);
        if (!cur.ids) {
          cur.ids = true;
          this.recordIds(cur.span, batch);
        }
        const span = this.tracer.startSpan(`sink ${s.name}`, { attributes: { 'wfx.events': batch.events.length } }, trace.setSpan(ROOT_CONTEXT, cur.span));
        const fail = (err: unknown) => {
          span.recordException(err as Error);
          span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
          span.end();
          throw err;
        };
        try {
          const r = s.write(batch);
          if (r) {
            return r.then(() => span.end(), fail);
          }
          span.end();
          return r;
        } catch (err) {
          return fail(err);
        }
      },
      close: s.close ? () => s.close!() : undefined,
    };
  }

  private recordIds(span: Span, batch: ProcessedBatch): void {
    const n = batch.events.length;
    const take = Math.min(n, this.maxIds);
    const ids = new Array<string>(take);
    for (let i = 0; i < take; i++) ids[i] = batch.events[i].id;
    span.addEvent('validated', { 'wfx.events': n });
    span.setAttributes({ 'wfx.event_ids': ids, 'wfx.event_ids_omitted': n - take });
  }
}
