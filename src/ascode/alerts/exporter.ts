// The workflow-exporter-alerts group: the exporter and its sources (down, losing messages,
// rejecting, lagging, silent, late events, refusing connections, past a series budget), each with
// its promtool cases.
import { foreign, increase, num, re, rec, sel } from '../promql.js';
import { R } from '../recording.js';
import { buckets, flat, input, minutesOf, rising, SOURCE, type AlertContext, type AlertFamily } from './common.js';

export function exporterDown({ s, f }: AlertContext): AlertFamily {
  return {
    name: 'WorkflowExporterDown',
    file: 'exporter-alerts',
    group: 'workflow-exporter-alerts',
    rules: [{ severity: 'critical', expr: `${sel(foreign.up, { job: s.job })} == 0 or absent(${sel(foreign.up, { job: s.job })})`, for: f.exporterDown }],
    value: 'number',
    summary: () => `workflow-exporter ${s.job} cannot be scraped`,
    description: () => `Prometheus has not scraped job ${s.job} for ${f.exporterDown}: workflow metrics and alerts are blind until it is back.`,
    dashboard: { key: 'exporter' },
    cases: (() => {
      const at = minutesOf(f.exporterDown) + 5;
      const inst = 'exporter-0:9477';
      return [
        { name: 'target down', series: [input(foreign.up, { job: s.job, instance: inst }, flat(0, at + 5))], atMinutes: at, expect: [{ severity: 'critical' as const, labels: { job: s.job, instance: inst }, value: 0 }] },
        { name: 'target up', series: [input(foreign.up, { job: s.job, instance: inst }, flat(1, at + 5))], atMinutes: at, expect: [] },
      ];
    })(),
  };
}

export function sourceDown({ s, f, c }: AlertContext): AlertFamily {
  return {
    name: 'WorkflowExporterSourceDown',
    file: 'exporter-alerts',
    group: 'workflow-exporter-alerts',
    rules: [{ severity: 'critical', expr: `${sel(c.sourceUp)} == 0`, for: f.sourceDown }],
    value: 'number',
    summary: (x) => `Source ${x.label('source')} of ${x.label('instance')} is disconnected or cannot read`,
    description: (x) =>
      `The ${x.label('kind')} source ${x.label('source')} of ${x.label('instance')} has not been reading for ${f.sourceDown}: disconnected from its server, or its stream, durable consumer or group is missing, or its key is not a stream (GET /readyz names which). Its events wait in the bus (or are lost, for a non-durable bus).`,
    dashboard: { key: 'exporter' },
    cases: (() => {
      const at = minutesOf(f.sourceDown) + 5;
      const labels = { source: SOURCE, kind: 'nats-jetstream', job: s.job, instance: 'exporter-0:9477' };
      return [
        { name: 'source disconnected', series: [input(c.sourceUp, labels, flat(0, at + 5))], atMinutes: at, expect: [{ severity: 'critical' as const, labels, value: 0 }] },
        { name: 'source connected', series: [input(c.sourceUp, labels, flat(1, at + 5))], atMinutes: at, expect: [] },
      ];
    })(),
  };
}

export function eventsLost({ f, c }: AlertContext): AlertFamily {
  return {
    name: 'WorkflowExporterEventsLost',
    file: 'exporter-alerts',
    group: 'workflow-exporter-alerts',
    rules: [{ severity: 'warning', expr: `sum by (source, reason) (${increase(sel(c.eventsLost), '10m')}) > 0`, for: f.eventsLost }],
    value: 'number',
    summary: (x) => `Source ${x.label('source')} lost ${x.value} messages (${x.label('reason')})`,
    description: (x) =>
      `In the last 10m the bus dropped ${x.value} messages of source ${x.label('source')} after handing them to a consumer and before any exporter counted them (reason ${x.label('reason')}; trimmed: the Redis stream was trimmed past entries still pending). Their events are missing from every metric.`,
    dashboard: { key: 'exporter' },
    cases: (() => {
      const labels = { source: SOURCE, reason: 'trimmed' };
      // 300 entries lost at minute 6; at minute 8 the 10m window holds the jump from 0
      return [
        { name: 'pending entries trimmed', series: [input(c.eventsLost, labels, `${flat(0, 5)} ${flat(300, 10)}`)], atMinutes: 8, expect: [{ severity: 'warning' as const, labels, value: 300 }] },
        { name: 'nothing lost', series: [input(c.eventsLost, labels, flat(0, 15))], atMinutes: 8, expect: [] },
      ];
    })(),
  };
}

export function rejectingEvents({ t, f, c, pct }: AlertContext): AlertFamily {
  const rej = Math.max(1, Math.min(1000, Math.round(t.rejectedRatio * 2000)));
  return {
    name: 'WorkflowExporterRejectingEvents',
    file: 'exporter-alerts',
    group: 'workflow-exporter-alerts',
    rules: [{ severity: 'warning', expr: `${rec(R.rejectedRatio)} > ${num(t.rejectedRatio)}`, for: f.rejecting }],
    value: 'percent',
    summary: (x) => `Source ${x.label('source')} rejects ${x.value} of messages`,
    description: (x) =>
      `${x.value} of the messages source ${x.label('source')} received in the last 5m were rejected (threshold ${pct(t.rejectedRatio)}) and went to dead letters: a producer likely changed its event shape. GET /api/dead-letters shows them by reason.`,
    dashboard: { key: 'exporter' },
    cases: (() => {
      const at = minutesOf(f.rejecting) + 5;
      return [
        {
          name: 'producer sends bad messages',
          series: [input(c.received, { source: SOURCE }, rising(1000, at + 5)), input(c.rejected, { source: SOURCE, reason: 'invalid_json' }, rising(rej, at + 5))],
          atMinutes: at,
          expect: [{ severity: 'warning' as const, labels: { source: SOURCE }, value: rej / 1000 }],
        },
        {
          name: 'no rejections',
          series: [input(c.received, { source: SOURCE }, rising(1000, at + 5)), input(c.rejected, { source: SOURCE, reason: 'invalid_json' }, flat(0, at + 5))],
          atMinutes: at,
          expect: [],
        },
      ];
    })(),
  };
}

export function sourceLagGrowing({ t, f, c }: AlertContext): AlertFamily {
  return {
    name: 'WorkflowExporterSourceLagGrowing',
    file: 'exporter-alerts',
    group: 'workflow-exporter-alerts',
    rules: [
      {
        severity: 'warning',
        expr: `max by (source) (${sel(c.sourcePending)}) > ${num(t.sourcePendingMessages)} and max by (source) (deriv(${sel(c.sourcePending)}[10m])) > 0`,
        for: f.sourceLag,
      },
    ],
    value: 'number',
    summary: (x) => `Source ${x.label('source')} is falling behind: ${x.value} messages pending`,
    description: (x) =>
      `${x.value} messages wait in the bus for source ${x.label('source')} and the backlog has grown for ${f.sourceLag} (threshold ${num(t.sourcePendingMessages)}): add replicas or find the slow sink.`,
    dashboard: { key: 'exporter' },
    cases: (() => {
      const at = 10 + minutesOf(f.sourceLag) + 5;
      const T = Math.ceil(t.sourcePendingMessages);
      return [
        { name: 'backlog growing', series: [input(c.sourcePending, { source: SOURCE }, `${T}+100x${at + 5}`)], atMinutes: at, expect: [{ severity: 'warning' as const, labels: { source: SOURCE }, value: T + 100 * at }] },
        { name: 'backlog large but draining', series: [input(c.sourcePending, { source: SOURCE }, `${T + 100 * (at + 20)}-100x${at + 5}`)], atMinutes: at, expect: [] },
      ];
    })(),
  };
}

export function sourceSilent({ t, f, c, secs }: AlertContext): AlertFamily {
  return {
    name: 'WorkflowSourceSilent',
    file: 'exporter-alerts',
    group: 'workflow-exporter-alerts',
    // max_over_time keeps a source that had traffic in the last day in view across exporter restarts
    rules: [{ severity: 'warning', expr: `time() - max by (source) (max_over_time(${sel(c.sourceLastEvent)}[1d])) > ${num(t.sourceSilentSeconds)}`, for: f.sourceSilent }],
    value: 'seconds',
    summary: (x) => `Source ${x.label('source')} has sent nothing for ${x.value}`,
    description: (x) =>
      `The emitting source ${x.label('source')} had traffic in the last day but no event for ${x.value} (threshold ${secs(t.sourceSilentSeconds)}): the producer may be down or cut off from the bus. Dead-man alert on workflow_source_last_event_timestamp_seconds.`,
    dashboard: { key: 'exporter' },
    cases: (() => {
      const quiet = Math.ceil(t.sourceSilentSeconds / 60);
      const at = 5 + quiet + minutesOf(f.sourceSilent) + 2;
      return [
        {
          name: 'source stops after 5 minutes',
          series: [input(c.sourceLastEvent, { source: 'orchestrator' }, `0+60x5 300+0x${at + 5}`)],
          atMinutes: at,
          expect: [{ severity: 'warning' as const, labels: { source: 'orchestrator' }, value: at * 60 - 300 }],
        },
        { name: 'source sending every minute', series: [input(c.sourceLastEvent, { source: 'orchestrator' }, `0+60x${at + 5}`)], atMinutes: at, expect: [] },
      ];
    })(),
  };
}

export function eventLagHigh({ t, f, c, secs }: AlertContext): AlertFamily {
  return {
    name: 'WorkflowEventLagHigh',
    file: 'exporter-alerts',
    group: 'workflow-exporter-alerts',
    rules: [{ severity: 'warning', expr: `${rec(R.eventLag(0.95))} > ${num(t.eventLagP95Seconds)}`, for: f.eventLag }],
    value: 'seconds',
    summary: (x) => `Events from ${x.label('source')} arrive ${x.value} late`,
    description: (x) =>
      `The p95 delay between event time and ingest for source ${x.label('source')} has been above ${secs(t.eventLagP95Seconds)} for ${f.eventLag} (now ${x.value}): the bus or this exporter is behind, or producer clocks are off.`,
    dashboard: { key: 'exporter' },
    cases: (() => {
      const at = minutesOf(f.eventLag) + 10;
      return [
        {
          name: 'late events',
          series: buckets(c.eventLag, { source: SOURCE }, t.eventLagP95Seconds * 2, rising(100, at + 5)),
          atMinutes: at,
          expect: [{ severity: 'warning' as const, labels: { source: SOURCE }, value: t.eventLagP95Seconds * 1.9 }],
        },
        { name: 'timely events', series: buckets(c.eventLag, { source: SOURCE }, t.eventLagP95Seconds / 2, rising(100, at + 5)), atMinutes: at, expect: [] },
      ];
    })(),
  };
}

export function connectionsRefused({ s, f, c }: AlertContext): AlertFamily {
  // evictions of idle connections and timeouts are the limits working; refusals mean clients lost out
  const refused = sel(c.httpConnectionsClosed, { reason: re('max_connections|max_requests') });
  return {
    name: 'WorkflowExporterRefusingConnections',
    file: 'exporter-alerts',
    group: 'workflow-exporter-alerts',
    rules: [{ severity: 'warning', expr: `sum by (job, instance) (${increase(refused, '5m')}) > 0`, for: f.connectionsRefused }],
    value: 'number',
    summary: (x) => `${x.label('instance')} refused ${x.value} connections or requests in 5m`,
    description: (x) =>
      `${x.label('instance')} has been at its connection limit for ${f.connectionsRefused}: ${x.value} connections or requests refused in the last 5m (server.maxConnections, server.reservedConnections). /metrics and health still answer from the reserve; ingest, the API and the live tail get 503. A flood of connections, or more producers and tail clients than the limit: see workflow_exporter_http_connections and the reasons on the exporter dashboard.`,
    dashboard: { key: 'exporter' },
    cases: (() => {
      const at = minutesOf(f.connectionsRefused) + 10;
      const target = { job: s.job, instance: 'exporter-0:9477' };
      return [
        {
          name: 'requests refused past the reserve',
          series: [input(c.httpConnectionsClosed, { reason: 'max_requests', ...target }, `0+10x${at + 5}`)],
          atMinutes: at,
          expect: [{ severity: 'warning' as const, labels: target, value: 50 }],
        },
        { name: 'idle connections evicted only', series: [input(c.httpConnectionsClosed, { reason: 'evicted_idle', ...target }, `0+1000x${at + 5}`)], atMinutes: at, expect: [] },
      ];
    })(),
  };
}

export function seriesBudgetFull({ f, c }: AlertContext): AlertFamily {
  return {
    name: 'WorkflowExporterSeriesBudgetFull',
    file: 'exporter-alerts',
    group: 'workflow-exporter-alerts',
    rules: [{ severity: 'warning', expr: `sum by (metric) (rate(${sel(c.seriesOverflow)}[5m])) > 0`, for: f.seriesOverflow }],
    value: 'number',
    summary: (x) => `${x.label('metric')} is past its series budget`,
    description: (x) =>
      `New label combinations of ${x.label('metric')} fold into __overflow__ (${x.value} per second for ${f.seriesOverflow}): its series budget or the cap on all series is full, so its breakdown by label is lost while its totals stay exact. GET /debug/cardinality lists the top offenders by label.`,
    dashboard: { key: 'exporter' },
    cases: (() => {
      const at = minutesOf(f.seriesOverflow) + 10;
      const metric = c.toolCalls.name;
      return [
        {
          name: 'a label product past the budget',
          series: [input(c.seriesOverflow, { metric, limit: 'metric' }, rising(120, at + 5))],
          atMinutes: at,
          expect: [{ severity: 'warning' as const, labels: { metric }, value: 2 }],
        },
        { name: 'within budget', series: [input(c.seriesOverflow, { metric, limit: 'metric' }, flat(0, at + 5))], atMinutes: at, expect: [] },
      ];
    })(),
  };
}
