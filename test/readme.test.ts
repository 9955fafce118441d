// README's metrics table against the catalog: every workflow_* metric has a row with its type and
// labels in catalog order, no row names a metric the catalog does not have, and the self-metrics
// (workflow_exporter_*) have their summary row.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ALL_METRICS } from '../src/metrics/catalog.js';

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

/** The rows of the table under "## Metrics": metric name (without backticks), type, labels. */
function metricRows(doc: string): { name: string; type: string; labels: string }[] {
  const start = doc.indexOf('\n## Metrics\n');
  const end = doc.indexOf('\n## ', start + 1);
  const section = doc.slice(start, end === -1 ? undefined : end);
  return section
    .split('\n')
    .filter((l) => /^\| `/.test(l))
    .map((l) => {
      const [name, type, labels] = l.split('|').slice(1, 4).map((c) => c.trim());
      return { name: name.replace(/`/g, ''), type, labels };
    });
}

/** What the rows of single metrics must be: the catalog's workflow_* metrics, in catalog order. */
const WANT = ALL_METRICS.filter((m) => !m.name.startsWith('workflow_exporter_')).map((m) => ({ name: m.name, type: m.type, labels: m.labels.join(', ') }));
const single = (doc: string) => metricRows(doc).filter((r) => !r.name.endsWith('*'));

describe("README's metrics table", () => {
  const rows = metricRows(README);

  it('has a row per workflow metric of the catalog, with its type and labels', () => {
    expect(single(README)).toEqual(WANT);
  });

  it('sums up the self-metrics in one row', () => {
    expect(rows.filter((r) => r.name.endsWith('*'))).toEqual([expect.objectContaining({ name: 'workflow_exporter_*', type: 'self-metrics' })]);
  });

  it('fails on a row that drifted from the catalog (the check can fail)', () => {
    const drifted = README.replace('| `workflow_queue_depth` | gauge | queue |', '| `workflow_queue_depth` | gauge | queue, agent |');
    expect(drifted).not.toBe(README);
    expect(single(drifted)).not.toEqual(WANT);
    expect(single(README.replace('| `workflow_queue_depth` | gauge | queue |\n', ''))).not.toEqual(WANT);
  });
});
