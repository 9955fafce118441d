// The memory source: an in-process queue that embedders and tests push events into.
import type { BatchHandler, BatchResult, Source, SourceStatus } from '../../pipeline/types.js';
import type { RawMessage } from '../../events/raw.js';

export class MemorySource implements Source {
  readonly kind = 'memory' as const;
  private handler?: BatchHandler;
  // batches are handed over one at a time, in push order
  private chain: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(readonly name: string = 'memory') {}

  async start(handler: BatchHandler): Promise<void> {
    this.handler = handler;
    this.stopped = false;
  }

  /** Pushes decoded events (objects) or raw messages; resolves with the batch result. */
  push(items: (RawMessage | Record<string, unknown>)[], raw = false): Promise<BatchResult> {
    if (!this.handler || this.stopped) return Promise.reject(new Error(`source ${this.name} is not started`));
    const handler = this.handler;
    const messages: RawMessage[] = raw ? (items as RawMessage[]) : items.map((value) => ({ value }));
    const p = this.chain.then(() => handler(messages));
    this.chain = p.catch(() => {});
    return p;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.chain;
  }

  status(): SourceStatus {
    return { connected: this.handler !== undefined && !this.stopped };
  }
}
