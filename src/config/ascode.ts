// The one place for alert thresholds, SLO targets, URLs and names the generated artifacts use;
// the `ascode` section of the exporter's config file overrides any of them.
import { z } from 'zod';

/** Defaults, each with the reason it is what it is. */
export const DEFAULTS = {
  job: 'workflow-exporter', // the Prometheus job (and Kubernetes Service) name every rule selects on
  team: 'platform', // `team` label on every alert: picks the Slack channel and the mailbox
  grafanaUrl: 'http://localhost:3000', // alert annotations link to dashboards here (docker compose's Grafana)
  livePageUrl: 'http://localhost:9477/', // the exporter's built-in live page; panels link to it
  // where docs/OBSERVABILITY.md (one section per alert) is published; a placeholder until set
  runbookUrl: 'https://runbooks.example.com/workflow-exporter',
  thresholds: {
    runLatencyP95Seconds: 1800, // agent workflows take minutes; a p95 past 30 min means something is stuck
    errorRatioWarning: 0.1, // one run in ten failing is worth a look during the day
    errorRatioCritical: 0.25, // one in four failing pages: users notice
    agentSilentSeconds: 120, // agents heartbeat every few seconds; 2 min of silence is not a blip
    queueDepth: 500, // work items waiting; tune to the platform's normal peak
    rejectedRatio: 0.01, // more than 1% of messages rejected means a producer changed its shape
    sourcePendingMessages: 10_000, // backlog at which a growing lag is worth waking up for
    eventLagP95Seconds: 60, // ingest minus event time; a healthy bus is sub-second
    sourceSilentSeconds: 900, // a source that sent events in the last day and has been quiet 15 min (dead man)
    budgetBurnWarning: 1, // spend over 6h projected to a day reaches the agent's daily budget
    budgetBurnCritical: 3, // spend over 1h projected to a day is 3x the budget: a runaway loop
  },
  slo: {
    successRatio: 0.99, // at most 1% of finished runs fail (cancelled runs are not failures)
    windowDays: 30, // the SLO period; burn-rate factors are derived from it
  },
  /** how long a condition must hold before the alert fires (Prometheus durations) */
  for: {
    runLatency: '5m',
    errorRatio: '5m',
    agentSilent: '0s', // the expression already measures silence; waiting longer only delays
    sloFastBurn: '2m',
    sloSlowBurn: '15m',
    queueDepth: '10m',
    exporterDown: '1m',
    sourceDown: '2m',
    eventsLost: '0s', // a loss is already over when it is counted: waiting only delays the news
    rejecting: '10m',
    sourceLag: '10m',
    eventLag: '10m',
    runsOverdue: '10m', // the deadline already waited; this only rides out a late end event
    sourceSilent: '0s', // the expression already measures silence
    budgetBurn: '15m',
    connectionsRefused: '5m', // a flood that outlasts a burst of reconnects; one refusal is not news
    seriesOverflow: '15m', // a burst of new combinations at start-up is normal; folding for 15 min is not
  },
  prometheus: {
    scrapeInterval: '15s', // the exporter's counters move per event; 15 s is the common default
    evaluationInterval: '15s',
    exporterTarget: 'exporter:9477', // docker compose service name and the exporter's default port
    alertmanagerTarget: 'alertmanager:9093',
  },
  alertmanager: {
    groupWait: '30s', // gather alerts that fire together into one message
    groupInterval: '5m',
    repeatIntervalCritical: '1h', // a page repeats hourly until acknowledged or resolved
    repeatIntervalWarning: '12h', // a warning is a daytime ticket, twice a day is enough
    slackApiUrlFile: '/run/secrets/slack_api_url', // secrets only through *_file fields
    slackChannelPrefix: '#alerts-', // the channel is this plus the alert's team label
    smtpSmarthost: 'smtp.example.com:587',
    smtpFrom: 'alertmanager@example.com',
    smtpAuthUsername: 'alertmanager',
    smtpAuthPasswordFile: '/run/secrets/smtp_password',
    smtpRequireTls: true,
    emailDomain: 'example.com', // critical alerts go to <team>-oncall@<emailDomain>
  },
  kubernetes: {
    namespace: 'monitoring',
    image: 'workflow-exporter:0.1.0',
    replicas: 2, // two replicas share the durable consumer; one can be drained at a time
    maxReplicas: 6,
    cpuRequest: '200m', // ~1,000 events/s per 100m on a 2-core machine
    memoryRequest: '192Mi',
    cpuLimit: '1',
    memoryLimit: '512Mi',
    natsUrl: 'nats://nats:4222',
    redisUrl: 'redis://redis:6379',
    bus: 'nats-jetstream', // what the cluster's exporter reads; its ConfigMap and the KEDA trigger follow it
    autoscaler: 'hpa', // keda: a ScaledObject on consumer lag instead of the CPU HorizontalPodAutoscaler
    keda: {
      natsMonitoringEndpoint: 'nats:8222', // KEDA's nats-jetstream scaler reads /jsz on the monitoring port
      // messages waiting per replica before KEDA adds one: 10-19 ms of one replica's CPU at the
      // 10.1-18.6 us per event measured in docs/SCALING.md, so a replica comes before the delay shows
      lagThreshold: 1000,
      pollingIntervalSeconds: 15,
      cooldownPeriodSeconds: 300,
    },
  },
} as const;

const duration = z
  .string()
  .regex(/^(0|(\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?)$/, 'a Prometheus duration such as 30s, 5m or 1h30m')
  .refine((s) => s !== '', 'a Prometheus duration such as 30s, 5m or 1h30m');
const ratio = z.number().gt(0).lt(1);
const D = DEFAULTS;

export const ascodeSchema = z
  .object({
    job: z.string().min(1).default(D.job).describe('Prometheus job name of the exporter scrape'),
    team: z.string().regex(/^[a-z0-9_-]+$/).default(D.team).describe('team label on every alert (Slack channel, mailbox)'),
    grafanaUrl: z.url().default(D.grafanaUrl).describe('Grafana base URL, for dashboard links in alerts'),
    livePageUrl: z.url().default(D.livePageUrl).describe('the exporter live page, for panel links'),
    runbookUrl: z.url().default(D.runbookUrl).describe('where the runbooks (docs/OBSERVABILITY.md) are published'),
    tracesUrl: z
      .url()
      .optional()
      .describe('a Tempo or Jaeger query URL (http://tempo:3200): provisioned as the Traces data source, and the latency panels\' exemplars link to the trace there; they always link to the live tail filtered on the trace'),
    tracesType: z.enum(['tempo', 'jaeger']).default('tempo').describe('the kind of trace store at tracesUrl'),
    thresholds: z
      .object({
        runLatencyP95Seconds: z.number().positive().default(D.thresholds.runLatencyP95Seconds),
        errorRatioWarning: ratio.default(D.thresholds.errorRatioWarning).describe('failed / finished runs, warning'),
        errorRatioCritical: ratio.default(D.thresholds.errorRatioCritical).describe('failed / finished runs, critical'),
        agentSilentSeconds: z.number().positive().default(D.thresholds.agentSilentSeconds),
        queueDepth: z.number().positive().default(D.thresholds.queueDepth),
        rejectedRatio: ratio.default(D.thresholds.rejectedRatio).describe('rejected / received messages'),
        sourcePendingMessages: z.number().positive().default(D.thresholds.sourcePendingMessages),
        eventLagP95Seconds: z.number().positive().default(D.thresholds.eventLagP95Seconds),
        sourceSilentSeconds: z.number().positive().default(D.thresholds.sourceSilentSeconds).describe('dead-man: silence of a source that had traffic in the last day'),
        budgetBurnWarning: z.number().positive().default(D.thresholds.budgetBurnWarning).describe('agent spend over 6h, as a multiple of the daily budget pace'),
        budgetBurnCritical: z.number().positive().default(D.thresholds.budgetBurnCritical).describe('agent spend over 1h, as a multiple of the daily budget pace'),
      })
      .strict()
      .prefault({})
      .refine((t) => t.errorRatioWarning < t.errorRatioCritical, 'errorRatioWarning must be below errorRatioCritical'),
    slo: z
      .object({
        successRatio: ratio.default(D.slo.successRatio).describe('target share of finished runs that do not fail'),
        windowDays: z.number().int().min(1).max(365).default(D.slo.windowDays).describe('SLO period in days'),
      })
      .strict()
      .prefault({}),
    for: z
      .object(Object.fromEntries(Object.entries(D.for).map(([k, v]) => [k, duration.default(v)])) as { [K in keyof typeof D.for]: z.ZodDefault<typeof duration> })
      .strict()
      .prefault({})
      .describe('how long each alert condition must hold'),
    prometheus: z
      .object({
        scrapeInterval: duration.default(D.prometheus.scrapeInterval),
        evaluationInterval: duration.default(D.prometheus.evaluationInterval),
        exporterTarget: z.string().min(1).default(D.prometheus.exporterTarget).describe('host:port Prometheus scrapes'),
        alertmanagerTarget: z.string().min(1).default(D.prometheus.alertmanagerTarget),
      })
      .strict()
      .prefault({}),
    alertmanager: z
      .object({
        groupWait: duration.default(D.alertmanager.groupWait),
        groupInterval: duration.default(D.alertmanager.groupInterval),
        repeatIntervalCritical: duration.default(D.alertmanager.repeatIntervalCritical),
        repeatIntervalWarning: duration.default(D.alertmanager.repeatIntervalWarning),
        slackApiUrlFile: z.string().min(1).default(D.alertmanager.slackApiUrlFile).describe('file holding the Slack webhook URL'),
        slackChannelPrefix: z.string().min(1).default(D.alertmanager.slackChannelPrefix),
        smtpSmarthost: z.string().regex(/^[^:\s]+:\d+$/, 'host:port').default(D.alertmanager.smtpSmarthost),
        smtpFrom: z.string().min(3).default(D.alertmanager.smtpFrom),
        smtpAuthUsername: z.string().min(1).default(D.alertmanager.smtpAuthUsername),
        smtpAuthPasswordFile: z.string().min(1).default(D.alertmanager.smtpAuthPasswordFile).describe('file holding the SMTP password'),
        smtpRequireTls: z.boolean().default(D.alertmanager.smtpRequireTls),
        emailDomain: z.string().min(1).default(D.alertmanager.emailDomain),
      })
      .strict()
      .prefault({}),
    kubernetes: z
      .object({
        namespace: z.string().regex(/^[a-z0-9-]+$/).default(D.kubernetes.namespace),
        image: z.string().min(1).default(D.kubernetes.image),
        replicas: z.number().int().min(1).default(D.kubernetes.replicas),
        maxReplicas: z.number().int().min(1).default(D.kubernetes.maxReplicas),
        cpuRequest: z.string().default(D.kubernetes.cpuRequest),
        memoryRequest: z.string().default(D.kubernetes.memoryRequest),
        cpuLimit: z.string().default(D.kubernetes.cpuLimit),
        memoryLimit: z.string().default(D.kubernetes.memoryLimit),
        natsUrl: z.string().default(D.kubernetes.natsUrl),
        redisUrl: z.string().default(D.kubernetes.redisUrl),
        bus: z
          .enum(['nats-jetstream', 'redis-streams'])
          .default(D.kubernetes.bus)
          .describe('the bus the cluster exporter reads (one durable consumer, or one consumer group, shared by the replicas); the ConfigMap and the KEDA trigger follow it'),
        autoscaler: z
          .enum(['hpa', 'keda'])
          .default(D.kubernetes.autoscaler)
          .describe('hpa: a HorizontalPodAutoscaler on CPU; keda: a KEDA ScaledObject on consumer lag (NATS JetStream) or pending entries (Redis Streams), which owns the HPA itself'),
        keda: z
          .object({
            natsMonitoringEndpoint: z.string().min(1).default(D.kubernetes.keda.natsMonitoringEndpoint).describe('host:port of the NATS monitoring endpoint the nats-jetstream scaler reads'),
            lagThreshold: z.number().int().min(1).default(D.kubernetes.keda.lagThreshold).describe('messages waiting per replica (consumer lag or pending entries) before another replica is added'),
            pollingIntervalSeconds: z.number().int().min(1).default(D.kubernetes.keda.pollingIntervalSeconds),
            cooldownPeriodSeconds: z.number().int().min(0).default(D.kubernetes.keda.cooldownPeriodSeconds),
            prometheusServerAddress: z
              .string()
              .optional()
              .describe("also scale on the exporter's own workflow_exporter_source_pending_messages through this Prometheus (http://prometheus:9090)"),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({})
      .refine((k) => k.replicas <= k.maxReplicas, 'replicas must not exceed maxReplicas'),
  })
  .strict();

export type AscodeSettings = z.infer<typeof ascodeSchema>;
export type AscodeInput = z.input<typeof ascodeSchema>;

/** Settings with every default filled in, for code and tests that do not read a config file. */
export function ascodeSettings(input: AscodeInput = {}): AscodeSettings {
  return ascodeSchema.parse(input);
}
