// Reads the last messages of every source that can (a descriptor with readHistory: the NATS
// streams, the Redis keys) back into the tail's history at start, through the same decode,
// normalize and validate steps as live traffic.
import type { Logger } from 'pino';
import type { Config, SourceConfig } from '../../config/schema.js';
import { createNormalizer } from '../../events/normalize.js';
import type { WorkflowEvent } from '../../events/schema.js';
import type { RawMessage } from '../../events/raw.js';
import { decode, validateEvent } from '../../pipeline/validate.js';
import { descriptorOf } from '../../sources/index.js';
import type { HistoryReadOptions } from '../../sources/types.js';

export interface HistoryItem {
  event: WorkflowEvent;
  source: string;
  /** read back from the bus: the event's own time, as validation read it */
  receivedAtMs: number;
}

export interface StreamHistoryDeps extends HistoryReadOptions {
  validation: Config['validation'];
  logger: Logger;
  now: () => number;
}

/** Decodes, normalizes and validates messages read back; the ones that fail were counted when they first arrived. */
export function validateHistory(name: string, cfg: SourceConfig, raw: RawMessage[], deps: StreamHistoryDeps): (HistoryItem & { timeMs: number })[] {
  const normalize = createNormalizer({ format: cfg.format, preset: cfg.preset, mapping: cfg.mapping });
  const nowMs = deps.now();
  const out: (HistoryItem & { timeMs: number })[] = [];
  for (const m of raw) {
    try {
      const value = m.value !== undefined ? m.value : decode(m.data ?? '', deps.validation.maxMessageBytes);
      const v = validateEvent(normalize(value, m, nowMs), deps.validation, nowMs);
      out.push({ event: v.event, source: name, receivedAtMs: v.timeMs, timeMs: v.timeMs });
    } catch {
      // rejected before, counted and dead-lettered then
    }
  }
  return out;
}

/**
 * The last `limit` events over every source that reads history, oldest first. Failures are logged and
 * skipped: history is a convenience and must never keep the exporter from starting.
 */
export async function readStreamHistory(sources: { name: string; config: SourceConfig }[], deps: StreamHistoryDeps): Promise<HistoryItem[]> {
  // the sources are read at once (each on its own connection), their items taken in source order
  const read = await Promise.all(
    sources.map(async ({ name, config }) => {
      if (deps.signal.aborted) return [];
      const kind = descriptorOf(config.kind);
      if (!kind.readHistory) return [];
      try {
        const raw = await kind.readHistory(name, config, deps);
        const items = validateHistory(name, config, raw, deps);
        deps.logger.info({ source: name, read: raw.length, events: items.length }, 'tail history read from the bus');
        return items;
      } catch (err) {
        deps.logger.warn({ err, source: name }, 'tail history could not be read from the bus; starting without it');
        return [];
      }
    }),
  );
  const all = read.flat();
  // stable sort: messages of one stream keep their bus order when their times tie
  all.sort((a, b) => a.timeMs - b.timeMs);
  return all.slice(Math.max(0, all.length - deps.limit)).map(({ event, source, receivedAtMs }) => ({ event, source, receivedAtMs }));
}

/**
 * readStreamHistory within the tail's budget (tail.historyLoadTimeoutMs): undefined when the read
 * did not finish in time (it is abandoned and the tail starts without it).
 */
export async function loadStreamHistory(
  tail: Config['tail'],
  sources: { name: string; config: SourceConfig }[],
  deps: Omit<StreamHistoryDeps, 'limit' | 'signal' | 'timeoutMs'>,
): Promise<HistoryItem[] | undefined> {
  const ac = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => {
      ac.abort();
      resolve(undefined);
    }, tail.historyLoadTimeoutMs);
  });
  const read = readStreamHistory(sources, { ...deps, limit: tail.historySize, signal: ac.signal, timeoutMs: tail.historyLoadTimeoutMs });
  try {
    const items = await Promise.race([read, timeout]);
    if (!items) {
      deps.logger.warn({ timeoutMs: tail.historyLoadTimeoutMs }, 'tail history not read in time; starting without it');
      read.catch(() => undefined);
    }
    return items;
  } finally {
    clearTimeout(timer);
  }
}
