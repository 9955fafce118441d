// Reads Prometheus exposition text into series -> value, so tests assert exact values.
import { parsePrometheusText } from '../../src/util/exposition.js';

export { parsePrometheusText };

/** The value of one series, e.g. value(text, 'workflow_events_total', {type: 'task.completed'}); 0 when absent. */
export function value(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  let found = false;
  for (const s of parsePrometheusText(text)) {
    if (s.name !== name) continue;
    if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) {
      sum += s.value;
      found = true;
    }
  }
  return found ? sum : 0;
}
