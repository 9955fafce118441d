// Picks the control bus: the one control.bus names, or with auto the first source kind that carries
// one (in the order of src/sources/index.ts), else the polled queue. The kinds that carry a bus
// (a descriptor with control) are passed in, each with the bus of its first source when it has one.
import type { Config } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import type { ControlBus } from './command.js';
import { QueueControlBus } from './queue.js';

export interface ControlOffer {
  bus: ControlBus['kind'];
  /** the source kind that carries it, for the error when none is configured */
  kind: string;
  /** undefined when no source of the kind is configured */
  create?: () => ControlBus;
}

export function createControlBus(cfg: Config['control'], offers: ControlOffer[]): ControlBus {
  const bus = cfg.bus === 'auto' ? (offers.find((o) => o.create)?.bus ?? 'queue') : cfg.bus;
  const offer = offers.find((o) => o.bus === bus);
  if (offer) {
    if (!offer.create) throw new ConfigError(`control.bus ${bus} needs a ${offer.kind} source`, [{ path: 'control.bus', message: `no ${offer.kind} source` }]);
    return offer.create();
  }
  return new QueueControlBus(cfg.queueSize);
}
