// The tail follower: beside each bus source's shared consumer (a JetStream durable or a Redis group,
// which give each replica a share of the stream) a non-durable reader of the same streams, so the
// live tail of every replica shows every event. Its events go to the tail only. The readers are the
// sources' own (a descriptor with follow, src/sources/<kind>/follow.ts).
import type { Logger } from 'pino';
import { promClient } from '../../util/cjs.js';
import type { Config, SourceConfig } from '../../config/schema.js';
import { EventAccounting, OrderedLifecycleStore } from '../../pipeline/accounting.js';
import { Pipeline } from '../../pipeline/pipeline.js';
import { DeadLetters } from '../../pipeline/dead-letters.js';
import { createMetrics } from '../../metrics/registry.js';
import { MemoryLifecycleStore } from '../../state/memory.js';
import { descriptorOf, SOURCES } from '../../sources/index.js';
import type { StreamPositions, TailReader } from '../../sources/types.js';
import type { TailSink } from './tail.js';

export interface BusSource {
  name: string;
  config: SourceConfig;
}

export interface FollowerDeps {
  config: Config;
  tail: TailSink;
  logger: Logger;
  now?: () => number;
}

/**
 * The follower of the sources among `sources` that can be followed, or undefined when tail.follow is
 * off or none exists (then nothing is started and the tail takes the pipeline's batches as before).
 */
export function createTailFollower(sources: BusSource[], deps: FollowerDeps): TailFollower | undefined {
  const bus = sources.filter((s) => descriptorOf(s.config.kind).follow);
  const mode = deps.config.tail.follow;
  if (mode === 'on' && bus.length === 0) {
    const kinds = Object.entries(SOURCES).flatMap(([kind, d]) => (d.follow ? [kind] : []));
    deps.logger.warn(`tail.follow is on but no ${kinds.join(' or ')} source is configured; nothing to follow`);
  }
  if (mode === 'off' || bus.length === 0) return undefined;
  return new TailFollower(bus, deps);
}

export class TailFollower {
  private readonly readers: TailReader[];
  private readonly pipeline: Pipeline;

  constructor(
    readonly sources: BusSource[],
    private readonly deps: FollowerDeps,
  ) {
    const { config, logger } = deps;
    const ignore = () => {};
    // Its own pipeline: the same decode, normalize, validate, duplicate drop and duration derivation
    // as the shared one, with lifecycle state in memory and metrics in a registry nobody scrapes, so
    // what a replica follows never counts twice nor touches the shared state. Rejects are counted,
    // logged and dead-lettered once, by the pipeline of the replica whose consumer got the message.
    this.pipeline = new Pipeline({
      config,
      metrics: createMetrics(new promClient.Registry(), { ...config.metrics, defaultMetrics: false }),
      store: new OrderedLifecycleStore(new MemoryLifecycleStore(config.state.maxEntries, ignore), config.accounting.maxOrphanEnds, ignore),
      deadLetters: new DeadLetters(1, 0),
      logger: logger.child({ component: 'tail-follow' }, { level: logger.isLevelEnabled('error') ? 'error' : logger.level }),
      now: deps.now,
      accounting: new EventAccounting(config.accounting, ignore),
    });
    this.pipeline.addSink({ name: 'tail', write: (batch) => deps.tail.take(batch) });
    deps.tail.follow(sources.map((s) => s.name));
    this.readers = sources.map(({ name, config: sc }) => {
      const handler = this.pipeline.handler(name, { format: sc.format, preset: sc.preset, mapping: sc.mapping });
      return descriptorOf(sc.kind).follow!(name, sc, handler, logger);
    });
  }

  /**
   * Starts reading after `positions` (where the history read ended), else at the streams' ends now.
   * Waits at most tail.historyLoadTimeoutMs: a broker that does not answer must not hold the start;
   * its reader keeps trying in the background.
   */
  async start(positions?: StreamPositions): Promise<void> {
    const budget = this.deps.config.tail.historyLoadTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(true), budget)));
    const started = Promise.all(
      this.readers.map((r) =>
        // only a refused login gets here (an unreachable broker is waited for); the source then fails the start with it
        r.start(positions).catch((err) => this.deps.logger.error({ err }, 'tail follower cannot start')),
      ),
    ).then(() => false);
    const timedOut = await Promise.race([started, late]);
    clearTimeout(timer);
    if (timedOut) this.deps.logger.warn({ timeoutMs: budget }, 'tail follower not started in time; it keeps trying in the background');
  }

  /** Stops reading; resolves once what was read went into the tail. */
  async stop(): Promise<void> {
    await Promise.all(this.readers.map((r) => r.stop()));
    await this.pipeline.drain();
  }
}
