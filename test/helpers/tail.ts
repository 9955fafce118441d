// A real WebSocket tail client for tests (the `ws` package), recording every frame it receives.
import WebSocket, { type ClientOptions } from 'ws';
import { waitFor } from './app.js';

export interface Frame {
  type: string;
  [k: string]: unknown;
}

export interface TailEvent {
  id: string;
  type: string;
  [k: string]: unknown;
}

export class TailTestClient {
  readonly frames: Frame[] = [];
  readonly events: TailEvent[] = [];
  dropped = 0;
  closed?: { code: number; reason: string };
  opened = false;
  httpStatus?: number;

  constructor(readonly ws: WebSocket) {
    ws.on('open', () => {
      this.opened = true;
    });
    ws.on('message', (data) => {
      const f = JSON.parse(data.toString()) as Frame;
      this.frames.push(f);
      if (f.type === 'events') this.events.push(...(f.events as TailEvent[]));
      if (f.type === 'dropped') this.dropped += f.count as number;
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
    });
    ws.on('unexpected-response', (_req, res) => {
      this.httpStatus = res.statusCode;
      this.closed = { code: -1, reason: `http ${res.statusCode}` };
      res.resume();
    });
    ws.on('error', () => {});
  }

  /** Connects to the exporter at `httpUrl`; resolves once open (or refused, see closed/httpStatus). */
  static async connect(httpUrl: string, opts: ClientOptions & { protocols?: string[] } = {}): Promise<TailTestClient> {
    const { protocols, ...rest } = opts;
    const c = new TailTestClient(new WebSocket(`${httpUrl.replace(/^http/, 'ws')}/ws/events`, protocols, rest));
    await waitFor('websocket open or refused', () => c.opened || c.closed !== undefined, 10_000, 10);
    return c;
  }

  send(msg: unknown): void {
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }

  framesOf(type: string): Frame[] {
    return this.frames.filter((f) => f.type === type);
  }

  /** Subscribes and waits for the server's acknowledgement. */
  async subscribe(filter: Record<string, unknown> = {}, replay = 0, after?: string): Promise<Frame> {
    const before = this.framesOf('subscribed').length;
    this.send({ type: 'subscribe', filter, replay, ...(after !== undefined ? { after } : {}) });
    await waitFor('subscribed frame', () => this.framesOf('subscribed').length > before, 10_000, 5);
    return this.framesOf('subscribed')[before];
  }

  ids(): string[] {
    return this.events.map((e) => e.id);
  }

  async waitEvents(n: number, what = `${n} events`): Promise<void> {
    await waitFor(what, () => this.events.length >= n, 15_000, 10);
  }

  async waitClosed(): Promise<{ code: number; reason: string }> {
    await waitFor('websocket close', () => this.closed !== undefined, 15_000, 10);
    return this.closed!;
  }

  close(): void {
    this.ws.terminate();
  }
}

/** Events with known fields and a time close to now, so validation accepts them. */
export function tailEvent(id: string, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { id, type: 'task.completed', time: new Date().toISOString(), source: 'orchestrator', ...fields };
}

/** POSTs events to the exporter's http source (with a bearer token when given); throws unless every one was accepted. */
export async function publish(url: string, events: Record<string, unknown>[], token?: string): Promise<void> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${url}/api/events`, { method: 'POST', headers, body: JSON.stringify(events) });
  const body = (await res.json()) as { accepted: number; rejected: number; errors: unknown[] };
  if (res.status !== 202 || body.accepted !== events.length) throw new Error(`publish failed: ${res.status} ${JSON.stringify(body)}`);
}
