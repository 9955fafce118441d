// The file source: replays an NDJSON file through the pipeline, for backfills and reproductions.
import { createReadStream, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import type { BatchHandler, Source, SourceStatus } from '../../pipeline/types.js';
import type { RawMessage } from '../../events/raw.js';

export interface FileTotals {
  lines: number;
  accepted: number;
  rejected: number;
}

export class FileSource implements Source {
  readonly kind = 'file' as const;
  private stopped = false;
  private finished = false;
  private reading?: Promise<FileTotals>;
  readonly totals: FileTotals = { lines: 0, accepted: 0, rejected: 0 };

  constructor(
    readonly name: string,
    private readonly path: string,
    private readonly batch: number,
    private readonly progress: boolean,
  ) {}

  async start(handler: BatchHandler): Promise<void> {
    // fail at start, naming the file, rather than later inside the read loop
    statSync(this.path);
    this.reading = this.read(handler);
    this.reading.catch(() => {});
  }

  /** Resolves with the totals once the whole file went through the pipeline. */
  done(): Promise<FileTotals> {
    if (!this.reading) return Promise.reject(new Error('file source not started'));
    return this.reading;
  }

  private async read(handler: BatchHandler): Promise<FileTotals> {
    // the progress bar's library is loaded only for a bar (an interactive replay)
    const cliProgress = this.progress ? (await import('cli-progress')).default : undefined;
    const size = statSync(this.path).size;
    const stream = createReadStream(this.path);
    const bar = cliProgress
      ? new cliProgress.SingleBar(
          { format: 'replay |{bar}| {percentage}% | {value}/{total} bytes | {events} events | {eta_formatted} left', stream: process.stderr },
          cliProgress.Presets.shades_classic,
        )
      : undefined;
    bar?.start(size, 0, { events: 0 });
    const rl = createInterface({ input: stream, crlfDelay: Infinity });
    let buf: RawMessage[] = [];
    const flush = async () => {
      if (buf.length === 0) return;
      const r = await handler(buf);
      this.totals.accepted += r.accepted;
      this.totals.rejected += r.rejected;
      buf = [];
      bar?.update(stream.bytesRead, { events: this.totals.lines });
    };
    try {
      for await (const line of rl) {
        if (this.stopped) break;
        if (line.trim() === '') continue;
        this.totals.lines++;
        buf.push({ data: line });
        if (buf.length >= this.batch) await flush();
      }
      await flush();
    } finally {
      rl.close();
      stream.destroy();
      bar?.update(size, { events: this.totals.lines });
      bar?.stop();
      this.finished = true;
    }
    return this.totals;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.reading?.catch(() => {});
  }

  status(): SourceStatus {
    return { connected: !this.stopped || this.finished, detail: this.finished ? 'finished' : undefined };
  }
}
