// What every reference does per event, written inline the way a user of these libraries would:
// JSON.parse, the canonical zod schema, prom-client inc/observe with label objects. Nothing else.
import client from 'prom-client';
import { canonicalEventSchema } from '../../src/events/schema.js';
import { LAG_BUCKETS } from '../../src/config/buckets.js';

export type RefMode = 'reference' | 'floor';

export function refMetrics() {
  const registry = new client.Registry();
  const events = new client.Counter({ name: 'workflow_events_total', help: 'events', labelNames: ['source', 'type'], registers: [registry] });
  const lag = new client.Histogram({ name: 'workflow_event_lag_seconds', help: 'lag', labelNames: ['source'], buckets: [...LAG_BUCKETS], registers: [registry] });
  return { registry, events, lag };
}

let handled = 0;

/** Returns the per-message handler for a mode: floor = JSON.parse only; reference = parse, zod, metrics. */
export function refHandler(mode: RefMode): (text: string) => void {
  // the harness asks for progress over IPC: free for the process, unlike polling the broker
  process.on('message', (m: unknown) => {
    if ((m as { count?: boolean }).count) process.send?.({ handled });
  });
  process.channel?.unref();
  if (mode === 'floor') {
    let sink = 0;
    return (text) => {
      const v = JSON.parse(text) as { id?: string };
      // read a field so the parse cannot be optimized away
      if (v.id === '') sink++;
      handled++;
    };
  }
  const { events, lag } = refMetrics();
  return (text) => {
    const e = canonicalEventSchema.parse(JSON.parse(text));
    events.inc({ source: e.source, type: e.type });
    const t = typeof e.time === 'number' ? e.time : Date.parse(e.time);
    lag.observe({ source: e.source }, Math.max(0, (Date.now() - t) / 1000));
    handled++;
  };
}
