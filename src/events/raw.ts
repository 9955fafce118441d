// The message a source hands the pipeline, before decoding; events and presets read it, so it lives here.

/** One message as a source received it; the pipeline decodes it, a source never parses. */
export interface RawMessage {
  /** bytes or text to decode as JSON */
  data?: string | Uint8Array;
  /** an already-decoded JSON value (an element of an HTTP array body) */
  value?: unknown;
  /** NATS subject or Redis stream key; presets read the event kind from it */
  subject?: string;
  /** transport id (JetStream sequence, Redis entry id), kept with dead letters */
  transportId?: string;
  /**
   * `value` is a canonical event the exporter built itself (the otlp span mapping): no decoding or
   * normalization, and validation checks the schema's bounds directly on it (validate.ts validateBuilt)
   */
  built?: true;
}
