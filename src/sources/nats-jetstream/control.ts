// The NATS control bus: commands on <prefix>.<workflow id> over the nats-jetstream source's connection.
import type { NatsConnection } from '@nats-io/transport-node';
import { loadNats, natsIfLoaded } from '../../util/bus-clients.js';
import { ControlBusError, type ControlBus, type ControlCommand } from '../../control/command.js';

// a subject token cannot hold the separator or wildcards, nor whitespace
const BAD_TOKEN = /[.*>\s]/;

export class NatsControlBus implements ControlBus {
  readonly kind = 'nats' as const;

  constructor(
    private readonly connection: () => NatsConnection | undefined,
    private readonly prefix: string,
  ) {}

  target(workflowId: string): string {
    return `${this.prefix}.${workflowId}`;
  }

  invalidId(workflowId: string): string | undefined {
    return BAD_TOKEN.test(workflowId) ? 'a workflow id on NATS cannot contain ".", "*", ">" or whitespace (it is a subject token)' : undefined;
  }

  async publish(cmd: ControlCommand): Promise<void> {
    const nc = this.connection();
    if (!nc || nc.isClosed()) throw new ControlBusError('nats', 'not connected');
    // loaded already with a connection (the source loaded the library to open it)
    const { headers } = (natsIfLoaded() ?? (await loadNats())).transport;
    try {
      // Nats-Msg-Id lets a JetStream stream that captures control.> store a retried command once
      const h = headers();
      h.set('Nats-Msg-Id', cmd.id);
      nc.publish(this.target(cmd.workflow_id), JSON.stringify(cmd), { headers: h });
      // flush is a round trip: when it resolves the server has the command
      await nc.flush();
    } catch (cause) {
      throw new ControlBusError('nats', `publish to ${this.target(cmd.workflow_id)} failed: ${(cause as Error).message}`, { cause });
    }
  }
}
