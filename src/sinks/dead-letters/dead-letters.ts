// Dead letters: every rejected message, kept in a bounded ring and, when configured, on a bus.
import type { RejectReason } from '../../errors.js';
import type { Metrics } from '../metrics/registry.js';

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
  ) {
    this.ring = new Array(size);
  }

  addOutput(o: DeadLetterOutput): void {
    this.outputs.push(o);
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
    const truncated = text.length > this.maxRawBytes;
    return {
      at: new Date().toISOString(),
      source,
      reason,
      error,
      subject,
      transportId,
      raw: truncated ? text.slice(0, this.maxRawBytes) : text,
      truncated,
    };
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
