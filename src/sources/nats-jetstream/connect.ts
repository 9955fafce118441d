// The connection options of a nats-jetstream source (servers, client name, credentials), shared by
// the source, the tail's history read-back and the tail follower so they connect alike.
import type { NodeConnectionOptions } from '@nats-io/transport-node';
import type { SourceConfig } from '../../config/schema.js';
import { readSecretFile } from '../../util/secret.js';

/** Servers and credentials of `cfg`, under the client name `workflow-exporter:<name>` (as the server's connz shows it). */
export function natsConnectOptions(cfg: Extract<SourceConfig, { kind: 'nats-jetstream' }>, name: string): NodeConnectionOptions {
  return {
    servers: cfg.servers,
    name: `workflow-exporter:${name}`,
    user: cfg.user,
    pass: readSecretFile(cfg.passwordFile),
    token: readSecretFile(cfg.tokenFile),
  };
}
