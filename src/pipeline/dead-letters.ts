// Dead letters: every rejected message, kept in a bounded ring and, when configured, on a bus.
import type { RejectReason } from '../errors.js';
import type { Metrics } from '../metrics/registry.js';

/** Applies the configured redaction to a parsed JSON value (pipeline/redact.ts). */
export type RawRedactor = (value: object) => unknown;

export interface DeadLetter {
  at: string;
  source: string;
  reason: RejectReason;
  error: string;
  subject?: string;
  transportId?: string;
  /** the raw message, cut at maxRawBytes */
  raw: string;
  truncated: boolean;
  /**
   * Set when redaction is configured: `redacted` when the raw message was JSON and the configured
   * fields were masked or removed in it (at its top level and under a CloudEvents `data`);
   * `withheld` when it could not be read as JSON, so nothing of it is kept but its size.
   */
  redaction?: 'redacted' | 'withheld';
}

/** A bus output for dead letters (NATS subject, Redis stream); resolves once the bus took it. */
export interface DeadLetterOutput {
  readonly name: 'nats' | 'redis';
  publish(letters: DeadLetter[]): Promise<void>;
}

export class DeadLetters {
  private readonly ring: (DeadLetter | undefined)[];
  private next = 0;
  private count = 0;
  private readonly outputs: DeadLetterOutput[] = [];

  constructor(
    private readonly size: number,
    private readonly maxRawBytes: number,
    private readonly metrics?: Metrics,
    private readonly redact?: RawRedactor,
  ) {
    this.ring = new Array(size);
    // the ring cannot fail; a bus output can, so it starts with both results at zero
    metrics?.deadLetters.inc({ output: 'ring', result: 'ok' }, 0);
  }

  addOutput(o: DeadLetterOutput): void {
    this.outputs.push(o);
    for (const result of ['ok', 'error']) this.metrics?.deadLetters.inc({ output: o.name, result }, 0);
  }

  /** Builds a letter from whatever the source handed over. */
  make(source: string, reason: RejectReason, error: string, raw: unknown, subject?: string, transportId?: string): DeadLetter {
    let text: string;
    if (typeof raw === 'string') text = raw;
    else if (raw instanceof Uint8Array) text = Buffer.from(raw.buffer, raw.byteOffset, Math.min(raw.byteLength, this.maxRawBytes * 4)).toString('utf8');
    else {
      try {
        text = JSON.stringify(raw) ?? String(raw);
      } catch {
        // nested too deep to serialize: String() of a deep array recurses too, so name the kind only
        text = Array.isArray(raw) ? '[array nested too deep to serialize]' : '[object nested too deep to serialize]';
      }
    }
    let redaction: DeadLetter['redaction'];
    if (this.redact) ({ text, redaction } = this.redacted(raw, text));
    const truncated = text.length > this.maxRawBytes;
    let kept = truncated ? text.slice(0, this.maxRawBytes) : text;
    // a string message can be a slice of a whole request body (sources/http), and so can a slice of it:
    // the ring keeps a copy, never a view that would hold every such body alive as long as the letter.
    // JSON.parse builds new strings and the round trip keeps every code unit, a lone surrogate too
    if (typeof raw === 'string') kept = JSON.parse(JSON.stringify(kept)) as string;
    return {
      at: new Date().toISOString(),
      source,
      reason,
      error,
      subject,
      transportId,
      raw: kept,
      truncated,
      ...(redaction && { redaction }),
    };
  }

  /**
   * Rejected messages can carry the very fields redaction hides from the tail: the raw text is read
   * as JSON and redacted by the same paths; text that is not JSON (bad UTF-8, truncated, not an
   * object) cannot be redacted field by field and is withheld, leaving its size.
   */
  private redacted(raw: unknown, text: string): { text: string; redaction: 'redacted' | 'withheld' } {
    let value: unknown = raw;
    if (typeof raw === 'string' || raw instanceof Uint8Array) {
      try {
        // the whole message: `text` may already be cut, and half a JSON text cannot be redacted
        value = JSON.parse(typeof raw === 'string' ? raw : new TextDecoder('utf-8', { fatal: true }).decode(raw));
      } catch {
        value = undefined;
      }
    }
    if (value === null || typeof value !== 'object') {
      const bytes = raw instanceof Uint8Array ? raw.byteLength : Buffer.byteLength(text);
      return { text: `[withheld: ${bytes} bytes that are not a JSON object or array; redaction is configured]`, redaction: 'withheld' };
    }
    const one = (v: unknown): unknown => {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) return v;
      const out = this.redact!(v) as Record<string, unknown>;
      const data = out.data;
      return data !== null && typeof data === 'object' && !Array.isArray(data) ? { ...out, data: this.redact!(data) } : out;
    };
    return { text: JSON.stringify(Array.isArray(value) ? value.map(one) : one(value)), redaction: 'redacted' };
  }

  /** Keeps the letters and hands them to every output; resolves when all outputs took them. */
  async record(letters: DeadLetter[]): Promise<void> {
    if (letters.length === 0) return;
    for (const l of letters) {
      this.ring[this.next] = l;
      this.next = (this.next + 1) % this.size;
      this.count++;
    }
    this.metrics?.deadLetters.inc({ output: 'ring', result: 'ok' }, letters.length);
    await Promise.all(
      this.outputs.map(async (o) => {
        try {
          await o.publish(letters);
          this.metrics?.deadLetters.inc({ output: o.name, result: 'ok' }, letters.length);
        } catch {
          // the ring still has them; a failing bus must not block the stream they came from
          this.metrics?.deadLetters.inc({ output: o.name, result: 'error' }, letters.length);
        }
      }),
    );
  }

  /** Newest first. */
  list(limit = 100, reason?: string): DeadLetter[] {
    const out: DeadLetter[] = [];
    const n = Math.min(this.count, this.size);
    for (let i = 1; i <= n && out.length < limit; i++) {
      const l = this.ring[(this.next - i + this.size) % this.size];
      if (l && (!reason || l.reason === reason)) out.push(l);
    }
    return out;
  }

  get total(): number {
    return this.count;
  }
}
