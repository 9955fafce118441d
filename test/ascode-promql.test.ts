// The PromQL checker: it must catch the mistakes a rename or a typo makes, and accept real rules.
import { describe, expect, it } from 'vitest';
import { analyze, expandGrafanaVariables, MetricUniverse, parseLabelValuesQuery } from '../src/ascode/promql-check.js';

const u = () => new MetricUniverse();

describe('PromQL checker', () => {
  it('accepts a quantile over a catalog histogram and infers its labels', () => {
    const a = analyze('histogram_quantile(0.95, sum by (le, workflow_type) (rate(workflow_run_duration_seconds_bucket{outcome="completed"}[5m])))', u());
    expect(a.problems).toEqual([]);
    expect([...a.labels!]).toEqual(['workflow_type']);
    expect(a.selectors).toEqual([{ name: 'workflow_run_duration_seconds_bucket', matchers: [{ label: 'outcome', op: '=', value: 'completed' }] }]);
  });

  it('rejects an unknown metric, an unknown matcher label and an unknown by() label', () => {
    expect(analyze('rate(workflow_runs_total[5m])', u()).problems).toEqual(['unknown metric workflow_runs_total']);
    expect(analyze('workflow_runs_active{outcome="failed"}', u()).problems).toEqual(['workflow_runs_active: unknown label outcome']);
    const p = analyze('sum by (agent) (rate(workflow_runs_started_total[5m]))', u()).problems;
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/label agent is not on the input/);
  });

  it('rejects a vector match whose sides carry different labels, and accepts it with on()', () => {
    const bad = 'sum by (workflow_type, outcome) (rate(workflow_runs_finished_total[5m])) / sum by (workflow_type) (rate(workflow_runs_finished_total[5m]))';
    expect(analyze(bad, u()).problems[0]).toMatch(/different labels/);
    const good = 'sum by (workflow_type, outcome) (rate(workflow_runs_finished_total[5m])) / on (workflow_type) group_left () sum by (workflow_type) (rate(workflow_runs_finished_total[5m]))';
    const a = analyze(good, u());
    expect(a.problems).toEqual([]);
    expect([...a.labels!].sort()).toEqual(['outcome', 'workflow_type']);
  });

  it('rejects le-less input to histogram_quantile and syntax errors', () => {
    expect(analyze('histogram_quantile(0.5, sum by (workflow_type) (rate(workflow_run_duration_seconds_bucket[5m])))', u()).problems[0]).toMatch(/without le/);
    expect(analyze('sum(rate(workflow_events_total[5m])', u()).problems[0]).toMatch(/syntax error/);
  });

  it('knows recording rules once defined, with the labels they produce', () => {
    const universe = u();
    expect(analyze('workflow:runs_error_ratio:rate5m', universe).problems).toEqual(['unknown metric workflow:runs_error_ratio:rate5m']);
    universe.define('workflow:runs_error_ratio:rate5m', ['workflow_type']);
    expect(analyze('workflow:runs_error_ratio:rate5m{workflow_type="a"} > 0.1', universe).problems).toEqual([]);
    expect(analyze('workflow:runs_error_ratio:rate5m{agent="a"}', universe).problems).toEqual(['workflow:runs_error_ratio:rate5m: unknown label agent']);
  });

  it('expands Grafana variables and reads label_values queries', () => {
    expect(expandGrafanaVariables('rate(x{a=~"$workflow_type"}[$__rate_interval])')).toBe('rate(x{a=~".*"}[1m])');
    expect(expandGrafanaVariables('y{a=~"${agent}"}', { agent: 'coder' })).toBe('y{a=~"coder"}');
    expect(parseLabelValuesQuery('label_values(workflow_runs_started_total, workflow_type)')).toEqual({ selector: 'workflow_runs_started_total', label: 'workflow_type' });
  });
});
