// The tail's snapshot: the window statistics, the history's fill, active runs and client counts,
// pushed to every client each snapshotIntervalMs and sent to each new client, computed once for a
// burst of them.
import type { Logger } from 'pino';
import type { Config } from '../../config/schema.js';
import type { TailClient, Transport } from './client.js';
import type { History } from './history.js';
import type { WindowSnapshot, WindowStats } from './stats.js';

/** a new client's first snapshot reuses one computed this recently (a reconnect storm computes it once) */
export const SNAPSHOT_REUSE_MS = 500;

export interface ActiveRun {
  workflow_type: string;
  state: string;
  count: number;
}

export interface Snapshot extends WindowSnapshot {
  time: string;
  /** events the tail took since the process started */
  events_total: number;
  history: { size: number; capacity: number };
  active_runs: { total: number; by_workflow_type: Record<string, Record<string, number>> };
  clients: Record<Transport, number>;
  dropped_total: number;
}

/** What a snapshot reads from the tail. */
export interface SnapshotSource {
  readonly stats: WindowStats;
  readonly history: History;
  readonly eventsTotal: number;
  readonly droppedTotal: number;
  clientsOf(transport: Transport): number;
}

export class Snapshots {
  private last?: { at: number; json: Promise<string> };
  private pushing = false;

  constructor(
    private readonly tail: SnapshotSource,
    private readonly config: Config['tail'],
    private readonly logger: Logger,
    private readonly now: () => number,
    private readonly activeRuns?: () => Promise<ActiveRun[]> | ActiveRun[],
  ) {}

  async snapshot(): Promise<Snapshot> {
    const w = this.tail.stats.snapshot();
    const byType: Record<string, Record<string, number>> = {};
    let total = 0;
    for (const r of (await this.activeRuns?.()) ?? []) {
      (byType[r.workflow_type] ??= {})[r.state] = r.count;
      total += r.count;
    }
    return {
      time: new Date(this.now()).toISOString(),
      ...w,
      events_total: this.tail.eventsTotal,
      history: { size: this.tail.history.size, capacity: this.tail.history.capacity },
      active_runs: { total, by_workflow_type: byType },
      clients: { websocket: this.tail.clientsOf('websocket'), sse: this.tail.clientsOf('sse') },
      dropped_total: this.tail.droppedTotal,
    };
  }

  /**
   * The snapshot as JSON for a client that just connected: one computed within SNAPSHOT_REUSE_MS is
   * reused, so a thousand clients reconnecting at once (a restart, a proxy failover) cost one
   * snapshot, not a thousand window percentiles.
   */
  json(): Promise<string> {
    const now = performance.now();
    if (this.last && now - this.last.at < SNAPSHOT_REUSE_MS) return this.last.json;
    return this.fresh(now);
  }

  private fresh(now: number): Promise<string> {
    const json = this.snapshot().then((s) => JSON.stringify(s));
    const memo = { at: now, json };
    this.last = memo;
    json.catch(() => {
      if (this.last === memo) this.last = undefined;
    });
    return json;
  }

  /** A new snapshot to every client whose socket keeps up. */
  async push(clients: Iterable<TailClient>): Promise<void> {
    if (this.pushing) return; // a slow active-runs store never stacks snapshots
    this.pushing = true;
    try {
      const data = await this.fresh(performance.now());
      for (const c of clients) {
        // a snapshot is replaced by the next one: a slow client skips it rather than queueing it
        if (c.buffered() <= this.config.maxBufferedBytes) c.sendSnapshot(data);
      }
    } catch (err) {
      this.logger.warn({ err }, 'tail snapshot failed');
    } finally {
      this.pushing = false;
    }
  }
}
