// @ts-check
// The tail connection: WebSocket with exponential-backoff reconnect, resubscribe and resume after the
// last event seen; snapshot polling over HTTP while the socket is down; Server-Sent Events when a
// proxy lets HTTP through but not WebSocket.
import { query } from './filters.js';

export const BACKOFF_MIN_MS = 500;
export const BACKOFF_MAX_MS = 15_000;
export const POLL_MS = 5000;
// WebSocket attempts that fail while plain HTTP to the same server works, before the page takes SSE
export const WS_FAILURES_BEFORE_SSE = 2;
export const SSE_BATCH_MS = 20; // SSE brings one event per message; the list takes them in batches like WebSocket frames

/** @typedef {'connecting' | 'connected' | 'reconnecting' | 'unauthorized' | 'offline'} ConnState */
/** @typedef {'websocket' | 'sse'} Transport */
/** @typedef {Record<string, unknown>} Filter */

/**
 * @typedef {object} Handlers
 * @property {(events: import('./store.js').WorkflowEvent[], replay: boolean) => void} onEvents
 * @property {(data: any) => void} onSnapshot
 * @property {(state: ConnState, detail: string, transport: Transport) => void} onState
 * @property {(count: number) => void} onDropped
 * @property {(code: string, message: string) => void} onError
 * @property {() => { filter: Filter, replay: number, after?: string }} subscription what to ask for on (re)connect
 */

export class TailConnection {
  /**
   * @param {Handlers} h
   * @param {() => string | null} token
   */
  constructor(h, token) {
    this.h = h;
    this.token = token;
    /** @type {WebSocket | null} */
    this.ws = null;
    this.attempt = 0;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.retryTimer = undefined;
    /** @type {ReturnType<typeof setInterval> | undefined} */
    this.pollTimer = undefined;
    this.stopped = false;
    /** @type {ConnState} */
    this.state = 'connecting';
    /** @type {Transport} */
    this.transport = 'websocket';
    /** WebSocket attempts in a row that never got to 'subscribed' while HTTP answered */
    this.wsFailures = 0;
    /** @type {EventSource | null} */
    this.es = null;
    /** @type {import('./store.js').WorkflowEvent[]} */
    this.sseBuf = [];
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.sseTimer = undefined;
  }

  /** @param {ConnState} s @param {string} detail */
  set(s, detail) {
    this.state = s;
    this.h.onState(s, detail, this.transport);
  }

  /** headers for fetch: the bearer token when one is set */
  headers() {
    const t = this.token();
    /** @type {Record<string, string>} */
    const h = {};
    if (t) h.authorization = `Bearer ${t}`;
    return h;
  }

  start() {
    this.stopped = false;
    this.open();
  }

  open() {
    clearTimeout(this.retryTimer);
    if (this.transport === 'sse') {
      this.openSse();
      return;
    }
    const url = new URL('/ws/events', location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const t = this.token();
    // browsers cannot set headers on a WebSocket: the token travels as a subprotocol
    const ws = t ? new WebSocket(url, ['wfx.v1', `bearer.${t}`]) : new WebSocket(url);
    this.ws = ws;
    this.set(this.attempt === 0 ? 'connecting' : 'reconnecting', this.attempt === 0 ? 'connecting…' : `reconnecting (attempt ${this.attempt})…`);
    let subscribed = false;
    ws.onopen = () => this.subscribe();
    ws.onmessage = (m) => {
      const type = this.message(String(m.data));
      if (type === 'subscribed') subscribed = true;
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (!this.stopped) void this.lost(ev.code, ev.reason, subscribed);
    };
  }

  /**
   * Server-Sent Events with the same filter, replay and resume; EventSource cannot send headers, so
   * the token rides as ?access_token= (the server takes it there for this stream only).
   */
  openSse() {
    const s = this.h.subscription();
    const q = new URLSearchParams({ ...query(/** @type {import('./filters.js').Filter} */ (s.filter)), replay: String(s.replay) });
    if (s.after) q.set('after', s.after);
    const t = this.token();
    if (t) q.set('access_token', t);
    const es = new EventSource(`/api/events/stream?${q}`);
    this.es = es;
    this.set(this.attempt === 0 ? 'connecting' : 'reconnecting', 'connecting over SSE…');
    es.onopen = () => {
      this.attempt = 0;
      this.stopPolling();
      this.set('connected', 'live · SSE (WebSocket unavailable)');
    };
    /** @param {string} type @param {(data: any) => void} f */
    const on = (type, f) =>
      es.addEventListener(type, (m) => {
        let data;
        try {
          data = JSON.parse(m.data);
        } catch {
          return;
        }
        f(data);
      });
    on('event', (e) => {
      this.sseBuf.push(e);
      this.sseTimer ??= setTimeout(() => this.flushSse(), SSE_BATCH_MS);
    });
    on('snapshot', (d) => this.h.onSnapshot(d));
    on('dropped', (d) => this.h.onDropped(d.count));
    es.onerror = () => {
      if (this.es !== es || this.stopped) return;
      this.startPolling();
      // CONNECTING: the browser reconnects by itself, resuming with Last-Event-ID
      if (es.readyState !== EventSource.CLOSED) {
        this.set('reconnecting', 'SSE reconnecting…');
        return;
      }
      // CLOSED: refused (401, 503); find out why and retry with backoff
      this.es = null;
      void this.lost(0, 'SSE stream refused', true);
    };
  }

  flushSse() {
    this.sseTimer = undefined;
    const batch = this.sseBuf;
    this.sseBuf = [];
    if (batch.length) this.h.onEvents(batch, false);
  }

  closeSse() {
    this.es?.close();
    this.es = null;
    clearTimeout(this.sseTimer);
    this.flushSse();
  }

  /** Sends the current subscription; the server replaces any earlier filter. */
  subscribe() {
    if (this.transport === 'sse') {
      // a stream's filter is its URL: a new filter is a new stream
      if (this.stopped) return false;
      this.closeSse();
      this.openSse();
      return true;
    }
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    const s = this.h.subscription();
    /** @type {Record<string, unknown>} */
    const msg = { type: 'subscribe', filter: s.filter, replay: s.replay };
    if (s.after) msg.after = s.after;
    ws.send(JSON.stringify(msg));
    return true;
  }

  /**
   * @param {string} text
   * @returns {string | undefined} the frame's type
   */
  message(text) {
    let m;
    try {
      m = JSON.parse(text);
    } catch {
      return undefined;
    }
    switch (m.type) {
      case 'events':
        this.h.onEvents(m.events, m.replay === true);
        break;
      case 'snapshot':
        this.h.onSnapshot(m.data);
        break;
      case 'subscribed':
        this.attempt = 0;
        this.wsFailures = 0;
        this.stopPolling();
        this.set('connected', 'live · WebSocket');
        break;
      case 'dropped':
        this.h.onDropped(m.count);
        break;
      case 'error':
        this.h.onError(m.code, m.message);
        break;
    }
    return m.type;
  }

  /**
   * The socket closed: find out whether a token is the problem (a refused upgrade shows no status
   * to a page), then retry with backoff and poll the snapshot meanwhile.
   * @param {number} code
   * @param {string} reason
   * @param {boolean} worked the socket got as far as 'subscribed' (or this is the SSE stream)
   */
  async lost(code, reason, worked) {
    this.startPolling();
    const auth = await this.probe();
    if (auth === 'unauthorized') {
      this.set('unauthorized', 'token required');
      return; // a new token restarts the connection
    }
    // HTTP answers but the WebSocket never got through: a proxy in between refuses it
    if (this.transport === 'websocket') this.wsFailures = !worked && auth === 'ok' ? this.wsFailures + 1 : 0;
    if (this.transport === 'websocket' && this.wsFailures >= WS_FAILURES_BEFORE_SSE) {
      this.transport = 'sse';
      this.attempt = 0;
      this.open();
      return;
    }
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempt) * (0.8 + Math.random() * 0.4);
    this.attempt++;
    const why = reason || (code === 1006 ? 'connection lost' : `closed (${code})`);
    this.set('reconnecting', `${why}; retrying in ${(delay / 1000).toFixed(1)} s`);
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  /** @returns {Promise<'ok' | 'unauthorized' | 'down'>} */
  async probe() {
    try {
      const r = await fetch('/api/whoami', { headers: this.headers(), cache: 'no-store' });
      if (r.status === 401 || r.status === 403) return 'unauthorized';
      return r.ok ? 'ok' : 'down';
    } catch {
      return 'down';
    }
  }

  startPolling() {
    if (this.pollTimer) return;
    this.pollTimer = setInterval(async () => {
      try {
        const r = await fetch('/api/snapshot', { headers: this.headers(), cache: 'no-store' });
        if (r.ok) this.h.onSnapshot(await r.json());
      } catch {
        // the server is down; the socket retry reports the state
      }
    }, POLL_MS);
  }

  stopPolling() {
    clearInterval(this.pollTimer);
    this.pollTimer = undefined;
  }

  /** Reconnects now (a new token, or the user asked), forgetting the backoff; WebSocket is tried first again. */
  restart() {
    this.attempt = 0;
    this.wsFailures = 0;
    this.transport = 'websocket';
    this.closeSse();
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000, 'restart');
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.stopPolling();
    this.closeSse();
    this.ws?.close(1000, 'page closed');
    this.set('offline', 'stopped');
  }
}
