// Normalization: CloudEvents, presets and mappings onto the canonical candidate, before validation.
import type { MappingConfig } from '../config/schema.js';
import { RejectError } from '../errors.js';
import type { RawMessage } from './raw.js';
import { fromCloudEvent, isCloudEvent } from './cloudevents.js';
import { compileMapping } from './mapping.js';
import { PRESETS } from './presets/index.js';

type Obj = Record<string, unknown>;

export interface NormalizeOptions {
  format?: 'auto' | 'canonical' | 'cloudevents';
  preset?: string;
  mapping?: MappingConfig;
}

export type Normalizer = (value: unknown, raw: RawMessage, nowMs: number) => Obj;

export function createNormalizer(opts: NormalizeOptions = {}): Normalizer {
  const format = opts.format ?? 'auto';
  const preset = opts.preset ? PRESETS[opts.preset] : undefined;
  if (opts.preset && !preset) throw new Error(`unknown preset ${opts.preset}; known: ${Object.keys(PRESETS).join(', ')}`);
  const mapper = opts.mapping ? compileMapping(opts.mapping) : undefined;

  return (value, raw, nowMs) => {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new RejectError('not_an_object', `expected a JSON object, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
    }
    let obj = value as Obj;
    if (format === 'cloudevents' || (format === 'auto' && isCloudEvent(obj))) {
      obj = fromCloudEvent(obj);
      if (obj.time === undefined) obj.time = nowMs; // time is optional in CloudEvents: use receipt time
    }
    if (preset) return preset.normalize(obj, raw, nowMs);
    if (mapper) return mapper(obj, raw.subject);
    return obj;
  };
}
