// Exponential histograms need each observation, not prom-client's buckets: when they are asked for,
// every catalog histogram also records into an OpenTelemetry histogram. Installed only when OTLP is
// on, before any event flows, so the prom-client path is untouched otherwise.
import type { Attributes, Meter } from '@opentelemetry/api';
import { ALL_METRICS } from '../metrics/catalog.js';
import type { Metrics } from '../metrics/registry.js';
import { publicApiOnly } from '../metrics/series.js';
import { unitOf } from './bridge.js';

type Child = { observe(v: number): void };
type AnyHistogram = { labels(...args: unknown[]): Child; observe(...args: unknown[]): void };

function attrs(labelNames: readonly string[], args: unknown[]): Attributes {
  if (args.length === 1 && typeof args[0] === 'object' && args[0] !== null) return { ...(args[0] as Attributes) };
  const out: Attributes = {};
  for (let i = 0; i < labelNames.length && i < args.length; i++) out[labelNames[i]] = String(args[i]);
  return out;
}

/** Wraps labels() and observe() of every catalog histogram so observations reach `meter` as well. */
export function tapHistograms(metrics: Metrics, meter: Meter): void {
  const byName = new Map<string, AnyHistogram>();
  for (const v of Object.values(metrics)) {
    const name = (v as { name?: unknown })?.name;
    if (typeof name === 'string' && typeof (v as { observe?: unknown }).observe === 'function' && typeof (v as { startTimer?: unknown }).startTimer === 'function') {
      byName.set(name, v as AnyHistogram);
    }
  }
  for (const def of ALL_METRICS) {
    if (def.type !== 'histogram') continue;
    const h = byName.get(def.name);
    if (!h) continue;
    const otel = meter.createHistogram(def.name, { description: def.help, unit: unitOf(def.name) });
    // the sinks' series handles would otherwise write prom-client's record directly after the
    // first call and bypass the wrapper below; installed before any event, so every handle obeys
    publicApiOnly(h);
    const labels = h.labels.bind(h);
    const observe = h.observe.bind(h);
    // children are cached by the sinks, so the wrapped child carries its attributes once
    h.labels = (...args: unknown[]): Child => {
      const child = labels(...args);
      const a = attrs(def.labels, args);
      return {
        ...child,
        observe(v: number) {
          child.observe(v);
          otel.record(v, a);
        },
      };
    };
    h.observe = (...args: unknown[]) => {
      observe(...args);
      if (typeof args[0] === 'number') otel.record(args[0]);
      else if (args.length === 1 && typeof (args[0] as { value?: unknown }).value === 'number') {
        // an exemplar histogram's form: observe({labels, value, exemplarLabels})
        const o = args[0] as { labels?: object; value: number };
        otel.record(o.value, attrs(def.labels, [o.labels ?? {}]));
      } else otel.record(args[1] as number, attrs(def.labels, [args[0]]));
    };
  }
}
