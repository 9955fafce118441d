// The one metric catalog: names, types, help, labels and default buckets. The metrics sink
// registers exactly these; dashboards, rules and tests import them, so a rename moves everything.
import { BATCH_BUCKETS, GENAI_DURATION_BUCKETS, GENAI_TOKEN_BUCKETS, LAG_BUCKETS, QUEUE_WAIT_BUCKETS, RUN_BUCKETS, STAGE_BUCKETS, TASK_BUCKETS, TOOL_BUCKETS } from '../config/buckets.js';

export type MetricType = 'counter' | 'gauge' | 'histogram';

export interface MetricDef<L extends string = string> {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly labels: readonly L[];
  /** default bucket boundaries in seconds (histograms only); overridable per histogram in config */
  readonly buckets?: readonly number[];
  /**
   * series this family may hold on /metrics (a histogram label set takes its buckets, +Inf, _sum
   * and _count); past it new label sets fold into __overflow__. Unset: metrics.maxSeriesPerMetric.
   * Config (metrics.seriesBudgets) overrides it.
   */
  readonly seriesBudget?: number;
}

/** Keeps the literal labels and type of each entry, so the registry's instruments are typed from it. */
function def<const L extends string, const T extends MetricType>(d: MetricDef<L> & { readonly type: T }): MetricDef<L> & { readonly type: T } {
  return d;
}

/** The closed set of workflow_exporter_lifecycle_anomalies_total{kind}; each starts at zero. */
export const LIFECYCLE_ANOMALY_KINDS = ['end_without_start', 'duplicate_start', 'end_before_start', 'pause_without_start', 'evicted', 'out_of_order', 'duplicate_id', 'late', 'invalid_queue_wait'] as const;
/** Live-tail transports, the closed set of the tail metrics' transport label. */
export const TAIL_TRANSPORTS = ['websocket', 'sse'] as const;
/** Why the server closed or refused a connection (httpConnectionsClosed); a closed set, zero from the start. */
export const CONNECTION_CLOSE_REASONS = ['max_connections', 'evicted_idle', 'max_requests', 'headers_timeout', 'request_timeout', 'idle_timeout'] as const;
export type ConnectionCloseReason = (typeof CONNECTION_CLOSE_REASONS)[number];

export const catalog = {
  eventsTotal: def({
    name: 'workflow_events_total',
    type: 'counter',
    help: 'Workflow events accepted, by emitting source and event type.',
    labels: ['source', 'type'],
  }),
  runsStarted: def({
    name: 'workflow_runs_started_total',
    type: 'counter',
    help: 'Workflow runs started.',
    labels: ['workflow_type'],
  }),
  runsFinished: def({
    name: 'workflow_runs_finished_total',
    type: 'counter',
    help: 'Workflow runs finished, by outcome (completed, failed, cancelled).',
    labels: ['workflow_type', 'outcome'],
  }),
  runsActive: def({
    name: 'workflow_runs_active',
    type: 'gauge',
    help: 'Workflow runs started and not yet finished, by state (running, paused). Shared across replicas when state lives in Redis: aggregate with max, not sum.',
    labels: ['workflow_type', 'state'],
  }),
  runDuration: def({
    name: 'workflow_run_duration_seconds',
    type: 'histogram',
    help: 'Workflow run duration from start to its end event.',
    labels: ['workflow_type', 'outcome'],
    buckets: RUN_BUCKETS,
  }),
  stageDuration: def({
    name: 'workflow_stage_duration_seconds',
    type: 'histogram',
    help: 'Stage duration from stage.started to its end event.',
    labels: ['workflow_type', 'stage', 'outcome'],
    buckets: STAGE_BUCKETS,
    // types × stages × outcomes at 15 series each: 20 × 15 × 3 label sets already take 13,500
    seriesBudget: 20_000,
  }),
  tasksTotal: def({
    name: 'workflow_tasks_total',
    type: 'counter',
    help: 'Tasks finished, by agent and outcome (completed, failed).',
    labels: ['agent', 'outcome'],
  }),
  taskDuration: def({
    name: 'workflow_task_duration_seconds',
    type: 'histogram',
    help: 'Task duration from task.started to its end event, by agent.',
    labels: ['agent', 'outcome'],
    buckets: TASK_BUCKETS,
  }),
  agentLastSeen: def({
    name: 'workflow_agent_last_seen_timestamp_seconds',
    type: 'gauge',
    help: 'Unix time of the latest event that named the agent.',
    labels: ['agent'],
  }),
  queueDepth: def({
    name: 'workflow_queue_depth',
    type: 'gauge',
    help: 'Latest reported depth of a work queue.',
    labels: ['queue'],
  }),
  eventLag: def({
    name: 'workflow_event_lag_seconds',
    type: 'histogram',
    help: 'Ingest time minus event time, by emitting source.',
    labels: ['source'],
    buckets: LAG_BUCKETS,
  }),
  sourceLastEvent: def({
    name: 'workflow_source_last_event_timestamp_seconds',
    type: 'gauge',
    help: 'Unix time of the latest event from the emitting source (never moved back by a late event); the dead-man alert reads it.',
    labels: ['source'],
  }),
  runsOverdue: def({
    name: 'workflow_runs_overdue',
    type: 'gauge',
    help: 'Open runs (running or paused) past the deadline configured for their workflow type, with no end event. Shared across replicas when state lives in Redis: aggregate with max.',
    labels: ['workflow_type'],
  }),
  taskQueueWait: def({
    name: 'workflow_task_queue_wait_seconds',
    type: 'histogram',
    help: 'Time a task waited between enqueued and started (task.started with enqueued_at or queue_wait_ms), by agent.',
    labels: ['agent'],
    buckets: QUEUE_WAIT_BUCKETS,
  }),
  agentTokens: def({
    name: 'workflow_agent_tokens_total',
    type: 'counter',
    help: 'Model tokens reported on agent and task events, by agent, model and direction (in, out).',
    labels: ['agent', 'model', 'direction'],
  }),
  agentCost: def({
    name: 'workflow_agent_cost_usd_total',
    type: 'counter',
    help: 'Model cost in US dollars reported on agent and task events (cost_usd), by agent and model.',
    labels: ['agent', 'model'],
  }),
  agentBudget: def({
    name: 'workflow_agent_daily_budget_usd',
    type: 'gauge',
    help: 'Configured daily cost budget per agent in US dollars; the budget burn alert divides spend by it.',
    labels: ['agent'],
  }),
  toolCalls: def({
    name: 'workflow_tool_calls_total',
    type: 'counter',
    help: 'Tool calls (tool.called, tool.failed), by agent, tool and outcome (ok, failed).',
    labels: ['agent', 'tool', 'outcome'],
  }),
  toolDuration: def({
    name: 'workflow_tool_call_duration_seconds',
    type: 'histogram',
    help: 'Tool call latency from duration_ms on tool.called and tool.failed, by agent, tool and outcome.',
    labels: ['agent', 'tool', 'outcome'],
    buckets: TOOL_BUCKETS,
    // agents × tools × outcomes at 17 series each: 30 agents × 25 tools × 2 take 25,500
    seriesBudget: 25_000,
  }),

  // The OpenTelemetry GenAI client metrics in their Prometheus form (metrics.genai), so dashboards
  // built for the conventions work; fed by model calls (agent.response / agent.error events).
  genaiTokenUsage: def({
    name: 'gen_ai_client_token_usage',
    type: 'histogram',
    help: 'Tokens per model call, by operation, provider, model and token type (input, output): the GenAI semantic conventions\' gen_ai.client.token.usage.',
    labels: ['gen_ai_operation_name', 'gen_ai_provider_name', 'gen_ai_request_model', 'gen_ai_token_type'],
    buckets: GENAI_TOKEN_BUCKETS,
    seriesBudget: 20_000,
  }),
  genaiOperationDuration: def({
    name: 'gen_ai_client_operation_duration_seconds',
    type: 'histogram',
    help: 'Model call duration, by operation, provider, model and error type (empty on success): the GenAI semantic conventions\' gen_ai.client.operation.duration.',
    labels: ['gen_ai_operation_name', 'gen_ai_provider_name', 'gen_ai_request_model', 'error_type'],
    buckets: GENAI_DURATION_BUCKETS,
    seriesBudget: 20_000,
  }),

  // Self-metrics of the exporter.
  received: def({
    name: 'workflow_exporter_events_received_total',
    type: 'counter',
    help: 'Raw messages received, by exporter source (before validation).',
    labels: ['source'],
  }),
  rejected: def({
    name: 'workflow_exporter_events_rejected_total',
    type: 'counter',
    help: 'Messages rejected and sent to dead letters, by exporter source and reason.',
    labels: ['source', 'reason'],
  }),
  sourceUp: def({
    name: 'workflow_exporter_source_up',
    type: 'gauge',
    help: '1 when the source is connected to its server and reading (its stream, consumer or group exists), else 0.',
    labels: ['source', 'kind'],
  }),
  sourcePending: def({
    name: 'workflow_exporter_source_pending_messages',
    type: 'gauge',
    help: 'Messages waiting in the bus for this consumer (JetStream num_pending, Redis group lag plus pending).',
    labels: ['source'],
  }),
  sourceErrors: def({
    name: 'workflow_exporter_source_errors_total',
    type: 'counter',
    help: 'Source-level failures (connection lost, fetch failed, group, consumer or stream missing or recreated, key of the wrong type), by kind.',
    labels: ['source', 'kind'],
  }),
  eventsLost: def({
    name: 'workflow_exporter_events_lost_total',
    type: 'counter',
    help: 'Messages the bus dropped after handing them to a consumer and before they went through the sinks, by source and reason (trimmed: a Redis entry trimmed or deleted while pending).',
    labels: ['source', 'reason'],
  }),
  batchDuration: def({
    name: 'workflow_exporter_batch_duration_seconds',
    type: 'histogram',
    help: 'Time to take one batch through every sink, before its ack.',
    labels: ['source'],
    buckets: BATCH_BUCKETS,
  }),
  seriesOverflow: def({
    name: 'workflow_exporter_series_overflow_total',
    type: 'counter',
    help: 'New label combinations folded into __overflow__ because the series budget of the metric (limit metric) or the cap on all series (limit total) was full, by metric; per event, or per scrape for gauges read at scrape time.',
    labels: ['metric', 'limit'],
  }),
  labelOverflow: def({
    name: 'workflow_exporter_label_overflow_total',
    type: 'counter',
    help: 'Label values replaced by __overflow__ (kind cap or not_allowed), truncated (truncated), or with lone surrogates replaced by U+FFFD (malformed), by label and kind.',
    labels: ['label', 'kind'],
  }),
  lifecycleAnomalies: def({
    name: 'workflow_exporter_lifecycle_anomalies_total',
    type: 'counter',
    help: `Events that did not fit event time or lifecycle state, by kind: ${LIFECYCLE_ANOMALY_KINDS.join(', ')}.`,
    labels: ['kind'],
  }),
  deadLetters: def({
    name: 'workflow_exporter_dead_letters_total',
    type: 'counter',
    help: 'Rejected messages written to the dead-letter output, by output (ring, nats, redis) and result.',
    labels: ['output', 'result'],
  }),
  tailClients: def({
    name: 'workflow_exporter_tail_clients',
    type: 'gauge',
    help: 'Connected live-tail clients, by transport (websocket, sse).',
    labels: ['transport'],
  }),
  tailFollowerReading: def({
    name: 'workflow_exporter_tail_follower_reading',
    type: 'gauge',
    help: "1 while the tail follower reads every event of the bus for this replica's live tail and history (tail.follow on, or watched with someone watching), else 0.",
    labels: [],
  }),
  tailDropped: def({
    name: 'workflow_exporter_tail_dropped_events_total',
    type: 'counter',
    help: 'Events not delivered to a slow live-tail client, by transport.',
    labels: ['transport'],
  }),
  tailRejected: def({
    name: 'workflow_exporter_tail_rejected_total',
    type: 'counter',
    help: 'Live-tail and history requests refused, by transport (websocket, sse, api: GET /api/events and its export) and reason (invalid_json, invalid_message, invalid_filter, filter_limit, too_large, rate_limited, too_many_clients; replay_limited: a replay cut short by tail.replayScanPerSecond).',
    labels: ['transport', 'reason'],
  }),
  authRejected: def({
    name: 'workflow_exporter_auth_rejected_total',
    type: 'counter',
    help: 'Requests refused by token, Origin or rate-limit checks, by reason (missing_token, invalid_token, insufficient_role, origin_not_allowed, host_not_allowed, rate_limited).',
    labels: ['reason'],
  }),
  httpConnections: def({
    name: 'workflow_exporter_http_connections',
    type: 'gauge',
    help: 'Open HTTP connections, WebSocket and SSE included; at most server.maxConnections.',
    labels: [],
  }),
  httpConnectionsClosed: def({
    name: 'workflow_exporter_http_connections_closed_total',
    type: 'counter',
    help: 'Connections the server refused or closed to protect itself, by reason: max_connections (refused, the cap reached with none idle), evicted_idle (the one idle longest, closed to admit a new one), max_requests (503, too many requests under way outside the reserve for metrics and health), headers_timeout and request_timeout (408, too slow), idle_timeout (nothing moved on a response under way).',
    labels: ['reason'],
  }),
  controlCommands: def({
    name: 'workflow_exporter_control_commands_total',
    type: 'counter',
    help: 'Operator control commands (pause, resume, cancel), by action and outcome (published, failed, refused, invalid).',
    labels: ['action', 'outcome'],
  }),
  otlpExports: def({
    name: 'workflow_exporter_otlp_exports_total',
    type: 'counter',
    help: 'OTLP export attempts when OpenTelemetry output is on, by signal (metrics, traces) and result (ok, error).',
    labels: ['signal', 'result'],
  }),
  buildInfo: def({
    name: 'workflow_exporter_build_info',
    type: 'gauge',
    help: 'Always 1; labels carry the exporter version and Node.js version.',
    labels: ['version', 'node_version'],
  }),
} as const;

export type CatalogKey = keyof typeof catalog;
export const ALL_METRICS: readonly MetricDef[] = Object.values(catalog);

/** Names prom-client adds to a histogram or counter series, for expression checks. */
export function seriesNames(d: MetricDef): string[] {
  if (d.type === 'histogram') return [`${d.name}_bucket`, `${d.name}_sum`, `${d.name}_count`];
  return [d.name];
}
