// The Redis control bus: commands XADDed to one stream over the redis-streams source's client.
import type { Redis } from 'ioredis';
import { ControlBusError, type ControlBus, type ControlCommand } from '../../control/command.js';

export const PUBLISH_TIMEOUT_MS = 5000; // the client queues commands while reconnecting; an operator waits no longer

export class RedisControlBus implements ControlBus {
  readonly kind = 'redis' as const;

  constructor(
    private readonly client: () => Redis | undefined,
    private readonly stream: string,
    private readonly maxLen: number,
  ) {}

  target(): string {
    return this.stream;
  }

  async publish(cmd: ControlCommand): Promise<void> {
    const redis = this.client();
    if (!redis || redis.status === 'end') throw new ControlBusError('redis', 'not connected');
    let timer: NodeJS.Timeout | undefined;
    try {
      // `data` holds the whole command (the field the redis-streams source reads); the flat fields
      // let a consumer route without parsing JSON
      const add = redis.xadd(this.stream, 'MAXLEN', '~', this.maxLen, '*', 'data', JSON.stringify(cmd), 'action', cmd.action, 'workflow_id', cmd.workflow_id, 'id', cmd.id);
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${PUBLISH_TIMEOUT_MS} ms`)), PUBLISH_TIMEOUT_MS);
      });
      await Promise.race([add, timeout]);
    } catch (cause) {
      throw new ControlBusError('redis', `XADD to ${this.stream} failed: ${(cause as Error).message}`, { cause });
    } finally {
      clearTimeout(timer);
    }
  }
}
