// What the tail readers of every bus share: how long to wait before trying again, and logging a
// reader's trouble once and its recovery once.
import type { Logger } from 'pino';

export const RETRY_MS = 1000; // after a failed read or an ordered consumer that ended, before trying again

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Logs a reader's trouble once and its recovery once, not every retry. */
export class ReaderHealth {
  private failing = false;
  constructor(
    private readonly logger: Logger,
    private readonly what: Record<string, unknown>,
  ) {}
  fail(err: unknown, msg: string): void {
    if (this.failing) return;
    this.failing = true;
    this.logger.warn({ err, ...this.what }, `tail follower: ${msg}; retrying`);
  }
  ok(): void {
    if (!this.failing) return;
    this.failing = false;
    this.logger.info(this.what, 'tail follower: following again');
  }
}
