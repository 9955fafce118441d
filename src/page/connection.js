// @ts-check
// The tail connection: WebSocket with exponential-backoff reconnect, resubscribe and resume after the
// last event seen; snapshot polling over HTTP while the socket is down.

export const BACKOFF_MIN_MS = 500;
export const BACKOFF_MAX_MS = 15_000;
export const POLL_MS = 5000;

/** @typedef {'connecting' | 'connected' | 'reconnecting' | 'unauthorized' | 'offline'} ConnState */
/** @typedef {Record<string, unknown>} Filter */

/**
 * @typedef {object} Handlers
 * @property {(events: import('./store.js').WorkflowEvent[], replay: boolean) => void} onEvents
 * @property {(data: any) => void} onSnapshot
 * @property {(state: ConnState, detail: string) => void} onState
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
  }

  /** @param {ConnState} s @param {string} detail */
  set(s, detail) {
    this.state = s;
    this.h.onState(s, detail);
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
    const url = new URL('/ws/events', location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const t = this.token();
    // browsers cannot set headers on a WebSocket: the token travels as a subprotocol
    const ws = t ? new WebSocket(url, ['wfx.v1', `bearer.${t}`]) : new WebSocket(url);
    this.ws = ws;
    this.set(this.attempt === 0 ? 'connecting' : 'reconnecting', this.attempt === 0 ? 'connecting…' : `reconnecting (attempt ${this.attempt})…`);
    ws.onopen = () => this.subscribe();
    ws.onmessage = (m) => this.message(String(m.data));
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (!this.stopped) void this.lost(ev.code, ev.reason);
    };
  }

  /** Sends the current subscription; the server replaces any earlier filter. */
  subscribe() {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    const s = this.h.subscription();
    /** @type {Record<string, unknown>} */
    const msg = { type: 'subscribe', filter: s.filter, replay: s.replay };
    if (s.after) msg.after = s.after;
    ws.send(JSON.stringify(msg));
    return true;
  }

  /** @param {string} text */
  message(text) {
    let m;
    try {
      m = JSON.parse(text);
    } catch {
      return;
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
        this.stopPolling();
        this.set('connected', 'live');
        break;
      case 'dropped':
        this.h.onDropped(m.count);
        break;
      case 'error':
        this.h.onError(m.code, m.message);
        break;
    }
  }

  /**
   * The socket closed: find out whether a token is the problem (a refused upgrade shows no status
   * to a page), then retry with backoff and poll the snapshot meanwhile.
   * @param {number} code
   * @param {string} reason
   */
  async lost(code, reason) {
    this.startPolling();
    const auth = await this.probe();
    if (auth === 'unauthorized') {
      this.set('unauthorized', 'token required');
      return; // a new token restarts the connection
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

  /** Reconnects now (a new token, or the user asked), forgetting the backoff. */
  restart() {
    this.attempt = 0;
    const ws = this.ws;
    this.ws = null;
    ws?.close(1000, 'restart');
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    this.stopPolling();
    this.ws?.close(1000, 'page closed');
    this.set('offline', 'stopped');
  }
}
