// The demo source: the traffic generator feeding the pipeline in-process, so the exporter shows
// live data with no broker at all.
import type { Logger } from 'pino';
import type { BatchHandler, Source, SourceStatus } from '../../pipeline/types.js';
import type { Metrics } from '../../metrics/registry.js';
import { DemoGenerator, type DemoOptions } from './generator.js';

export const DEMO_TICK_MS = 100; // 10 batches a second: smooth for the live page, cheap for the pipeline

export class DemoSource implements Source {
  readonly kind = 'demo' as const;
  /** a batch the sinks refused; the demo logs it and carries on with the next tick */
  readonly errorKinds = ['batch_failed'] as const;
  private timer?: NodeJS.Timeout;
  private inFlight: Promise<unknown> = Promise.resolve();
  private running = false;
  readonly generator: DemoGenerator;

  constructor(
    readonly name: string,
    opts: DemoOptions,
    private readonly logger: Logger,
    private readonly metrics?: Metrics,
    /** the generator's clock; tests pass a fast one to see minutes of traffic in seconds */
    private readonly now: () => number = Date.now,
  ) {
    this.generator = new DemoGenerator(opts, now());
  }

  async start(handler: BatchHandler): Promise<void> {
    this.running = true;
    const tick = async () => {
      if (!this.running) return;
      const events = this.generator.tick(this.now());
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
