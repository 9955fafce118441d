// The demo source: the traffic generator feeding the pipeline in-process, so the exporter shows
// live data with no broker at all.
import type { Logger } from 'pino';
import type { BatchHandler, Source, SourceStatus } from '../../pipeline/types.js';
import { DemoGenerator, type DemoOptions } from './generator.js';

export const DEMO_TICK_MS = 100; // 10 batches a second: smooth for the live page, cheap for the pipeline

export class DemoSource implements Source {
  readonly kind = 'demo' as const;
  private timer?: NodeJS.Timeout;
  private inFlight: Promise<unknown> = Promise.resolve();
  private running = false;
  readonly generator: DemoGenerator;

  constructor(
    readonly name: string,
    opts: DemoOptions,
    private readonly logger: Logger,
  ) {
    this.generator = new DemoGenerator(opts);
  }

  async start(handler: BatchHandler): Promise<void> {
    this.running = true;
    const tick = async () => {
      if (!this.running) return;
      const events = this.generator.tick();
      if (events.length > 0) {
        this.inFlight = handler(events.map((value) => ({ value }))).catch((err) =>
          this.logger.error({ err, source: this.name }, 'demo batch failed'),
        );
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
    return { connected: this.running };
  }
}
