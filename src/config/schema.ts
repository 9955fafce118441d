// The configuration schema: every field described; it is both the documentation and the validator.
import { z } from 'zod';
import { LAG_BUCKETS, QUEUE_WAIT_BUCKETS, RUN_BUCKETS, STAGE_BUCKETS, TASK_BUCKETS, TOOL_BUCKETS } from './buckets.js';
import { ascodeSchema } from './ascode.js';

export const DEFAULT_PORT = 9477; // the exporter's port, next to the well-known exporter range
export const DEFAULT_BATCH = 256; // one JetStream pull / XREADGROUP COUNT; bounds memory per fetch
// the client's default is 30 s, and a pull left on a dead consumer leader then stalls a replica ~30 s
// (measured 23 s in test/faults/nats-cluster.test.ts); at 5 s an idle replica sends one pull per 5 s
export const DEFAULT_PULL_EXPIRES_MS = 5000;
export const DEFAULT_BODY_LIMIT = 1 << 20; // 1 MiB per HTTP request: ~2,000 typical events
export const DEFAULT_DEAD_LETTER_RING = 1000; // enough to diagnose a bad producer, bounded memory

const presetName = z.enum(['swe-ai-fleet', 'agentic-sdlc', 'saas-factory']);

/** A YAML mapping from a foreign message shape to canonical fields (see events/mapping.ts). */
const fieldSpec = z.union([
  z.string().describe('a path into the message such as $.run.id, or $subject / $subject[2]'),
  z
    .object({
      from: z.string().optional().describe('path to read'),
      value: z.union([z.string(), z.number()]).optional().describe('a constant'),
      map: z.record(z.string(), z.string()).optional().describe('translate the value read'),
      scale: z.number().optional().describe('multiply a number, e.g. 1000 for seconds to ms'),
      default: z.union([z.string(), z.number()]).optional().describe('used when the path is missing'),
    })
    .strict(),
]);
export const mappingSchema = z
  .object({
    match: z
      .object({ path: z.string(), equals: z.union([z.string(), z.array(z.string())]).optional() })
      .optional()
      .describe('apply only when this path exists (and equals one of the values)'),
    fields: z.record(z.string(), fieldSpec).describe('canonical field (dotted: workflow.id) to spec'),
  })
  .strict();
export type MappingConfig = z.infer<typeof mappingSchema>;

const decodeOptions = {
  name: z.string().min(1).max(64).regex(/^[a-z0-9_-]+$/i).optional().describe('source name in self-metrics; defaults to the kind'),
  format: z
    .enum(['auto', 'canonical', 'cloudevents'])
    .default('auto')
    .describe('auto detects CloudEvents by specversion, else expects canonical (or the preset/mapping)'),
  preset: presetName.optional().describe('normalize messages of a known platform'),
  mapping: mappingSchema.optional().describe('normalize messages of another shape'),
};

const natsSource = z
  .object({
    kind: z.literal('nats-jetstream'),
    ...decodeOptions,
    servers: z.array(z.string()).min(1).default(['nats://127.0.0.1:4222']).describe('NATS server URLs'),
    user: z.string().optional(),
    passwordFile: z.string().optional().describe('file holding the password; never the password inline'),
    tokenFile: z.string().optional(),
    streams: z
      .array(
        z
          .object({
            stream: z.string().min(1).describe('JetStream stream name'),
            subjects: z.array(z.string().min(1)).min(1).describe('subjects the stream holds / the consumer filters'),
            durable: z.string().min(1).default('workflow-exporter').describe('durable consumer name, shared by replicas'),
          })
          .strict(),
      )
      .min(1),
    create: z.boolean().default(false).describe('create the stream and consumer when missing, at start and when deleted while running (a durable again after the last message counted); else attach, fail the start if absent, and stay unready while they are missing'),
    batch: z.number().int().min(1).max(10_000).default(DEFAULT_BATCH),
    batchWaitMs: z
      .number()
      .int()
      .min(0)
      .max(1000)
      .default(0)
      .describe(
        'wait up to this long after a batch\'s first message for more, up to batch: fuller batches (less CPU per event) when each replica sees a low rate, each event up to this much later; 0 takes what arrived in one turn of the event loop',
      ),
    ackPolicy: z
      .enum(['explicit', 'all'])
      .default('explicit')
      .describe('explicit is safe with replicas; all (cumulative) is cheaper with a single replica'),
    ackWaitMs: z.number().int().min(1000).default(30_000).describe('redelivery after this long without ack'),
    maxAckPending: z.number().int().min(1).default(8192).describe('bounds unacked messages in flight'),
    deliverPolicy: z.enum(['all', 'new']).default('all').describe('where a newly created consumer starts'),
    pullExpiresMs: z
      .number()
      .int()
      .min(1000)
      .default(DEFAULT_PULL_EXPIRES_MS)
      .describe('a pull request lasts this long (heartbeats every half of it); a pull left on a server that died, as when a cluster moves the consumer leader, is replaced after two missed heartbeats'),
  })
  .strict();

/** Where a Redis is, beside its url: a Cluster's seed nodes or a Sentinel-managed master (util/redis-client.ts). */
const redisTopology = {
  cluster: z
    .array(z.string().min(1))
    .min(1)
    .optional()
    .describe(
      'seed nodes of a Redis Cluster (redis://host:port; a few are enough, the rest are discovered); url is then unused. Keys used together must share a hash slot: name them with one hash tag, e.g. {wfx}:events',
    ),
  passwordFile: z.string().optional().describe('file holding the Redis password (AUTH), for a server, every node of a cluster, or a Sentinel-managed master; never the password inline'),
  sentinel: z
    .object({
      name: z.string().min(1).describe('the master name the sentinels monitor'),
      sentinels: z.array(z.string().min(1)).min(1).describe('sentinel addresses, redis://host:port'),
      passwordFile: z.string().optional().describe("file holding the sentinels' own password (their requirepass), when they have one"),
    })
    .strict()
    .optional()
    .describe('a Sentinel-managed Redis: the client asks the sentinels for the master and follows it across failovers; url is then unused'),
};

const redisSource = z
  .object({
    kind: z.literal('redis-streams'),
    ...decodeOptions,
    url: z.string().default('redis://127.0.0.1:6379'),
    ...redisTopology,
    keys: z.array(z.string().min(1)).min(1).describe('stream keys to read'),
    group: z.string().min(1).default('workflow-exporter').describe('consumer group, shared by replicas'),
    consumer: z.string().min(1).optional().describe('consumer name; defaults to hostname-pid'),
    field: z.string().default('data').describe('entry field holding the JSON event; other fields are used when it is absent'),
    batch: z.number().int().min(1).max(10_000).default(500),
    blockMs: z.number().int().min(10).max(60_000).default(1000),
    claimIdleMs: z.number().int().min(1000).default(60_000).describe('claim entries pending this long on a dead consumer'),
    claimIntervalMs: z.number().int().min(100).default(15_000),
    create: z.boolean().default(true).describe('create the group (MKSTREAM) when missing, and again after Redis lost it or the key was deleted; else stay unready while it is missing'),
    startId: z.string().default('$').describe('where a newly created group starts: $ (new entries) or 0 (the whole stream)'),
  })
  .strict()
  .superRefine((s, ctx) => {
    // one XREADGROUP reads every key: on a cluster they must hash to one slot, which only a shared
    // hash tag guarantees (else Redis answers CROSSSLOT on every read)
    if (!s.cluster || s.keys.length < 2) return;
    const slotsOf = new Set(s.keys.map(hashTagOf));
    if (slotsOf.size > 1) {
      ctx.addIssue({ code: 'custom', path: ['keys'], message: `on a Redis Cluster the keys read together need one hash tag, e.g. {workflow}:events; ${s.keys.join(', ')} may be on different slots` });
    }
  });

/** The part of a key Redis Cluster hashes: the first non-empty {...}, else the whole key. */
export function hashTagOf(key: string): string {
  const open = key.indexOf('{');
  if (open < 0) return key;
  const close = key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}

const httpSource = z
  .object({
    kind: z.literal('http'),
    ...decodeOptions,
    bodyLimitBytes: z.number().int().min(1024).max(64 << 20).default(DEFAULT_BODY_LIMIT),
    maxEventsPerRequest: z.number().int().min(1).default(10_000),
    rateLimit: z
      .object({
        max: z.number().int().min(0).default(0).describe('requests per client address per window; 0 turns the limit off'),
        timeWindowMs: z.number().int().min(100).default(1000),
      })
      .strict()
      .prefault({})
      .describe('throttles POST /api/events per client with 429; off by default: producers are usually trusted services'),
  })
  .strict();

const memorySource = z.object({ kind: z.literal('memory'), ...decodeOptions }).strict();

const demoSource = z
  .object({
    kind: z.literal('demo'),
    ...decodeOptions,
    rate: z.number().min(0.1).max(100_000).default(40).describe('events per second'),
    seed: z.number().int().optional().describe('PRNG seed for reproducible traffic'),
    timeScale: z.number().min(0.001).max(1000).default(1).describe('>1 makes simulated runs finish faster'),
    spans: z
      .union([z.boolean(), z.number().min(0).max(1)])
      .default(false)
      .describe('send the traffic as GenAI spans through the otlp source\'s mapping, as an instrumented agent framework would: trace ids in the tail, exemplars on the latency histograms; a number between 0 and 1 sends that share of the runs as spans and the rest (with heartbeats, queue depths, pauses) as events. serve --demo adds a demo source with 0.25'),
  })
  .strict();

const fileSource = z
  .object({
    kind: z.literal('file'),
    ...decodeOptions,
    path: z.string().min(1),
    batch: z.number().int().min(1).default(1000),
    progress: z.boolean().default(false).describe('draw a progress bar on stderr'),
  })
  .strict();

const port = z.number().int().min(0).max(65535);
const otlpSource = z
  .object({
    kind: z.literal('otlp'),
    name: decodeOptions.name,
    // spans become canonical events in sources/otlp/mapping.ts: no format, preset or mapping applies
    format: z.literal('canonical').default('canonical').describe('always canonical: spans are mapped by the otlp source itself'),
    preset: z.never().optional(),
    mapping: z.never().optional(),
    http: z.boolean().default(true).describe("accept OTLP/HTTP at POST /v1/traces on the exporter's own server (port 9477)"),
    httpPort: port.optional().describe('also accept OTLP/HTTP on this port, 4318 by convention, so exporters keep their default endpoint'),
    grpcPort: port.optional().describe('accept OTLP/gRPC (TraceService/Export) on this port, 4317 by convention; off when unset'),
    host: z.string().optional().describe('address httpPort and grpcPort bind; server.host when unset'),
    bodyLimitBytes: z.number().int().min(1024).max(64 << 20).default(4 << 20).describe('largest request body as sent (compressed); a batch of 512 spans is ~0.3-1 MiB'),
    maxDecompressedBytes: z.number().int().min(1024).max(256 << 20).default(16 << 20).describe('largest gzip body once inflated; inflating stops there, so a gzip bomb costs at most this much memory'),
    maxSpansPerRequest: z.number().int().min(1).default(10_000),
    maxInFlightSpans: z
      .number()
      .int()
      .min(1)
      .default(50_000)
      .describe('spans being processed at once; past this requests are answered 503 (gRPC UNAVAILABLE) with Retry-After and the exporter retries'),
    retryAfterSeconds: z.number().int().min(1).max(300).default(1).describe('Retry-After on the back-pressure answers'),
    maxTokensPerSpan: z.number().int().min(1).default(10_000_000).describe('a token count above this on one span rejects the span as absurd'),
    traceCacheSize: z.number().int().min(100).max(10_000_000).default(100_000).describe('traces remembered across requests (run opened, workflow name): a trace longer than one export batch needs it'),
    spanAttributes: z
      .boolean()
      .default(false)
      .describe("copy each span's attributes (never prompts, completions, tool arguments or results) into the tail as attributes.span; off, events carry the ids, names and mapped fields only: the copy cost a quarter of ingest throughput in our runs"),
    prices: z
      .record(z.string(), z.object({ inputPerMillion: z.number().min(0), outputPerMillion: z.number().min(0) }).strict())
      .default({})
      .describe('US dollars per million tokens by model (or model prefix: the longest matching key wins), giving cost_usd on model-call spans'),
  })
  .strict();

export const sourceSchema = z.discriminatedUnion('kind', [natsSource, redisSource, httpSource, memorySource, demoSource, fileSource, otlpSource]);
export type SourceConfig = z.infer<typeof sourceSchema>;
export type SourceKind = SourceConfig['kind'];

// Per-label caps bound each label, not their product: 500 agents × 500 tools passed every cap and
// made 4.5 M series. A family's series budget bounds the product; the cap on all series the sum.
export const DEFAULT_SERIES_PER_METRIC = 10_000; // 10k label sets of a counter, ~600 of a 14-bucket histogram
// A scrape blocks the event loop for its whole length, about a microsecond per series and several
// times that on a loaded machine: 50k keep the worst scrape near a second there, and RSS under the
// 512 MiB the Kubernetes manifests allow (figures: docs/benchmarks-log.md, "Figures behind code comments").
export const DEFAULT_MAX_SERIES = 50_000;

const labelGuard = z
  .object({
    allow: z.array(z.string()).optional().describe('only these values; anything else becomes __overflow__'),
    maxValues: z.number().int().min(1).max(100_000).optional().describe('distinct values kept before __overflow__'),
  })
  .strict();

const buckets = (d: readonly number[]) =>
  z
    .array(z.number().positive())
    .min(1)
    .refine((b) => b.every((v, i) => i === 0 || v > b[i - 1]), 'buckets must be strictly increasing')
    .default([...d]);

export const configSchema = z
  .object({
    server: z
      .object({
        host: z.string().default('0.0.0.0'),
        port: z.number().int().min(0).max(65535).default(DEFAULT_PORT),
        shutdownTimeoutMs: z.number().int().min(100).default(10_000).describe('drain budget on SIGTERM'),
        // what one client may hold of the server (src/server/connections.ts, docs/RELIABILITY.md)
        headersTimeoutMs: z
          .number()
          .int()
          .min(100)
          .default(10_000)
          .describe('a connection that has not sent the headers of its request in this long, from connecting or from the end of the previous request, gets 408 and is closed (a slow or silent client)'),
        requestTimeoutMs: z
          .number()
          .int()
          .min(100)
          .default(30_000)
          .describe('the whole request, body included, must arrive in this long, else 408 and closed: a 1 MiB ingest body needs 35 kB/s at the default'),
        keepAliveTimeoutMs: z
          .number()
          .int()
          .min(100)
          .default(72_000)
          .describe('an idle keep-alive connection is closed after this long; longer than the 60 s idle timeout of common load balancers, so they close first'),
        connectionTimeoutMs: z
          .number()
          .int()
          .min(1000)
          .default(120_000)
          .describe('a connection with a response under way (an export, an SSE stream) on which nothing moved for this long is closed; must exceed tail.heartbeatIntervalMs, which keeps quiet tail streams moving'),
        maxRequestsPerSocket: z.number().int().min(0).default(0).describe('requests one keep-alive connection may carry before it is closed (0: no limit); spreads clients over replicas behind a proxy'),
        maxConnections: z
          .number()
          .int()
          .min(16)
          .max(1_000_000)
          .default(4096)
          .describe(
            'open connections at most; a new connection past it closes the one idle longest (no request under way), or is refused when none is idle. Lowered at start to the open-file limit minus 256 when that is smaller',
          ),
        reservedConnections: z
          .number()
          .int()
          .min(0)
          .default(64)
          .describe('of maxConnections, held back for GET /metrics, /healthz and /readyz: other requests (ingest, API, tail streams) under way beyond maxConnections minus this get 503'),
      })
      .strict()
      .refine((s) => s.headersTimeoutMs <= s.requestTimeoutMs, { path: ['headersTimeoutMs'], message: 'headersTimeoutMs must not exceed requestTimeoutMs' })
      .refine((s) => s.reservedConnections < s.maxConnections, { path: ['reservedConnections'], message: 'reservedConnections must be below maxConnections' })
      .prefault({}),
    demo: z.boolean().default(false).describe('add a demo source (serve --demo)'),
    http: z.boolean().default(true).describe('accept POST /api/events even when no http source is listed'),
    sources: z.array(sourceSchema).default([]),
    state: z
      .object({
        backend: z.enum(['memory', 'redis']).default('memory'),
        redisUrl: z.string().default('redis://127.0.0.1:6379'),
        ...redisTopology,
        prefix: z
          .string()
          .default('wfx')
          .describe('Redis key prefix; replicas of one deployment share it. On a Redis Cluster it is wrapped in a hash tag ({wfx}) unless it holds one, so all state keys share a slot and the scripts stay atomic'),
        maxEntries: z.number().int().min(100).default(200_000).describe('open runs/stages/tasks tracked before the oldest is evicted'),
        ttlSeconds: z.number().int().min(60).default(7 * 24 * 3600).describe('an open run older than this is forgotten (Redis)'),
      })
      .strict()
      .prefault({}),
    validation: z
      .object({
        maxMessageBytes: z.number().int().min(256).default(256 * 1024),
        maxDepth: z.number().int().min(2).max(256).default(32),
        maxPastSeconds: z.number().positive().default(30 * 24 * 3600).describe('older event times are rejected'),
        maxFutureSeconds: z.number().positive().default(300).describe('event times further ahead are rejected (clock skew)'),
        maxDurationSeconds: z
          .number()
          .positive()
          .max(366 * 24 * 3600) // MAX_DURATION_MS of events/schema.ts, the bound of duration_ms whatever this says
          .default(30 * 24 * 3600)
          .describe('longer duration_ms values are rejected (invalid_duration); at most the schema bound of 366 days'),
      })
      .strict()
      .prefault({}),
    metrics: z
      .object({
        defaultMetrics: z.boolean().default(true).describe('process_* and nodejs_* metrics'),
        genai: z
          .boolean()
          .default(true)
          .describe('also the OpenTelemetry GenAI client metrics, gen_ai_client_token_usage and gen_ai_client_operation_duration_seconds, from model calls (agent.response and agent.error events), so dashboards built for those conventions work'),
        exemplars: z
          .enum(['auto', 'on', 'off'])
          .default('auto')
          .describe(
            'trace_id and span_id as OpenMetrics exemplars on the run, stage, task and tool duration histograms, from events that carry them (attributes.trace_id, attributes.span_id: every event of an otlp source); shown only when the scraper negotiates OpenMetrics, the Prometheus text is unchanged; auto is on with an otlp source',
          ),
        buckets: z
          .object({
            run: buckets(RUN_BUCKETS),
            stage: buckets(STAGE_BUCKETS),
            task: buckets(TASK_BUCKETS),
            lag: buckets(LAG_BUCKETS),
            queueWait: buckets(QUEUE_WAIT_BUCKETS),
            tool: buckets(TOOL_BUCKETS),
          })
          .strict()
          .prefault({}),
        labels: z
          .record(z.string(), labelGuard)
          .default({})
          .describe('per-label guard, e.g. agent: {maxValues: 200}'),
        maxLabelValues: z.number().int().min(1).default(500).describe('default distinct values per label'),
        maxLabelLength: z.number().int().min(8).max(1024).default(128),
        maxSeriesPerMetric: z
          .number()
          .int()
          .min(1)
          .default(DEFAULT_SERIES_PER_METRIC)
          .describe('series budget of a metric family without its own (a histogram label set takes its buckets plus 3); past it new label combinations fold into __overflow__'),
        seriesBudgets: z
          .record(z.string(), z.number().int().min(1))
          .default({})
          .describe('series budget per metric name (checked against the metric catalog at start), over the catalog default, e.g. workflow_tool_call_duration_seconds: 100000'),
        maxSeries: z
          .number()
          .int()
          .min(100)
          .default(DEFAULT_MAX_SERIES)
          .describe('cap on the series of every budgeted metric together; bounds the time a scrape blocks the exporter'),
      })
      .strict()
      .prefault({}),
    deadLetters: z
      .object({
        ringSize: z.number().int().min(1).max(1_000_000).default(DEFAULT_DEAD_LETTER_RING),
        maxRawBytes: z.number().int().min(64).default(4096).describe('raw message kept per dead letter'),
        natsSubject: z.string().optional().describe('also publish dead letters here (needs a nats-jetstream source)'),
        redisStream: z.string().optional().describe('also XADD dead letters here (needs a redis-streams source or state)'),
        redisMaxLen: z.number().int().min(1).default(100_000),
      })
      .strict()
      .prefault({}),
    control: z
      .object({
        bus: z
          .enum(['auto', 'nats', 'redis', 'queue'])
          .default('auto')
          .describe('where operator commands go: auto picks the nats-jetstream source, else the redis-streams source, else the in-process queue a platform polls'),
        natsSubjectPrefix: z.string().min(1).default('control.workflow').describe('commands are published on <prefix>.<workflow id>'),
        redisStream: z.string().min(1).default('workflow:control').describe('commands are XADDed to this stream'),
        redisMaxLen: z.number().int().min(1).default(100_000).describe('approximate cap on the control stream'),
        queueSize: z.number().int().min(1).max(1_000_000).default(1000).describe('commands kept for GET /api/control/commands (queue bus)'),
        auditSize: z.number().int().min(1).max(1_000_000).default(10_000).describe('audit entries kept in memory for GET /api/audit'),
        auditFile: z.string().optional().describe('also append each audit entry as one JSON line to this file, so the trail survives restarts'),
        maxReasonLength: z.number().int().min(1).max(10_000).default(1000),
      })
      .strict()
      .prefault({}),
    runs: z
      .object({
        deadlines: z
          .record(z.string(), z.number().positive())
          .default({})
          .describe('seconds a run of this workflow type may stay open before it counts in workflow_runs_overdue, e.g. feature-dev: 3600'),
        defaultDeadlineSeconds: z.number().positive().optional().describe('deadline for workflow types not listed; unset means they are never overdue'),
      })
      .strict()
      .prefault({}),
    accounting: z
      .object({
        lateAfterSeconds: z.number().positive().default(300).describe('an event older than this on arrival is counted as late (kind late); it is still processed'),
        dedupeWindowSeconds: z.number().min(0).default(600).describe('an event id seen again within this window is a duplicate (kind duplicate_id); 0 turns dedupe off'),
        dedupeMaxIds: z.number().int().min(1).max(10_000_000).default(200_000).describe('ids remembered for dedupe; the oldest are forgotten first (bounded memory: about 38 B per id, as 64-bit hashes, whatever the length of the ids)'),
        dropDuplicates: z
          .boolean()
          .default(true)
          .describe('drop duplicate ids from metrics, state and tail (at-least-once buses redeliver); false only counts them'),
        sharedDedupe: z
          .boolean()
          .default(false)
          .describe(
            'also claim each id in the Redis state (needs state.backend redis), so an event redelivered to another replica counts once; one round trip per batch, each claim expiring with dedupeWindowSeconds',
          ),
        sharedDedupePendingMs: z
          .number()
          .int()
          .min(100)
          .default(10_000)
          .describe(
            'a shared claim lapses after this long unless its batch went through the sinks; keep it below the bus redelivery delay (nats ackWaitMs, redis claimIdleMs) so a batch whose replica died mid-way is counted by the next',
          ),
        maxOrphanEnds: z.number().int().min(1).max(1_000_000).default(10_000).describe('end events without a start remembered so a start arriving after its end does not open a run'),
      })
      .strict()
      .prefault({}),
    agents: z
      .object({
        budgets: z
          .record(z.string(), z.number().positive())
          .default({})
          .describe('daily cost budget in US dollars per agent, exported as workflow_agent_daily_budget_usd for the burn alert'),
      })
      .strict()
      .prefault({}),
    otlp: z
      .object({
        endpoint: z.url().optional().describe('OTLP/HTTP base URL such as http://collector:4318; OpenTelemetry output is off (and never loaded) when unset'),
        metrics: z.boolean().default(true).describe('push the metric catalog to <endpoint>/v1/metrics'),
        traces: z.boolean().default(true).describe('send a span per pipeline batch to <endpoint>/v1/traces'),
        intervalMs: z.number().int().min(100).default(15_000).describe('metric push interval'),
        timeoutMs: z.number().int().min(100).default(10_000).describe('per export request'),
        histograms: z
          .enum(['explicit', 'exponential'])
          .default('explicit')
          .describe('exponential (base-2) histograms for receivers that take them, such as the Collector or Prometheus with native histograms'),
        serviceName: z.string().min(1).default('workflow-exporter').describe('service.name resource attribute'),
        maxEventIdsPerSpan: z.number().int().min(0).max(10_000).default(256).describe('event ids recorded on a batch span; the rest are counted'),
        traceSampleRatio: z
          .number()
          .min(0)
          .max(1)
          .default(1)
          .describe('share of batches traced; tracing every batch with its event ids cost ~1.5-2.5 us per event in our runs, so lower it at high rates'),
      })
      .strict()
      .prefault({}),
    tail: z
      .object({
        historySize: z.number().int().min(0).max(1_000_000).default(10_000).describe('recent events kept in memory for replay, GET /api/events and the export (the page shows 10,000 rows)'),
        maxAttributesBytes: z
          .number()
          .int()
          .min(64)
          .default(8192)
          .describe('attributes larger than this (as JSON) are replaced by their size in the tail, its history and export: with historySize it bounds the memory the history can hold'),
        historyFromSources: z
          .boolean()
          .default(true)
          .describe('on start, read the last historySize messages of the configured NATS streams and Redis keys back into the history, so it survives a restart'),
        historyLoadTimeoutMs: z.number().int().min(100).default(5000).describe('start-up budget for reading history from the bus; after it the tail starts with what it has'),
        follow: z
          .enum(['auto', 'on', 'watched', 'off'])
          .default('auto')
          .describe(
            'read every NATS stream and Redis key of the bus sources a second time, without a durable consumer or group, so the tail of each replica shows every event, not its share. watched: only while a tail client is connected or the history was asked for within followIdleSeconds; it reads the history back from the bus when it starts, so a replica nobody watches pays nothing for the other replicas\' events. on: always. auto: watched when a nats-jetstream or redis-streams source exists',
          ),
        followIdleSeconds: z
          .number()
          .int()
          .min(1)
          .max(86_400)
          .default(300)
          .describe('with follow: watched, how long the follower goes on after the last tail client left or the last history request'),
        maxReplay: z.number().int().min(0).max(1_000_000).default(10_000).describe('events one subscribe may ask to replay'),
        maxScanPerRequest: z
          .number()
          .int()
          .min(100)
          .default(10_000)
          .describe(
            'history entries one GET /api/events page or one replay may look at through its filter (matching yields the event loop every 10 ms); a page that stopped there comes back short with next_before to go on from, a replay with what it found',
          ),
        replayScanPerSecond: z
          .number()
          .int()
          .min(1000)
          .default(200_000)
          .describe(
            'history entries all replays together (WebSocket subscribe, SSE) may look at per second, with a burst of one second\'s worth: a replay past it comes back with what it found (limited: true on the subscribed frame) and is counted; about 0.4 s of CPU a second at the most costly filter measured (2 us an entry)',
          ),
        batchIntervalMs: z.number().int().min(1).max(1000).default(20).describe('one frame per client per interval: a frame per event costs ~26x the CPU'),
        maxWritesPerSecond: z
          .number()
          .int()
          .min(1)
          .default(25_000)
          .describe(
            'socket writes per second the live tail stays near with many clients: after a flush that wrote to N clients the next waits N x 1000 / maxWritesPerSecond ms, at least batchIntervalMs and at most maxBatchIntervalMs (with the defaults, 20 ms up to 500 clients, 40 ms at 1,000); past 100 clients an interval\'s writes go out in slices of about 100 spread over it',
          ),
        maxBatchIntervalMs: z.number().int().min(1).max(1000).default(50).describe('the longest the batch interval grows to with many clients (see maxWritesPerSecond); below batchIntervalMs it has no effect'),
        snapshotIntervalMs: z.number().int().min(100).default(2000).describe('how often clients get the metrics snapshot'),
        windowSeconds: z.number().int().min(5).max(3600).default(60).describe('sliding window of the snapshot rates, error ratio and percentiles'),
        heartbeatIntervalMs: z.number().int().min(50).default(30_000).describe('WebSocket ping interval; a client that misses a pong for one interval is dropped'),
        maxClients: z.number().int().min(1).max(100_000).default(1000).describe('WebSocket and SSE clients together; more are refused (close 1013, HTTP 503)'),
        maxQueueEvents: z.number().int().min(1).default(2000).describe('events queued for one slow client before the oldest are dropped (counted)'),
        maxQueueBytes: z.number().int().min(1024).default(512 * 1024).describe('bytes queued for one slow client before the oldest are dropped; a slow client holds at most maxBufferedBytes + 2 x maxQueueBytes'),
        maxBufferedBytes: z.number().int().min(0).default(512 * 1024).describe('bytes a client socket may hold unsent before the client counts as slow and waits (with the defaults, 1,000 stuck clients hold 1.5 GiB at most)'),
        maxMessageBytes: z.number().int().min(64).max(65_536).default(16_384).describe('largest client message (subscribe); larger ones close with 1009'),
        subscribeRate: z.number().positive().default(5).describe('subscribe messages per second a client may send on average'),
        subscribeBurst: z.number().int().min(1).default(10).describe('subscribe messages a client may send at once; beyond the rate it is closed with 1008'),
        grafanaUrl: z.url().optional().describe('Grafana base URL; the page links to the dashboards there'),
        grafanaDashboards: z
          .array(z.object({ title: z.string().min(1), uid: z.string().min(1) }).strict())
          .default([])
          .describe('dashboards the page links to (<grafanaUrl>/d/<uid>); without them it links to the dashboards tagged workflow-exporter'),
      })
      .strict()
      .prefault({}),
    auth: z
      .object({
        tokens: z
          .array(
            z
              .object({
                name: z.string().min(1).max(64).describe('who holds the token; appears in audit entries, never the token'),
                role: z
                  .enum(['read', 'ingest', 'operator'])
                  .describe('read: tail, history, export, snapshot, dead letters; ingest: POST /api/events only; operator: all of that and the control endpoints'),
                tokenFile: z.string().min(1).optional().describe('file holding the token (one per line, to rotate); preferred'),
                token: z.string().min(16).optional().describe('the token inline; prefer tokenFile so it stays out of config files'),
              })
              .strict()
              .refine((t) => (t.token === undefined) !== (t.tokenFile === undefined), 'give exactly one of token and tokenFile'),
          )
          .default([])
          .describe('when any token is configured, the tail, history, export, snapshot and dead letters need a read token and POST /api/events an ingest token'),
        allowedOrigins: z
          .array(z.string().min(1))
          .default([])
          .describe('browser origins (https://ops.example.com) allowed besides the same origin; * allows any'),
        allowedHosts: z
          .array(z.string().min(1).max(253))
          .default([])
          .describe(
            'host names browsers may reach this exporter by, besides IP addresses and localhost (a DNS rebinding defence); without tokens a browser request naming another host gets 403 host_not_allowed; with tokens checked only when set',
          ),
      })
      .strict()
      .prefault({}),
    redact: z
      .object({
        fields: z
          .array(z.string().min(1))
          .default([])
          .describe('event fields hidden from the tail, its history and the export, e.g. attributes.api_key or attributes.*.token (* is one level)'),
        mode: z.enum(['mask', 'remove']).default('mask').describe('mask replaces the value (the key stays visible); remove drops the key'),
        mask: z.string().default('[REDACTED]').describe('the value shown in place of a masked field'),
      })
      .strict()
      .prefault({})
      .describe('redaction before events reach the tail; metrics never carry attributes'),
    ascode: ascodeSchema
      .prefault({})
      .describe('thresholds, SLO targets and URLs for `workflow-exporter generate` (defaults in src/config/ascode.ts)'),
    log: z
      .object({
        level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
        rejectLogsPerMinute: z.number().int().min(0).default(20).describe('rejected-message log lines per reason per minute'),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  // a quiet SSE stream moves only by its heartbeat: the idle timeout would close it between two
  .refine((c) => c.server.connectionTimeoutMs > c.tail.heartbeatIntervalMs, {
    path: ['server', 'connectionTimeoutMs'],
    message: 'server.connectionTimeoutMs must exceed tail.heartbeatIntervalMs',
  });

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
