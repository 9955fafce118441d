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
import { createMetrics, type Metrics } from '../../metrics/registry.js';
import { MemoryLifecycleStore } from '../../state/memory.js';
import { descriptorOf, SOURCES } from '../../sources/index.js';
import type { StreamPositions, TailReader } from '../../sources/types.js';
import { loadStreamHistory } from './stream-history.js';
import { historyTimes, type TailSink } from './tail.js';
import type { WorkflowEvent } from '../../events/schema.js';

export interface BusSource {
  name: string;
  config: SourceConfig;
}

export interface FollowerDeps {
  config: Config;
  tail: TailSink;
  logger: Logger;
  now?: () => number;
  /** the exporter's metrics: workflow_exporter_tail_follower_reading */
  metrics?: Metrics;
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
  private readers: TailReader[] = [];
  /** a new one each time the follower starts: its lifecycle state is seeded from the history read then */
  private pipeline: Pipeline;
  /** follow: watched: reads only while someone watches (see watch()) */
  private readonly watchedOnly: boolean;
  private active = false;
  private activating?: Promise<void>;
  private stopping?: Promise<void>;
  private lastWatchMs = 0;
  private idleTimer?: NodeJS.Timeout;
  private closed = false;
  /** times the follower started and went idle since the process started (follow: watched) */
  activations = 0;
  idles = 0;

  constructor(
    readonly sources: BusSource[],
    private readonly deps: FollowerDeps,
  ) {
    this.pipeline = this.newPipeline();
    // auto: watched, so a replica nobody watches reads its share only (docs/SCALING.md)
    this.watchedOnly = deps.config.tail.follow === 'watched' || deps.config.tail.follow === 'auto';
    if (!this.watchedOnly) deps.tail.follow(sources.map((s) => s.name));
  }

  private newPipeline(): Pipeline {
    const { config, logger, now, tail } = this.deps;
    const ignore = () => {};
    // Its own pipeline: the same decode, normalize, validate, duplicate drop and duration derivation
    // as the shared one, with lifecycle state in memory and metrics in a registry nobody scrapes, so
    // what a replica follows never counts twice nor touches the shared state. Rejects are counted,
    // logged and dead-lettered once, by the pipeline of the replica whose consumer got the message.
    const pipeline = new Pipeline({
      config,
      metrics: createMetrics(new promClient.Registry(), { ...config.metrics, defaultMetrics: false }),
      store: new OrderedLifecycleStore(new MemoryLifecycleStore(config.state.maxEntries, ignore), config.accounting.maxOrphanEnds, ignore),
      deadLetters: new DeadLetters(1, 0),
      logger: logger.child({ component: 'tail-follow' }, { level: logger.isLevelEnabled('error') ? 'error' : logger.level }),
      now,
      accounting: new EventAccounting(config.accounting, ignore),
    });
    pipeline.addSink({ name: 'tail', write: (batch) => tail.take(batch) });
    return pipeline;
  }

  /**
   * Durations of events read back from the bus, through the follower's pipeline: its state then
   * holds the runs they opened, so the ends the readers bring later get their durations too.
   */
  readonly derive = (events: WorkflowEvent[], timesMs: number[]): Promise<number[]> => this.pipeline.derive(events, timesMs);

  private get now(): number {
    return (this.deps.now ?? Date.now)();
  }

  /** Readers are one-shot: each start of the follower makes its own (src/sources/<kind>/follow.ts). */
  private makeReaders(): TailReader[] {
    return this.sources.map(({ name, config: sc }) => {
      const handler = this.pipeline.handler(name, { format: sc.format, preset: sc.preset, mapping: sc.mapping });
      return descriptorOf(sc.kind).follow!(name, sc, handler, this.deps.logger);
    });
  }

  /**
   * Starts reading after `positions` (where the history read ended), else at the streams' ends now.
   * Waits at most tail.historyLoadTimeoutMs: a broker that does not answer must not hold the start;
   * its reader keeps trying in the background. With follow: watched it only arms the watch: the
   * first client or history request starts the reading.
   */
  async start(positions?: StreamPositions): Promise<void> {
    if (this.watchedOnly) {
      this.deps.tail.onWatch(() => this.watch());
      const idleMs = this.deps.config.tail.followIdleSeconds * 1000;
      this.idleTimer = setInterval(() => void this.idleCheck(idleMs), Math.min(idleMs, 10_000));
      this.idleTimer.unref();
      return;
    }
    await this.startReaders(positions);
    this.deps.metrics?.tailFollowerReading.set(1);
  }

  private async startReaders(positions?: StreamPositions): Promise<void> {
    this.readers = this.makeReaders();
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

  /**
   * follow: watched: resolves once the tail has every event of the bus: at once while the follower
   * reads, else after the history was read back (to the streams' ends) and the readers started from
   * there. Until then this replica's tail held its share only; the read is merged into it.
   */
  watch(): Promise<void> | undefined {
    this.lastWatchMs = this.now;
    if (this.active || this.closed) return undefined;
    this.activating ??= this.activate().finally(() => (this.activating = undefined));
    return this.activating;
  }

  private async activate(): Promise<void> {
    await this.stopping;
    const { tail, config, logger } = this.deps;
    const names = this.sources.map((s) => s.name);
    // the pipeline's batches of these sources stop reaching the tail before the read begins: what
    // they held is on the bus, and the read or the readers after it take it
    tail.follow(names);
    const positions: StreamPositions = new Map();
    const bus = this.sources.filter((s) => descriptorOf(s.config.kind).readHistory);
    // a state of its own each time: the history read now holds what an earlier one held
    this.pipeline = this.newPipeline();
    // historyFromSources off: no read back, the readers start at the streams' ends
    if (config.tail.historyFromSources && config.tail.historySize > 0 && bus.length > 0) {
      const items = await loadStreamHistory(config.tail, bus, { validation: config.validation, logger, now: () => this.now, positions });
      if (items) tail.mergeHistory(items, await this.derive(...historyTimes(items)));
    }
    if (this.closed) return;
    await this.startReaders(positions);
    this.active = true;
    this.activations++;
    this.deps.metrics?.tailFollowerReading.set(1);
    this.lastWatchMs = this.now;
    logger.info({ sources: names }, 'tail follower started: a tail client or history request is watching');
  }

  /** follow: watched: stops reading once no client is connected and nothing asked for idleMs. */
  private async idleCheck(idleMs: number): Promise<void> {
    if (!this.active || this.stopping || this.activating) return;
    if (this.deps.tail.clientCount > 0) {
      this.lastWatchMs = this.now;
      return;
    }
    if (this.now - this.lastWatchMs < idleMs) return;
    this.active = false;
    this.stopping = this.stopReaders().then(() => {
      // from here the pipeline's batches (this replica's share) reach the tail again
      this.deps.tail.unfollow(this.sources.map((s) => s.name));
      this.deps.metrics?.tailFollowerReading.set(0);
      this.idles++;
      this.stopping = undefined;
      this.deps.logger.info({ idleSeconds: idleMs / 1000 }, 'tail follower stopped: nobody watched; the tail takes this replica\'s share');
    });
    await this.stopping;
  }

  private async stopReaders(): Promise<void> {
    const readers = this.readers;
    this.readers = [];
    await Promise.all(readers.map((r) => r.stop()));
    await this.pipeline.drain();
  }

  /** Stops reading; resolves once what was read went into the tail. */
  async stop(): Promise<void> {
    this.closed = true;
    clearInterval(this.idleTimer);
    await this.activating?.catch(() => undefined);
    await this.stopping;
    this.active = false;
    await this.stopReaders();
    this.deps.metrics?.tailFollowerReading.set(0);
  }
}
