// The nats-jetstream kind: what it can do besides delivering batches (see ../types.ts).
import { loadNats } from '../../util/bus-clients.js';
import type { SourceDescriptor } from '../types.js';
import { NatsControlBus } from './control.js';
import { NatsTailReader } from './follow.js';
import { natsHistory } from './history.js';
import { NatsJetStreamSource } from './nats-jetstream.js';

export const natsJetStream: SourceDescriptor<'nats-jetstream', NatsJetStreamSource> = {
  defaultName: 'nats',
  create: (name, config, { logger, metrics }) => new NatsJetStreamSource(name, config, logger, metrics),
  acks: true,
  redeliveryMs: (config) => config.ackWaitMs,
  loadClients: loadNats,
  readHistory: natsHistory,
  follow: (name, config, handler, logger) => new NatsTailReader(name, config, handler, logger),
  deadLetters: { setting: 'natsSubject', output: (source, config) => source.deadLetterOutput(config.natsSubject!) },
  control: { bus: 'nats', create: (source, config) => new NatsControlBus(() => source.connection, config.natsSubjectPrefix) },
};
