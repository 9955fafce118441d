// Exemplars from spans: trace and span ids on the duration histograms in OpenMetrics, the
// Prometheus text unchanged byte for byte, and stored and returned by a real Prometheus.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ExportResultCode } from '@opentelemetry/core';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { afterEach, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { generateFrom } from '../src/ascode/generate.js';
import { configFrom } from '../src/config/load.js';
import { createMetrics } from '../src/metrics/registry.js';
import { renderPrometheus } from '../src/metrics/render.js';
import { HistogramSeries } from '../src/metrics/series.js';
import { promClient } from '../src/util/cjs.js';
import { startApp, waitFor, type TestApp } from './helpers/app.js';
import { PRICES, exportWith, recordSpans, researchTrace } from './helpers/otlp.js';
import { queryExemplars, startPrometheus, type Server } from './helpers/prometheus.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

describe('exemplars', () => {
  it('the Prometheus text is byte-identical with and without them; OpenMetrics carries them', async () => {
    const cfg = configFrom({ metrics: { defaultMetrics: false } }).metrics;
    const plain = new promClient.Registry();
    const withEx = new promClient.Registry();
    const a = createMetrics(plain, cfg);
    const b = createMetrics(withEx, cfg, { exemplars: true });
    for (const [m, ex] of [
      [a, undefined],
      [b, { trace_id: TRACE, span_id: SPAN }],
    ] as const) {
      for (const [v, agent] of [
        [0.3, 'planner'],
        [4, 'coder'],
        [1.25, 'coder'],
      ] as const) {
        new HistogramSeries(m.taskDuration, [agent, 'completed']).observe(v, ex);
        new HistogramSeries(m.toolDuration, [agent, 'search', 'ok']).observe(v / 2, ex);
      }
      new HistogramSeries(m.runDuration, ['research', 'completed']).observe(8, ex);
      new HistogramSeries(m.stageDuration, ['research', 'plan', 'completed']).observe(2, ex);
    }
    const text = await renderPrometheus(plain);
    expect(await renderPrometheus(withEx)).toBe(text);
    expect(await withEx.metrics()).toBe(text);
    expect(text).not.toContain('trace_id');

    withEx.setContentType(promClient.Registry.OPENMETRICS_CONTENT_TYPE as never);
    const open = await withEx.metrics();
    withEx.setContentType(promClient.Registry.PROMETHEUS_CONTENT_TYPE as never);
    // one exemplar per bucket: the latest observation that fell into it
    expect(open).toMatch(new RegExp(`workflow_run_duration_seconds_bucket\\{le="15",workflow_type="research",outcome="completed"\\} 1 # \\{trace_id="${TRACE}",span_id="${SPAN}"\\} 8 \\d+(\\.\\d+)?\\n`));
    expect(open).toMatch(/workflow_task_duration_seconds_bucket\{le="5",agent="coder",outcome="completed"\} 2 # \{trace_id="[0-9a-f]{32}",span_id="[0-9a-f]{16}"\} 4 /);
  });

  it('Grafana: latency queries over the traced buckets ask for exemplars; they link to the trace store and the live tail', () => {
    type Ds = { name: string; uid: string; type: string; url: string; jsonData?: { exemplarTraceIdDestinations?: Record<string, string>[] } };
    const datasources = (files: Map<string, string>) => (parseYaml(files.get('grafana/provisioning/datasources/datasources.yml')!) as { datasources: Ds[] }).datasources;
    const plain = datasources(generateFrom());
    expect(plain.map((d) => d.uid)).toEqual(['prometheus', 'alertmanager']);
    expect(plain[0].jsonData!.exemplarTraceIdDestinations).toEqual([{ name: 'trace_id', url: 'http://localhost:9477/#q=${__value.raw}', urlDisplayLabel: 'Live tail' }]);
    const files = generateFrom({ tracesUrl: 'http://tempo:3200', tracesType: 'tempo' });
    const withTempo = datasources(files);
    expect(withTempo.find((d) => d.uid === 'traces')).toMatchObject({ name: 'Traces', type: 'tempo', url: 'http://tempo:3200' });
    expect(withTempo[0].jsonData!.exemplarTraceIdDestinations![0]).toEqual({ name: 'trace_id', datasourceUid: 'traces', urlDisplayLabel: 'Trace' });

    type Panel = { title: string; targets?: { expr: string; exemplar?: boolean }[]; panels?: Panel[] };
    const panels = (file: string) => {
      const d = JSON.parse(files.get(file)!) as { panels: Panel[] };
      return d.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
    };
    const withExemplars = ['workflows-overview', 'workflow-agents', 'workflow-stages'].flatMap((f) => panels(`grafana/dashboards/${f}.json`)).filter((p) => p.targets?.some((t) => t.exemplar === true));
    expect(withExemplars.map((p) => p.title).sort()).toEqual(['Run duration heatmap', 'Stage duration heatmap', 'p95 task latency per agent', 'p95 tool latency'].sort());
  });

  it('real Prometheus with exemplar storage returns the trace of each run, task and tool call', async () => {
    const t: TestApp = await startApp({ sources: [{ kind: 'otlp', prices: PRICES }] });
    cleanups.push(() => t.close());
    const host = new URL(t.url).host;
    const dir = mkdtempSync(join(tmpdir(), 'wfx-exemplars-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const config = `global: { scrape_interval: 1s }\nscrape_configs:\n  - job_name: workflow-exporter\n    static_configs: [{ targets: ['${host}'] }]\n`;
    const prom: Server = await startPrometheus(dir, config, 30_000, ['--enable-feature=exemplar-storage']);
    cleanups.push(() => prom.stop());

    const spans = await recordSpans(researchTrace(), Date.now() - 60_000);
    const traceId = spans[0].spanContext().traceId;
    const exporter = new ProtoExporter({ url: `${t.url}/v1/traces` });
    cleanups.push(() => exporter.shutdown());
    expect((await exportWith(exporter, spans)).code).toBe(ExportResultCode.SUCCESS);
    const spanOf = (name: string) => spans.find((s) => s.name === name)!.spanContext().spanId;

    let runs: Awaited<ReturnType<typeof queryExemplars>> = [];
    await waitFor('exemplars of workflow_run_duration_seconds in Prometheus', async () => {
      runs = await queryExemplars(prom.url, 'workflow_run_duration_seconds_bucket');
      return runs.some((r) => r.exemplars.length > 0);
    }, 30_000, 250);
    const run = runs.find((r) => r.exemplars.length > 0)!;
    expect(run.seriesLabels).toMatchObject({ __name__: 'workflow_run_duration_seconds_bucket', workflow_type: 'research', outcome: 'completed', le: '15' });
    expect(run.exemplars.map((e) => [e.labels, e.value])).toEqual([[{ trace_id: traceId, span_id: spanOf('invoke_workflow research') }, '8']]);

    const tasks = await queryExemplars(prom.url, 'workflow_task_duration_seconds_bucket{agent="coder"}');
    expect(tasks.flatMap((r) => r.exemplars.map((e) => [r.seriesLabels.le, e.labels, e.value]))).toEqual([['5', { trace_id: traceId, span_id: spanOf('invoke_agent coder') }, '4']]);
    const tools = await queryExemplars(prom.url, 'workflow_tool_call_duration_seconds_bucket{outcome="failed"}');
    expect(tools.flatMap((r) => r.exemplars.map((e) => [r.seriesLabels.tool, e.labels.span_id, e.value]))).toEqual([['run_tests', spanOf('execute_tool run_tests'), '1.25']]);
  });
});
