// The queue control bus (HTTP-only default): a bounded in-process queue a platform polls with a cursor.
import type { ControlBus, ControlCommand } from './command.js';

export class QueueControlBus implements ControlBus {
  readonly kind = 'queue' as const;
  private readonly ring: ControlCommand[] = [];
  private seq = 0;

  constructor(private readonly size: number) {}

  target(): string {
    return 'GET /api/control/commands';
  }

  async publish(cmd: ControlCommand): Promise<void> {
    cmd.seq = ++this.seq;
    this.ring.push(cmd);
    // the oldest fall off; a poller that fell this far behind sees `missed` in the reply
    if (this.ring.length > this.size) this.ring.shift();
  }

  /**
   * Commands with seq > after, oldest first; `missed` counts those that fell off the queue meanwhile.
   * A cursor ahead of the queue means the exporter restarted (the queue is in memory): the poller
   * gets everything held and `reset: true`, never an endless empty answer.
   */
  since(after: number, limit: number): { commands: ControlCommand[]; next: number; missed: number; reset: boolean } {
    const reset = after > this.seq;
    if (reset) after = 0;
    const first = this.ring.length > 0 ? this.ring[0].seq! : this.seq + 1;
    const missed = Math.max(0, first - after - 1);
    const commands: ControlCommand[] = [];
    for (const c of this.ring) {
      if (c.seq! > after) {
        commands.push(c);
        if (commands.length >= limit) break;
      }
    }
    return { commands, next: commands.length > 0 ? commands[commands.length - 1].seq! : Math.max(after, this.seq), missed, reset };
  }
}
