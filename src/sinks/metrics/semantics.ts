// The workflow-platform semantics sink: model tokens and cost, tool calls, queue wait, and the
// per-source last-event time the dead-man alert reads. Beside the metrics sink so each stays small.
import type { CardinalityGuard } from '../../metrics/guard.js';
import type { ProcessedBatch, Sink } from '../../pipeline/types.js';
import { parseTime } from '../../pipeline/validate.js';
import { UNKNOWN } from '../../state/lifecycle.js';
import type { Metrics } from '../../metrics/registry.js';
import type { WorkflowEvent } from '../../events/schema.js';
import { HistogramSeries } from '../../metrics/series.js';
import { Children, counterChildren, exemplarOf, gaugeChildren, histogramChildren, Latest, type Obs } from './sink.js';

type Inc = { inc(v?: number): void };

export class SemanticsSink implements Sink {
  readonly name = 'semantics';
  private readonly tokens: Children<Inc>;
  private readonly cost: Children<Inc>;
  private readonly tools: Children<Inc>;
  private readonly toolDur: Children<Obs>;
  private readonly queueWait: Children<Obs>;
  /** per emitting source, the latest event time */
  private readonly lastEvent: Latest;
  /** the GenAI conventions' client metrics (metrics.genai): tokens by type, durations by error type */
  private readonly genai?: {
    input: Children<Obs>;
    output: Children<Obs>;
    ok: Children<Obs>;
    /** by operation, provider, model and error type: the error type takes budget like any label */
    failed: Children<Obs>;
  };

  constructor(
    m: Metrics,
    private readonly guard: CardinalityGuard,
    budgets: Record<string, number>,
    private readonly countAnomaly: (kind: 'invalid_queue_wait') => void,
    genai = true,
  ) {
    const b = m.budgets;
    if (genai) {
      // four labels: the fourth is fixed per handle set (token type; error type '' when ok), or a label
      const tokens = b.family(m.genaiTokenUsage as unknown as { name: string; labelNames: string[]; upperBounds: number[] });
      const dur = b.family(m.genaiOperationDuration as unknown as { name: string; labelNames: string[]; upperBounds: number[] });
      this.genai = {
        input: new Children((v) => new HistogramSeries(m.genaiTokenUsage, [...v, 'input']), tokens),
        output: new Children((v) => new HistogramSeries(m.genaiTokenUsage, [...v, 'output']), tokens),
        ok: new Children((v) => new HistogramSeries(m.genaiOperationDuration, [...v, '']), dur),
        failed: new Children((v) => new HistogramSeries(m.genaiOperationDuration, v), dur),
      };
    }
    this.tokens = counterChildren(m.agentTokens, b);
    this.cost = counterChildren(m.agentCost, b);
    this.tools = counterChildren(m.toolCalls, b);
    this.toolDur = histogramChildren(m.toolDuration, b);
    this.queueWait = histogramChildren(m.taskQueueWait, b);
    this.lastEvent = new Latest(m.sourceLastEvent, b);
    // the budget series exists from the start so the burn alert has a denominator before any spend
    const daily = gaugeChildren(m.agentBudget, b);
    for (const [agent, usd] of Object.entries(budgets)) daily.get(guard.value('agent', agent)).set(usd);
  }

  write(batch: ProcessedBatch): void {
    const g = this.guard;
    const { events, timesMs, durations } = batch;
    for (let i = 0; i < events.length; i++) {
      const e = events[i];

      // latest event time per emitting source; a late event never moves it back
      this.lastEvent.update(timesMs[i] / 1000, g.value('source', e.source));

      if (e.tokens_in !== undefined || e.tokens_out !== undefined || e.cost_usd !== undefined) {
        const agent = g.value('agent', e.agent ?? UNKNOWN);
        const model = g.value('model', e.model ?? UNKNOWN);
        if (e.tokens_in !== undefined) this.tokens.get(agent, model, 'in').inc(e.tokens_in);
        if (e.tokens_out !== undefined) this.tokens.get(agent, model, 'out').inc(e.tokens_out);
        if (e.cost_usd !== undefined) this.cost.get(agent, model).inc(e.cost_usd);
      }

      const type = e.type;
      if (this.genai && (type === 'agent.response' || type === 'agent.error')) this.modelCall(e, durations[i], type === 'agent.error');
      if (type === 'tool.called' || type === 'tool.failed') {
        const agent = g.value('agent', e.agent ?? UNKNOWN);
        const tool = g.value('tool', e.tool ?? UNKNOWN);
        const outcome = type === 'tool.called' ? 'ok' : 'failed';
        this.tools.get(agent, tool, outcome).inc();
        const d = durations[i];
        if (d === d) this.toolDur.get(agent, tool, outcome).observe(d, exemplarOf(e));
      } else if (type === 'task.started' && (e.queue_wait_ms !== undefined || e.enqueued_at !== undefined)) {
        const wait = e.queue_wait_ms !== undefined ? e.queue_wait_ms / 1000 : (timesMs[i] - parseTime(e.enqueued_at!)) / 1000;
        // a wait below zero is clock skew between producer and queue, never a duration to record
        if (Number.isFinite(wait) && wait >= 0) this.queueWait.get(g.value('agent', e.agent ?? UNKNOWN)).observe(wait);
        else this.countAnomaly('invalid_queue_wait');
      }
    }
  }

  /**
   * gen_ai_client_token_usage and gen_ai_client_operation_duration_seconds from a model call. The
   * operation, provider and error type come from the otlp source's attributes (operation,
   * provider, error_type); events of other sources count as chat calls of an unknown provider.
   */
  private modelCall(e: WorkflowEvent, d: number, failed: boolean): void {
    const g = this.guard;
    const gen = this.genai!;
    const a = e.attributes;
    const str = (k: string) => (a !== undefined && typeof a[k] === 'string' && a[k] !== '' ? (a[k] as string) : undefined);
    const op = g.value('gen_ai_operation_name', str('operation') ?? 'chat');
    const provider = g.value('gen_ai_provider_name', str('provider') ?? UNKNOWN);
    const model = g.value('gen_ai_request_model', e.model ?? UNKNOWN);
    if (e.tokens_in !== undefined) gen.input.get(op, provider, model).observe(e.tokens_in);
    if (e.tokens_out !== undefined) gen.output.get(op, provider, model).observe(e.tokens_out);
    if (d !== d) return;
    if (!failed) {
      gen.ok.get(op, provider, model).observe(d, exemplarOf(e));
      return;
    }
    // the conventions' fallback when the error has no type of its own
    const errorType = g.value('error_type', str('error_type') ?? '_OTHER');
    gen.failed.get(op, provider, model, errorType).observe(d, exemplarOf(e));
  }
}
