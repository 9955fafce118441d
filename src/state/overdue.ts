// Stuck runs: open runs past the deadline of their workflow type, read from the lifecycle store, so
// the count survives a restart and agrees across replicas when the store is Redis.
import type { Config } from '../config/schema.js';
import type { CardinalityGuard } from '../metrics/guard.js';
import type { Metrics } from '../metrics/registry.js';
import type { LifecycleStore } from './lifecycle.js';

export const DEFAULT_OVERDUE_LIST_LIMIT = 100; // a page of stuck runs; the gauge has the full count
export const MAX_OVERDUE_LIST_LIMIT = 10_000;

export interface OverdueRun {
  workflow_id: string;
  workflow_type: string;
  state: 'running' | 'paused';
  started_at: string;
  deadline_seconds: number;
  /** seconds past the deadline */
  overdue_seconds: number;
}

export class OverdueRuns {
  private readonly deadlines: Map<string, number>;

  constructor(
    private readonly store: LifecycleStore,
    private readonly cfg: Config['runs'],
    private readonly guard: CardinalityGuard,
    private readonly now: () => number,
    /** guarded workflow types the exporter has seen; each is exported, at 0 when none is overdue */
    private readonly knownTypes: () => Iterable<string> = () => [],
  ) {
    this.deadlines = new Map(Object.entries(cfg.deadlines));
  }

  /** true when any deadline is configured; otherwise the store is never asked */
  get enabled(): boolean {
    return this.deadlines.size > 0 || this.cfg.defaultDeadlineSeconds !== undefined;
  }

  deadlineSeconds(workflowType: string): number | undefined {
    return this.deadlines.get(workflowType) ?? this.cfg.defaultDeadlineSeconds;
  }

  /**
   * The gauge's values: every known type and every type with a configured deadline (0 included),
   * folded through the guard. Known types are exported at 0 even with no deadline configured, so a
   * rule or panel on the gauge has a series from the first run on and never needs absent().
   */
  async counts(): Promise<{ workflow_type: string; count: number }[]> {
    const sums = new Map<string, number>();
    for (const t of this.knownTypes()) sums.set(t, 0);
    if (!this.enabled || !this.store.overdueCounts) return [...sums].map(([workflow_type, count]) => ({ workflow_type, count }));
    const nowMs = this.now();
    for (const t of this.deadlines.keys()) sums.set(this.guard.value('workflow_type', t), 0);
    const rows = await this.store.overdueCounts((t) => {
      const d = this.deadlineSeconds(t);
      return d === undefined ? undefined : nowMs - d * 1000;
    });
    for (const r of rows) {
      const wt = this.guard.value('workflow_type', r.workflowType);
      sums.set(wt, (sums.get(wt) ?? 0) + r.count);
    }
    return [...sums].map(([workflow_type, count]) => ({ workflow_type, count }));
  }

  /** workflow_runs_overdue reads counts() at every scrape. */
  register(metrics: Metrics): void {
    metrics.providers.overdueRuns = () => this.counts();
  }

  /** Overdue runs, most overdue first. */
  async list(limit = DEFAULT_OVERDUE_LIST_LIMIT): Promise<OverdueRun[]> {
    if (!this.enabled || !this.store.openRunsBefore) return [];
    const nowMs = this.now();
    let shortest = Infinity;
    for (const d of this.deadlines.values()) shortest = Math.min(shortest, d);
    if (this.cfg.defaultDeadlineSeconds !== undefined) shortest = Math.min(shortest, this.cfg.defaultDeadlineSeconds);
    const out: OverdueRun[] = [];
    for (const r of await this.store.openRunsBefore(nowMs - shortest * 1000)) {
      const d = this.deadlineSeconds(r.workflowType);
      if (d === undefined) continue;
      const over = (nowMs - r.startMs) / 1000 - d;
      if (over <= 0) continue;
      out.push({
        workflow_id: r.run,
        workflow_type: r.workflowType,
        state: r.state,
        started_at: new Date(r.startMs).toISOString(),
        deadline_seconds: d,
        overdue_seconds: Math.round(over * 1000) / 1000,
      });
    }
    out.sort((a, b) => b.overdue_seconds - a.overdue_seconds);
    return out.length > limit ? out.slice(0, limit) : out;
  }
}
