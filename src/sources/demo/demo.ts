// The demo source: the traffic generator feeding the pipeline in-process, so the exporter shows
// live data with no broker at all.
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { BatchHandler, Source, SourceStatus } from '../../pipeline/types.js';
import type { Metrics } from '../../metrics/registry.js';
import type { CanonicalEventInput } from '../../events/schema.js';
import { SpanMapper } from '../otlp/mapping.js';
import { SpansFromEvents } from '../otlp/from-events.js';
import { decodeProtobuf } from '../otlp/proto.js';
import { DemoGenerator, MODEL_PRICES, type DemoOptions } from './generator.js';

export const DEMO_TICK_MS = 100; // 10 batches a second: smooth for the live page, cheap for the pipeline

/** The share of runs `serve --demo` sends as GenAI spans: the otlp mapping, trace ids and exemplars show, and most runs keep the event-only parts (pauses, queue waits). */
export const DEFAULT_DEMO_SPAN_SHARE = 0.25;

/** `spans` as a share of runs: true is all of them, false none. */
export const spanShare = (spans: boolean | number | undefined): number => (spans === true ? 1 : typeof spans === 'number' ? spans : 0);

/** Whether run `id` is among the `share` sent as spans: a hash of the id, so every event of a run goes the same way. */
export const runAsSpans = (id: string, share: number): boolean => share >= 1 || (share > 0 && createHash('sha256').update(id).digest().readUInt32BE(0) / 2 ** 32 < share);

export class DemoSource implements Source {
  readonly kind = 'demo' as const;
  /** a batch the sinks refused; the demo logs it and carries on with the next tick */
  readonly errorKinds = ['batch_failed'] as const;
  private timer?: NodeJS.Timeout;
  private inFlight: Promise<unknown> = Promise.resolve();
  private running = false;
  readonly generator: DemoGenerator;

  /** with `spans`: the traffic (of that share of runs) as OTLP spans and back through the otlp source's mapping */
  private readonly asSpans?: (events: CanonicalEventInput[]) => CanonicalEventInput[];

  constructor(
    readonly name: string,
    opts: DemoOptions & { spans?: boolean | number },
    private readonly logger: Logger,
    private readonly metrics?: Metrics,
    /** the generator's clock; tests pass a fast one to see minutes of traffic in seconds */
    private readonly now: () => number = Date.now,
  ) {
    this.generator = new DemoGenerator(opts, now());
    const share = spanShare(opts.spans);
    if (share > 0) {
      const conv = new SpansFromEvents();
      const prices = Object.fromEntries(Object.entries(MODEL_PRICES).map(([m, p]) => [m, { inputPerMillion: p.in, outputPerMillion: p.out }]));
      const mapper = new SpanMapper({ prices, maxTokensPerSpan: 10_000_000, traceCacheSize: 100_000 });
      // encoded and decoded as an exporter's would be: the mapping sees what it sees from the wire
      const viaSpans = (events: CanonicalEventInput[]) => {
        const spans = conv.spans(events);
        return spans.length === 0 ? [] : mapper.map(decodeProtobuf(SpansFromEvents.encode(spans, 'demo-agents'))).events;
      };
      this.asSpans =
        share >= 1
          ? viaSpans
          : (events) => {
              // spans carry no heartbeats, queue depths or pauses: events without a run, and the other runs, stay events
              const spanned: CanonicalEventInput[] = [];
              const plain: CanonicalEventInput[] = [];
              for (const e of events) (e.workflow && runAsSpans(e.workflow.id, share) ? spanned : plain).push(e);
              return spanned.length === 0 ? plain : [...plain, ...viaSpans(spanned)];
            };
    }
  }

  async start(handler: BatchHandler): Promise<void> {
    this.running = true;
    const tick = async () => {
      if (!this.running) return;
      const ticked = this.generator.tick(this.now());
      const events = this.asSpans ? this.asSpans(ticked) : ticked;
      if (events.length > 0) {
        this.inFlight = handler(events.map((value) => ({ value }))).catch((err) => {
          this.metrics?.sourceErrors.labels(this.name, 'batch_failed').inc();
          this.logger.error({ err, source: this.name }, 'demo batch failed');
        });
        await this.inFlight;
      }
      if (this.running) this.timer = setTimeout(tick, DEMO_TICK_MS);
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await this.inFlight;
  }

  status(): SourceStatus {
    // nothing waits: every event that fell due goes to the pipeline on the tick it fell due
    return { connected: this.running, pending: 0 };
  }
}
