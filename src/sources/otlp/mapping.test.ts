// The span mapping on its own: roles, names, the run of a trace across requests, prices, refusals.
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { SpanMapper } from './mapping.js';
import type { ExportTraceServiceRequest, Span } from './proto.js';

// long.js as protobufjs carries it: what it decodes 64-bit fields into
const Long = (createRequire(import.meta.url)('protobufjs') as { util: { Long: { fromNumber(n: number, unsigned: boolean): { multiply(n: number): never } } } }).util.Long;
const T0 = 1_700_000_000_000;
const id = (n: number, bytes: number) => Buffer.from(n.toString(16).padStart(bytes * 2, '0'), 'hex');

function span(n: number, attrs: Record<string, string | number>, from: number, to: number, parent?: number, opts: { trace?: number; name?: string; error?: boolean } = {}): Span {
  return {
    traceId: id(opts.trace ?? 1, 16),
    spanId: id(n, 8),
    parentSpanId: parent === undefined ? Buffer.alloc(0) : id(parent, 8),
    name: opts.name ?? `span ${n}`,
    kind: 1,
    startTimeUnixNano: Long.fromNumber(T0 + from, true).multiply(1_000_000),
    endTimeUnixNano: Long.fromNumber(T0 + to, true).multiply(1_000_000),
    attributes: Object.entries(attrs).map(([key, v]) => ({ key, value: typeof v === 'number' ? { value: 'intValue' as const, intValue: v } : { value: 'stringValue' as const, stringValue: v } })),
    status: opts.error ? { code: 2, message: 'boom' } : undefined,
  };
}
const req = (...spans: Span[]): ExportTraceServiceRequest => ({ resourceSpans: [{ resource: { attributes: [{ key: 'service.name', value: { value: 'stringValue', stringValue: 'svc' } }] }, scopeSpans: [{ spans }] }] });
const mapper = (prices = {}) => new SpanMapper({ prices, maxTokensPerSpan: 1000, traceCacheSize: 100 });

describe('SpanMapper', () => {
  it('spans of two traces interleaved in one request each keep their own trace', () => {
    const out = mapper().map(
      req(
        span(1, { 'gen_ai.operation.name': 'invoke_workflow', 'gen_ai.workflow.name': 'a' }, 0, 100, undefined, { trace: 1 }),
        span(2, { 'gen_ai.operation.name': 'invoke_workflow', 'gen_ai.workflow.name': 'b' }, 0, 100, undefined, { trace: 2 }),
        span(3, { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'search' }, 10, 20, 1, { trace: 1 }),
        span(4, { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'fetch' }, 10, 20, 2, { trace: 2 }),
        span(5, { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'search' }, 30, 40, 1, { trace: 1 }),
      ),
    );
    const trace = (n: number) => n.toString(16).padStart(32, '0');
    const tools = out.events.filter((e) => e.type === 'tool.called').map((e) => [e.tool, e.workflow?.id, e.workflow?.type, (e.attributes as { trace_id: string }).trace_id]);
    expect(tools).toEqual([
      ['search', trace(1), 'a', trace(1)],
      ['fetch', trace(2), 'b', trace(2)],
      ['search', trace(1), 'a', trace(1)],
    ]);
  });

  it('a trace with one agent and a model call: run, task and response events, ordered by time', () => {
    const m = mapper({ 'gpt-4o': { inputPerMillion: 1, outputPerMillion: 2 }, gpt: { inputPerMillion: 100, outputPerMillion: 100 } });
    const out = m.map(
      req(
        span(3, { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o-2024-08-06', 'gen_ai.usage.input_tokens': 10, 'gen_ai.usage.output_tokens': 5 }, 100, 200, 2),
        span(2, { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'planner' }, 50, 300, 1),
        span(1, {}, 0, 400, undefined, { name: 'handle request' }),
      ),
    );
    expect(out.events.map((e) => [e.type, e.time, e.agent ?? null])).toEqual([
      ['workflow.started', T0, null],
      ['task.started', T0 + 50, 'planner'],
      ['agent.response', T0 + 200, 'planner'],
      ['task.completed', T0 + 300, 'planner'],
      ['workflow.completed', T0 + 400, null],
    ]);
    const response = out.events[2];
    // the longest matching price key wins: gpt-4o, not gpt
    expect(response.cost_usd).toBe((10 * 1 + 5 * 2) / 1e6);
    expect(response.tokens_in).toBe(10);
    expect(out.events[4].workflow).toEqual({ id: '00000000000000000000000000000001', type: 'handle request' });
    expect(out.events[4].duration_ms).toBe(400);
    expect(out.roles).toEqual({ workflow: 1, agent: 1, tool: 0, model: 1, task: 0, other: 0 });
  });

  it('a plain trace (no agent, tool or model span) is no run: its spans count by kind', () => {
    const out = mapper().map(req(span(2, {}, 0, 5, 1), span(1, {}, 0, 10)));
    expect(out.events.map((e) => e.type)).toEqual(['span.internal', 'span.internal']);
  });

  it('children before the workflow span: the run opens with the name the children carry and closes once', () => {
    const m = mapper();
    const first = m.map(req(span(2, { 'traceloop.span.kind': 'tool', 'traceloop.entity.name': 'search', 'traceloop.workflow.name': 'research' }, 10, 20, 1, { error: true })));
    expect(first.events.map((e) => [e.type, e.workflow?.type, e.tool ?? null])).toEqual([
      ['workflow.started', 'research', null],
      ['tool.failed', 'research', 'search'],
    ]);
    const second = m.map(req(span(1, { 'traceloop.span.kind': 'workflow', 'traceloop.workflow.name': 'research' }, 0, 30, undefined, { error: true })));
    expect(second.events.map((e) => e.type)).toEqual(['workflow.failed']);
    // a late span of a closed trace reopens nothing
    const late = m.map(req(span(3, { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'x' }, 40, 50, 1)));
    expect(late.events.map((e) => e.type)).toEqual(['tool.called']);
    expect(m.tracesHeld).toBe(1);
  });

  it('a workflow span inside the run is a step; OpenInference CHAIN is the workflow only at the root', () => {
    const out = mapper().map(
      req(
        span(1, { 'openinference.span.kind': 'CHAIN' }, 0, 100, undefined, { name: 'rag' }),
        span(2, { 'openinference.span.kind': 'CHAIN' }, 10, 20, 1),
        span(3, { 'gen_ai.operation.name': 'invoke_workflow', 'gen_ai.workflow.name': 'inner' }, 30, 60, 1),
        span(4, { 'openinference.span.kind': 'LLM', 'llm.model_name': 'm', 'llm.token_count.prompt': 3 }, 40, 50, 3),
      ),
    );
    expect(out.events.map((e) => [e.type, e.stage ?? e.workflow?.type])).toEqual([
      ['workflow.started', 'rag'],
      ['span.internal', 'rag'],
      ['stage.started', 'inner'],
      ['agent.response', 'rag'],
      ['stage.completed', 'inner'],
      ['workflow.completed', 'rag'],
    ]);
  });

  it('refuses bad ids, end before start and absurd or malformed token counts, keeping the rest', () => {
    const bad = span(9, {}, 0, 1);
    bad.traceId = Buffer.alloc(16);
    const out = mapper().map(
      req(
        bad,
        span(2, {}, 10, 5),
        span(3, { 'gen_ai.usage.input_tokens': 1001 }, 0, 1),
        span(4, { 'gen_ai.usage.output_tokens': 'many' }, 0, 1),
        span(5, { 'gen_ai.operation.name': 'execute_tool' }, 0, 1, 1),
      ),
    );
    expect(out.spans).toBe(5);
    expect(out.rejected.map((r) => [r.reason, r.message])).toEqual([
      ['invalid_event', 'span 0: trace_id must be 16 bytes, not all zero'],
      ['invalid_duration', 'span 1: end_time_unix_nano is before start_time_unix_nano'],
      ['invalid_event', 'span 2: input token count 1001 exceeds 1000'],
      ['invalid_event', 'span 3: output token count "many" is not a non-negative integer'],
    ]);
    expect(out.events.map((e) => e.type)).toEqual(['workflow.started', 'tool.called']);
  });

  it('with spanAttributes, copies span attributes to the tail but never prompts or completions', () => {
    expect(mapper().map(req(span(1, { 'gen_ai.operation.name': 'chat' }, 0, 1))).events.at(-1)!.attributes).not.toHaveProperty('span');
    const out = new SpanMapper({ prices: {}, maxTokensPerSpan: 1000, traceCacheSize: 100, spanAttributes: true }).map(req(span(1, { 'gen_ai.operation.name': 'chat', 'gen_ai.input.messages': 'secret', 'input.value': 'secret', 'gen_ai.request.model': 'm' }, 0, 1)));
    const attrs = out.events.at(-1)!.attributes as { span: Record<string, unknown> };
    expect(attrs.span).toEqual({ 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'm' });
  });
});
