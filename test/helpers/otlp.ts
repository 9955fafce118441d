// A fixed multi-agent trace made by a real NodeTracerProvider, and the metrics it must give; shared by the OTLP tests.
import { context, trace, SpanStatusCode, type Attributes, type Span } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor, type IdGenerator, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace-base';
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

/** The instrumentation conventions the mapping reads (docs/OTLP.md). */
export const CONVENTIONS = ['genai', 'genai-1.36', 'openinference', 'openllmetry'] as const;
export type Convention = (typeof CONVENTIONS)[number];

/** What each convention writes on each kind of span, from its documented attribute tables. */
const WRITES: Record<Convention, {
  workflow: (name: string) => { name: string; attrs: Attributes };
  agent: (name: string) => { name: string; attrs: Attributes };
  chat: (model: string, tin: number, tout: number) => { name: string; attrs: Attributes };
  tool: (name: string, error?: string) => { name: string; attrs: Attributes };
}> = {
  genai: {
    workflow: (n) => ({ name: `invoke_workflow ${n}`, attrs: { 'gen_ai.operation.name': 'invoke_workflow', 'gen_ai.workflow.name': n } }),
    agent: (n) => ({ name: `invoke_agent ${n}`, attrs: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': n } }),
    chat: (m, tin, tout) => ({ name: `chat ${m}`, attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': m, 'gen_ai.usage.input_tokens': tin, 'gen_ai.usage.output_tokens': tout } }),
    tool: (n, e) => ({ name: `execute_tool ${n}`, attrs: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': n, ...(e ? { 'error.type': e } : {}) } }),
  },
  // semantic conventions 1.36 and earlier: gen_ai.system, prompt/completion tokens, no workflow operation
  'genai-1.36': {
    workflow: (n) => ({ name: n, attrs: {} }),
    agent: (n) => ({ name: `invoke_agent ${n}`, attrs: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': n, 'gen_ai.system': 'openai' } }),
    chat: (m, tin, tout) => ({ name: `chat ${m}`, attrs: { 'gen_ai.operation.name': 'chat', 'gen_ai.system': 'openai', 'gen_ai.request.model': m, 'gen_ai.response.model': m, 'gen_ai.usage.prompt_tokens': tin, 'gen_ai.usage.completion_tokens': tout } }),
    tool: (n, e) => ({ name: `execute_tool ${n}`, attrs: { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': n, ...(e ? { 'error.type': e } : {}) } }),
  },
  openinference: {
    workflow: (n) => ({ name: n, attrs: { 'openinference.span.kind': 'CHAIN', 'input.value': '{"question":"..."}' } }),
    agent: (n) => ({ name: n, attrs: { 'openinference.span.kind': 'AGENT', 'agent.name': n } }),
    chat: (m, tin, tout) => ({ name: 'ChatOpenAI', attrs: { 'openinference.span.kind': 'LLM', 'llm.model_name': m, 'llm.provider': 'openai', 'llm.token_count.prompt': tin, 'llm.token_count.completion': tout, 'llm.token_count.total': tin + tout } }),
    tool: (n) => ({ name: n, attrs: { 'openinference.span.kind': 'TOOL', 'tool.name': n } }),
  },
  // OpenLLMetry (Traceloop): <name>.<kind> spans, the workflow name on every span of the workflow
  openllmetry: {
    workflow: (n) => ({ name: `${n}.workflow`, attrs: { 'traceloop.span.kind': 'workflow', 'traceloop.workflow.name': n, 'traceloop.entity.name': n } }),
    agent: (n) => ({ name: `${n}.agent`, attrs: { 'traceloop.span.kind': 'agent', 'traceloop.entity.name': n, 'traceloop.workflow.name': 'research' } }),
    chat: (m, tin, tout) => ({ name: 'openai.chat', attrs: { 'llm.request.type': 'chat', 'gen_ai.system': 'openai', 'gen_ai.request.model': m, 'gen_ai.response.model': m, 'gen_ai.usage.prompt_tokens': tin, 'gen_ai.usage.completion_tokens': tout, 'llm.usage.total_tokens': tin + tout, 'traceloop.workflow.name': 'research' } }),
    tool: (n) => ({ name: `${n}.tool`, attrs: { 'traceloop.span.kind': 'tool', 'traceloop.entity.name': n, 'traceloop.workflow.name': 'research' } }),
  },
};

/**
 * workflow "research" (8 s) -> planner, coder, reviewer agents -> one chat each with tokens ->
 * tools (search ok, run_tests failed, write_file ok), written in one convention's attributes.
 * Durations are exact in binary.
 */
export function researchTrace(convention: Convention = 'genai'): Step {
  const w = WRITES[convention];
  const chat = (model: string, from: number, to: number, tin: number, tout: number): Step => ({ ...w.chat(model, tin, tout), from, to });
  const tool = (name: string, from: number, to: number, error?: string): Step => ({ ...w.tool(name, error), from, to, error });
  const agent = (name: string, from: number, to: number, children: Step[]): Step => ({ ...w.agent(name), from, to, children });
  return {
    ...w.workflow('research'),
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
export async function recordSpans(root: Step, startMs: number, opts: { endRoot?: boolean; idGenerator?: IdGenerator } = {}): Promise<ReadableSpan[]> {
  const memory = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': SERVICE }),
    spanProcessors: [new SimpleSpanProcessor(memory)],
    ...(opts.idGenerator ? { idGenerator: opts.idGenerator } : {}),
  });
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
  // the GenAI conventions' client metrics from the same model calls
  const gt = (labels: Record<string, string>) => v('gen_ai_client_token_usage_sum', { gen_ai_operation_name: 'chat', gen_ai_provider_name: 'openai', ...labels });
  expect(v('gen_ai_client_token_usage_count', { gen_ai_token_type: 'input' })).toBe(3);
  expect(gt({ gen_ai_token_type: 'input' })).toBe(600);
  expect(gt({ gen_ai_token_type: 'output' })).toBe(200);
  expect(gt({ gen_ai_request_model: 'gpt-4o', gen_ai_token_type: 'input' })).toBe(300);
  expect(v('gen_ai_client_token_usage_bucket', { gen_ai_request_model: 'claude-sonnet', gen_ai_token_type: 'input', le: '256' })).toBe(0);
  expect(v('gen_ai_client_token_usage_bucket', { gen_ai_request_model: 'claude-sonnet', gen_ai_token_type: 'input', le: '1024' })).toBe(1);
  expect(v('gen_ai_client_operation_duration_seconds_count', { gen_ai_operation_name: 'chat', gen_ai_provider_name: 'openai', error_type: '' })).toBe(3);
  expect(v('gen_ai_client_operation_duration_seconds_sum')).toBe(3.5);
  expect(v('workflow_exporter_events_rejected_total')).toBe(0);
}
