// A fixed multi-agent trace made by a real NodeTracerProvider, and the metrics it must give; shared by the OTLP tests.
import { context, trace, SpanStatusCode, type Attributes, type Span } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { expect } from 'vitest';
import { value } from './metrics.js';

export const SERVICE = 'research-agents';
export const PRICES = { 'gpt-4o': { inputPerMillion: 2.5, outputPerMillion: 10 }, 'claude-sonnet': { inputPerMillion: 3, outputPerMillion: 15 } };

interface Step {
  name: string;
  attrs: Attributes;
  /** ms after the trace's start */
  from: number;
  to: number;
  error?: string;
  children?: Step[];
}

/**
 * workflow "research" (8 s) -> planner, coder, reviewer agents -> one chat each with tokens ->
 * tools (search ok, run_tests failed, write_file ok). Durations are exact in binary.
 */
export function researchTrace(): Step {
  const chat = (model: string, from: number, to: number, tin: number, tout: number): Step => ({
    name: `chat ${model}`,
    attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': model, 'gen_ai.usage.input_tokens': tin, 'gen_ai.usage.output_tokens': tout },
    from,
    to,
  });
  const tool = (name: string, from: number, to: number, error?: string): Step => ({
    name: `execute_tool ${name}`,
    attrs: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': name, ...(error ? { 'error.type': error } : {}) },
    from,
    to,
    error,
  });
  const agent = (name: string, from: number, to: number, children: Step[]): Step => ({
    name: `invoke_agent ${name}`,
    attrs: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': name },
    from,
    to,
    children,
  });
  return {
    name: 'invoke_workflow research',
    attrs: { 'gen_ai.operation.name': 'invoke_workflow', 'gen_ai.workflow.name': 'research' },
    from: 0,
    to: 8000,
    children: [
      agent('planner', 500, 2500, [chat('gpt-4o', 500, 1500, 100, 50), tool('search', 1500, 2000)]),
      agent('coder', 2500, 6500, [chat('gpt-4o', 2500, 4500, 200, 120), tool('run_tests', 4500, 5750, 'TestFailure'), tool('write_file', 5750, 6250)]),
      agent('reviewer', 6500, 7750, [chat('claude-sonnet', 6500, 7000, 300, 30)]),
    ],
  };
}

/** Records the steps as spans of a real NodeTracerProvider; returns them as finished spans. */
export async function recordSpans(root: Step, startMs: number, opts: { endRoot?: boolean } = {}): Promise<ReadableSpan[]> {
  const memory = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ resource: resourceFromAttributes({ 'service.name': SERVICE }), spanProcessors: [new SimpleSpanProcessor(memory)] });
  const tracer = provider.getTracer('workflow-exporter-test', '1.0.0');
  const run = (step: Step, parent: Span | undefined, isRoot: boolean) => {
    const ctx = parent ? trace.setSpan(context.active(), parent) : context.active();
    const span = tracer.startSpan(step.name, { startTime: startMs + step.from, attributes: step.attrs, root: parent === undefined }, ctx);
    for (const c of step.children ?? []) run(c, span, false);
    if (step.error) span.setStatus({ code: SpanStatusCode.ERROR, message: step.error });
    if (!isRoot || opts.endRoot !== false) span.end(startMs + step.to);
  };
  run(root, undefined, true);
  await provider.forceFlush();
  const spans = memory.getFinishedSpans();
  await provider.shutdown();
  return [...spans];
}

/** Sends the spans through an official exporter in one export call; resolves with its result code. */
export function exportWith(exporter: SpanExporter, spans: ReadableSpan[]): Promise<{ code: number; error?: Error }> {
  return new Promise((resolve) => exporter.export(spans, (r) => resolve(r)));
}

/** The exact metrics of researchTrace(). */
export function expectResearchMetrics(text: string, source = SERVICE): void {
  const v = (name: string, labels: Record<string, string> = {}) => value(text, name, labels);
  expect(v('workflow_runs_started_total', { workflow_type: 'research' })).toBe(1);
  expect(v('workflow_runs_finished_total', { workflow_type: 'research', outcome: 'completed' })).toBe(1);
  expect(v('workflow_run_duration_seconds_count', { workflow_type: 'research' })).toBe(1);
  expect(v('workflow_run_duration_seconds_sum', { workflow_type: 'research' })).toBe(8);
  expect(v('workflow_runs_active', { workflow_type: 'research' })).toBe(0);
  for (const [agent, secs] of [
    ['planner', 2],
    ['coder', 4],
    ['reviewer', 1.25],
  ] as const) {
    expect(v('workflow_tasks_total', { agent, outcome: 'completed' })).toBe(1);
    expect(v('workflow_task_duration_seconds_count', { agent, outcome: 'completed' })).toBe(1);
    expect(v('workflow_task_duration_seconds_sum', { agent, outcome: 'completed' })).toBe(secs);
  }
  expect(v('workflow_tasks_total', { outcome: 'failed' })).toBe(0);
  expect(v('workflow_agent_tokens_total', { agent: 'planner', model: 'gpt-4o', direction: 'in' })).toBe(100);
  expect(v('workflow_agent_tokens_total', { agent: 'planner', model: 'gpt-4o', direction: 'out' })).toBe(50);
  expect(v('workflow_agent_tokens_total', { agent: 'coder', model: 'gpt-4o', direction: 'in' })).toBe(200);
  expect(v('workflow_agent_tokens_total', { agent: 'coder', model: 'gpt-4o', direction: 'out' })).toBe(120);
  expect(v('workflow_agent_tokens_total', { agent: 'reviewer', model: 'claude-sonnet', direction: 'in' })).toBe(300);
  expect(v('workflow_agent_tokens_total', { agent: 'reviewer', model: 'claude-sonnet', direction: 'out' })).toBe(30);
  expect(v('workflow_agent_tokens_total')).toBe(800);
  expect(v('workflow_agent_cost_usd_total', { agent: 'planner', model: 'gpt-4o' })).toBe((100 * 2.5 + 50 * 10) / 1e6);
  expect(v('workflow_agent_cost_usd_total', { agent: 'coder', model: 'gpt-4o' })).toBe((200 * 2.5 + 120 * 10) / 1e6);
  expect(v('workflow_agent_cost_usd_total', { agent: 'reviewer', model: 'claude-sonnet' })).toBe((300 * 3 + 30 * 15) / 1e6);
  expect(v('workflow_tool_calls_total', { agent: 'planner', tool: 'search', outcome: 'ok' })).toBe(1);
  expect(v('workflow_tool_calls_total', { agent: 'coder', tool: 'run_tests', outcome: 'failed' })).toBe(1);
  expect(v('workflow_tool_calls_total', { agent: 'coder', tool: 'write_file', outcome: 'ok' })).toBe(1);
  expect(v('workflow_tool_calls_total')).toBe(3);
  expect(v('workflow_tool_call_duration_seconds_sum', { agent: 'planner', tool: 'search', outcome: 'ok' })).toBe(0.5);
  expect(v('workflow_tool_call_duration_seconds_sum', { agent: 'coder', tool: 'run_tests', outcome: 'failed' })).toBe(1.25);
  expect(v('workflow_tool_call_duration_seconds_sum', { agent: 'coder', tool: 'write_file', outcome: 'ok' })).toBe(0.5);
  expect(v('workflow_tool_call_duration_seconds_count')).toBe(3);
  // 1 run start + 1 run end + 3 x (task start + end) + 3 model calls + 3 tools
  expect(v('workflow_events_total', { source })).toBe(14);
  expect(v('workflow_events_total', { source, type: 'agent.response' })).toBe(3);
  expect(v('workflow_events_total', { source, type: 'tool.failed' })).toBe(1);
  expect(v('workflow_exporter_events_rejected_total')).toBe(0);
}
