// Logs at most N lines per key per minute and then one line saying how many were suppressed.
import type { Logger } from 'pino';

export class RateLimitedLog {
  private readonly windows = new Map<string, { start: number; logged: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  warn(key: string, obj: Record<string, unknown>, msg: string): void {
    const t = this.now();
    let w = this.windows.get(key);
    if (!w || t - w.start >= 60_000) {
      if (w && w.suppressed > 0) this.logger.warn({ key, suppressed: w.suppressed }, `suppressed ${w.suppressed} similar log lines in the last minute`);
      w = { start: t, logged: 0, suppressed: 0 };
      this.windows.set(key, w);
    }
    if (w.logged < this.perMinute) {
      w.logged++;
      this.logger.warn(obj, msg);
    } else {
      w.suppressed++;
    }
  }
}
