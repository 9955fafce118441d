// The values of workflow_runs_active: the store's open runs summed per workflow type and state, the
// store's raw types folded onto label values by the cardinality guard first.
import type { CardinalityGuard } from '../metrics/guard.js';
import type { Metrics } from '../metrics/registry.js';
import type { ActiveRuns, LifecycleStore } from './lifecycle.js';

export class ActiveRunTotals {
  constructor(
    private readonly store: LifecycleStore,
    private readonly guard: CardinalityGuard,
  ) {}

  async rows(): Promise<ActiveRuns[]> {
    // keyed by type, then state: a joined key could be split by a separator inside the type
    const sums = new Map<string, Map<string, ActiveRuns>>();
    for (const r of await this.store.activeRuns()) {
      const wt = this.guard.value('workflow_type', r.workflow_type);
      let byState = sums.get(wt);
      if (!byState) sums.set(wt, (byState = new Map()));
      const cur = byState.get(r.state);
      if (cur) cur.count += r.count;
      else byState.set(r.state, { workflow_type: wt, state: r.state, count: r.count });
    }
    return [...sums.values()].flatMap((m) => [...m.values()]);
  }

  /** The gauge reads rows() at every scrape. */
  register(metrics: Metrics): void {
    metrics.providers.activeRuns = () => this.rows();
  }
}
