// Error classes with codes and causes: one class per failure kind, the foreign error kept as `cause`.

export class ExporterError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A config file or override that does not validate; `path` names the offending key. */
export class ConfigError extends ExporterError {
  readonly issues: { path: string; message: string }[];
  constructor(message: string, issues: { path: string; message: string }[] = [], options?: { cause?: unknown }) {
    super('config_invalid', message, options);
    this.issues = issues;
  }
}

/** A source could not connect, create or attach to its resource. */
export class SourceError extends ExporterError {
  readonly source: string;
  constructor(source: string, message: string, options?: { cause?: unknown }) {
    super('source_failed', `${source}: ${message}`, options);
    this.source = source;
  }
}

/** A single message that cannot become a canonical event; carries the counted reason. */
export class RejectError extends ExporterError {
  readonly reason: RejectReason;
  constructor(reason: RejectReason, message: string, options?: { cause?: unknown }) {
    super(reason, message, options);
    this.reason = reason;
  }
}

/**
 * The closed set of reasons an input is rejected. Every value is a label of
 * workflow_exporter_events_rejected_total{reason}; add here, never ad hoc.
 */
export const REJECT_REASONS = [
  'invalid_encoding', // bytes that are not valid UTF-8
  'invalid_json', // not parseable as JSON (truncated, NaN literals, stray bytes)
  'invalid_protobuf', // an OTLP body that is not a well-formed protobuf message (truncated, wrong type)
  'too_large', // message or body over the configured byte limit
  'unsupported_media_type', // an HTTP body of a content type ingest does not read (415)
  'too_deep', // nesting deeper than the configured limit
  'not_an_object', // JSON that is not an object (number, string, null, nested array)
  'invalid_event', // failed the canonical schema
  'out_of_range', // a number past its bound in the schema (tokens, cost, queue depth, queue wait; events/schema.ts)
  'invalid_cloudevent', // CloudEvents envelope with a wrong specversion or missing fields
  'unmapped', // a preset or mapping did not recognise the message
  'invalid_timestamp', // time not RFC 3339 or epoch, or too far in the past or future
  'invalid_duration', // duration negative, or over validation.maxDurationSeconds
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
