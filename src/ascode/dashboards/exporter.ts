// Exporter health: events in and rejected by reason, sources (up, pending, lag, errors), the live
// tail (clients, drops), label overflow, dead letters, HTTP connections, and the process itself.
import { catalog as c } from '../../metrics/catalog.js';
import { foreign, increase, quantile, rate, rec, sel, sumRate } from '../promql.js';
import { QUANTILES, R } from '../recording.js';
import type { AscodeSettings } from '../../config/ascode.js';
import { v, type DashboardSpec } from './common.js';

const RI = '$__rate_interval';

export function exporterDashboard(s: AscodeSettings): DashboardSpec {
  const src = { source: v('source') };
  const job = { job: s.job };
  return {
    key: 'exporter',
    description: 'The exporter itself: what comes in, what is rejected and why, how far behind each source is, and the live tail.',
    version: 3,
    tags: ['exporter'],
    variables: ['source'],
    rows: [
      {
        title: 'Ingest',
        panels: [
          { kind: 'stat', title: 'Targets up', description: 'Exporter instances Prometheus scrapes successfully.', unit: 'short', width: 6, height: 5, queries: [{ expr: `sum(${sel(foreign.up, job)})` }] },
          {
            kind: 'stat',
            title: 'Rejected ratio',
            description: 'Rejected over received messages, all sources, 5 minutes.',
            unit: 'percentunit',
            width: 6,
            height: 5,
            thresholds: [{ value: s.thresholds.rejectedRatio, color: 'red' }],
            queries: [{ expr: `sum(${rec(R.rejected, src)}) / sum(${rec(R.received, src)})` }],
          },
          { kind: 'stat', title: 'Live tail clients', description: 'Connected WebSocket and SSE clients.', unit: 'short', width: 6, height: 5, queries: [{ expr: `sum(${sel(c.tailClients)})` }] },
          {
            kind: 'table',
            title: 'Build',
            description: 'Exporter and Node.js versions per instance.',
            width: 6,
            height: 5,
            queries: [{ expr: `max by (instance, version, node_version) (${sel(c.buildInfo)})`, instant: true, format: 'table' }],
          },
          { kind: 'timeseries', title: 'Messages received', description: 'Raw messages per second by exporter source.', unit: 'reqps', queries: [{ expr: sumRate(c.received, ['source'], RI, src), legend: '{{source}}' }] },
          {
            kind: 'timeseries',
            title: 'Rejected by reason',
            description: 'Messages rejected (and sent to dead letters) per second, by source and reason.',
            unit: 'reqps',
            queries: [{ expr: sumRate(c.rejected, ['source', 'reason'], RI, src), legend: '{{source}} {{reason}}' }],
          },
          {
            kind: 'timeseries',
            title: 'Dead letters written',
            description: 'By output (ring, nats, redis) and result.',
            unit: 'reqps',
            queries: [{ expr: sumRate(c.deadLetters, ['output', 'result'], RI), legend: '{{output}} {{result}}' }],
          },
          {
            kind: 'timeseries',
            title: 'Lifecycle anomalies',
            description: 'Events that did not fit the lifecycle state (end without start, duplicate start, evicted).',
            unit: 'reqps',
            queries: [{ expr: sumRate(c.lifecycleAnomalies, ['kind'], RI), legend: '{{kind}}' }],
          },
        ],
      },
      {
        title: 'Sources',
        panels: [
          {
            kind: 'statushistory',
            title: 'Source connected',
            description: '1 when the source is connected to its server (min over instances).',
            width: 24,
            height: 6,
            thresholds: [],
            queries: [{ expr: `min by (source, kind) (${sel(c.sourceUp, src)})`, legend: '{{source}} ({{kind}})' }],
          },
          {
            kind: 'timeseries',
            title: 'Pending messages',
            description: 'Messages waiting in the bus for the consumer (shared by replicas: max).',
            unit: 'short',
            thresholds: [{ value: s.thresholds.sourcePendingMessages, color: 'red' }],
            queries: [{ expr: `max by (source) (${sel(c.sourcePending, src)})`, legend: '{{source}}' }],
          },
          {
            kind: 'timeseries',
            title: 'Event lag p50 / p95 / p99',
            description: 'Ingest time minus event time by emitting source (recording rules).',
            unit: 's',
            thresholds: [{ value: s.thresholds.eventLagP95Seconds, color: 'red' }],
            queries: QUANTILES.map((q) => ({ expr: rec(R.eventLag(q)), legend: `p${Math.round(q * 100)} {{source}}` })),
          },
          { kind: 'timeseries', title: 'Source errors', description: 'Connection losses, failed fetches, missing or recreated groups, consumers and streams, keys of the wrong type, by kind.', unit: 'reqps', queries: [{ expr: sumRate(c.sourceErrors, ['source', 'kind'], RI, src), legend: '{{source}} {{kind}}' }] },
          { kind: 'timeseries', title: 'Messages lost by the bus', description: 'Messages the bus dropped after handing them to a consumer and before they were counted (Redis entries trimmed while pending), by reason.', unit: 'reqps', queries: [{ expr: sumRate(c.eventsLost, ['source', 'reason'], RI, src), legend: '{{source}} {{reason}}' }] },
          {
            kind: 'timeseries',
            title: 'Batch duration p99',
            description: 'Time to take one batch through every sink before its ack.',
            unit: 's',
            queries: [{ expr: quantile(0.99, c.batchDuration, ['source'], RI, src), legend: '{{source}}' }],
          },
        ],
      },
      {
        title: 'Emitting sources',
        panels: [
          {
            kind: 'timeseries',
            title: 'Seconds since last event',
            description: 'Per emitting source (the event source field): time since its newest event; the line is the dead-man alert threshold.',
            unit: 's',
            width: 24,
            thresholds: [{ value: s.thresholds.sourceSilentSeconds, color: 'red' }],
            queries: [{ expr: `time() - max by (source) (${sel(c.sourceLastEvent)})`, legend: '{{source}}' }],
          },
        ],
      },
      {
        title: 'Operator control',
        panels: [
          {
            kind: 'timeseries',
            title: 'Control commands',
            description: 'Pause, resume and cancel requests by outcome (published, failed, refused, invalid); GET /api/audit has who and why.',
            unit: 'short',
            width: 24,
            queries: [{ expr: `sum by (action, outcome) (${increase(sel(c.controlCommands), RI)})`, legend: '{{action}} {{outcome}}' }],
          },
        ],
      },
      {
        title: 'Live tail and labels',
        panels: [
          { kind: 'timeseries', title: 'Tail clients', description: 'Connected live-tail clients by transport.', unit: 'short', width: 8, queries: [{ expr: `sum by (transport) (${sel(c.tailClients)})`, legend: '{{transport}}' }] },
          {
            kind: 'timeseries',
            title: 'Tail drops',
            description: 'Events not delivered to slow live-tail clients, per second.',
            unit: 'reqps',
            width: 8,
            queries: [{ expr: sumRate(c.tailDropped, ['transport'], RI), legend: '{{transport}}' }],
          },
          {
            kind: 'timeseries',
            title: 'Label overflow',
            description: 'Label values folded into __overflow__ or truncated, by label and kind: a label is about to blow up.',
            unit: 'reqps',
            width: 8,
            queries: [{ expr: sumRate(c.labelOverflow, ['label', 'kind'], RI), legend: '{{label}} {{kind}}' }],
          },
          {
            kind: 'timeseries',
            title: 'Series overflow',
            description: 'New label combinations folded into __overflow__ because a series budget (limit metric) or the cap on all series (limit total) is full, per metric: GET /debug/cardinality names the offenders.',
            unit: 'reqps',
            width: 8,
            queries: [{ expr: sumRate(c.seriesOverflow, ['metric', 'limit'], RI), legend: '{{metric}} {{limit}}' }],
          },
        ],
      },
      {
        title: 'HTTP connections',
        panels: [
          {
            kind: 'timeseries',
            title: 'Open connections',
            description: 'Open HTTP connections per instance, WebSocket and SSE included; at most server.maxConnections.',
            unit: 'short',
            width: 12,
            queries: [{ expr: `sum by (instance) (${sel(c.httpConnections, job)})`, legend: '{{instance}}' }],
          },
          {
            kind: 'timeseries',
            title: 'Connections closed to protect the server',
            description: 'Per second, by reason: evicted_idle and the timeouts are the limits working; max_connections and max_requests are clients refused (docs/RELIABILITY.md).',
            unit: 'reqps',
            width: 12,
            queries: [{ expr: sumRate(c.httpConnectionsClosed, ['reason'], RI, job), legend: '{{reason}}' }],
          },
        ],
      },
      {
        title: 'Process',
        panels: [
          { kind: 'timeseries', title: 'Memory', description: 'Resident memory per instance.', unit: 'bytes', width: 8, queries: [{ expr: sel(foreign.memory, job), legend: '{{instance}}' }] },
          { kind: 'timeseries', title: 'CPU', description: 'CPU seconds per second per instance.', unit: 'percentunit', width: 8, queries: [{ expr: rate(sel(foreign.cpu, job), RI), legend: '{{instance}}' }] },
          {
            kind: 'timeseries',
            title: 'Event loop lag p99',
            description: 'A scrape of many series or a burst of events stalls the loop; this shows how much.',
            unit: 's',
            width: 8,
            queries: [{ expr: sel(foreign.eventLoopLagP99, job), legend: '{{instance}}' }],
          },
        ],
      },
    ],
  };
}
