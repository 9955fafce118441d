// A Server-Sent Events client for tests: reads the stream as it arrives and parses its messages.
import http from 'node:http';

export interface SseMessage {
  id?: string;
  event: string;
  data: string;
}

/**
 * Reads an SSE response as it streams, parsing messages per the EventSource rules we use.
 * node:http rather than fetch: an aborted fetch leaves a spare pooled connection that holds the
 * server's close for seconds.
 */
export class SseReader {
  readonly messages: SseMessage[] = [];
  retry?: number;
  ended = false;
  status = 0;
  headers: http.IncomingHttpHeaders = {};
  body = '';
  private buf = '';
  private req?: http.ClientRequest;

  static open(url: string, headers: Record<string, string>): Promise<SseReader> {
    const r = new SseReader();
    return new Promise((resolve, reject) => {
      r.req = http.get(url, { headers }, (res) => {
        r.status = res.statusCode ?? 0;
        r.headers = res.headers;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => r.feed(chunk));
        res.on('end', () => (r.ended = true));
        res.on('close', () => (r.ended = true));
        resolve(r);
      });
      r.req.on('error', (err) => (r.status ? (r.ended = true) : reject(err)));
    });
  }

  abort(): void {
    this.req?.destroy();
  }

  private feed(chunk: string): void {
    if (this.status !== 200) {
      this.body += chunk;
      return;
    }
    this.buf += chunk;
    let i: number;
    while ((i = this.buf.indexOf('\n\n')) >= 0) {
      const block = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 2);
      const m: SseMessage = { event: 'message', data: '' };
      let any = false;
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const [k, ...rest] = line.split(': ');
        const v = rest.join(': ');
        if (k === 'retry') this.retry = Number(v);
        else if (k === 'id') m.id = v;
        else if (k === 'event') m.event = v;
        else if (k === 'data') {
          m.data = v;
          any = true;
        }
      }
      if (any) this.messages.push(m);
    }
  }

  ids(): string[] {
    return this.messages.filter((m) => m.event === 'event').map((m) => (JSON.parse(m.data) as { id: string }).id);
  }
}
