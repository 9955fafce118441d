// Default histogram buckets, in seconds: the catalog's histograms and the defaults of the config's
// `metrics.buckets` both read them; kept in config, below the metrics code, so config imports none of it.

// Runs last seconds to hours: buckets from 1 s to 2 h.
export const RUN_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200] as const;
// Stages last sub-second to tens of minutes.
export const STAGE_BUCKETS = [0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800] as const;
// Tasks and agent calls: tens of milliseconds to minutes (LLM calls sit in 1–60 s).
export const TASK_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300] as const;
// Delivery lag: a healthy bus is sub-second; minutes mean a consumer fell behind.
export const LAG_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300] as const;
// Pipeline batches are processed in microseconds to tens of milliseconds.
export const BATCH_BUCKETS = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1] as const;
// Queue wait: a task picked up at once (milliseconds) to a backlog of an hour.
export const QUEUE_WAIT_BUCKETS = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600] as const;
// Tool calls: local tools in milliseconds, remote APIs and searches in seconds to a minute or two.
export const TOOL_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120] as const;
// The OpenTelemetry GenAI semantic conventions' advice for gen_ai.client.token.usage (tokens, powers of 4)
export const GENAI_TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864] as const;
// and for gen_ai.client.operation.duration (seconds, doubling from 10 ms)
export const GENAI_DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92] as const;
