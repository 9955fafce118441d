// @ts-check
// The live page: wires the connection, the event store and list, filters, cards, chart and detail view.
import { Cards } from './cards.js';
import { RateChart } from './chart.js';
import { TailConnection } from './connection.js';
import { Detail } from './detail.js';
import { byId, el } from './dom.js';
import { FilterForm, query } from './filters.js';
import { VirtualList } from './list.js';
import { EventStore } from './store.js';
import { setupTheme } from './theme.js';

export const MAX_ROWS = 10_000; // rows the page keeps; the export has the whole history
export const REPLAY = 1000; // events asked for on connect and on a filter change
const TOKEN_KEY = 'wfx-token';

/** @typedef {import('./store.js').WorkflowEvent} WorkflowEvent */

/**
 * @param {{ url: string, dashboards: { title: string, uid: string }[] } | null | undefined} grafana
 */
function grafanaLinks(grafana) {
  const nav = byId('links');
  nav.replaceChildren();
  if (!grafana) return;
  const list = grafana.dashboards.length
    ? grafana.dashboards.map((d) => ({ title: d.title, href: `${grafana.url}/d/${encodeURIComponent(d.uid)}` }))
    : [{ title: 'Grafana dashboards', href: `${grafana.url}/dashboards?tag=workflow-exporter` }];
  for (const l of list) {
    const a = /** @type {HTMLAnchorElement} */ (el('a', '', l.title));
    a.href = l.href;
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
    nav.append(a);
  }
}

async function pageConfig() {
  try {
    const r = await fetch('/api/page-config', { cache: 'no-store' });
    if (r.ok) return await r.json();
  } catch {
    // the server is not up yet; the connection retries and the defaults serve
  }
  return {};
}

async function main() {
  const cfg = await pageConfig();
  const token = () => sessionStorage.getItem(TOKEN_KEY);
  const store = new EventStore(MAX_ROWS);
  const detail = new Detail(() => {
    list.selectedId = null;
    list.schedule();
  });
  const list = new VirtualList(byId('list'), byId('spacer'), store, (e) => detail.show(e));
  const cards = new Cards();
  const chart = new RateChart(byId('chart', HTMLCanvasElement));
  setupTheme(byId('theme'), () => chart.draw());
  grafanaLinks(cfg.grafana);

  const conn = byId('conn');
  const connText = byId('conn-text');
  const count = byId('count');
  const pausedNote = byId('paused-note');
  const droppedNote = byId('dropped-note');
  const pauseButton = byId('pause');
  const tokenButton = byId('token-button');
  const dialog = byId('token-dialog', HTMLDialogElement);

  let paused = false;
  /** @type {WorkflowEvent[]} held while paused, bounded like the list */
  let pending = [];
  let dropped = 0;

  const showCount = () => {
    count.textContent = `${store.size.toLocaleString()} event${store.size === 1 ? '' : 's'}`;
    count.dataset.count = String(store.size);
    pausedNote.hidden = !paused;
    pausedNote.textContent = `paused · ${pending.length.toLocaleString()} new`;
  };

  const tail = new TailConnection(
    {
      onEvents(events) {
        // other modules (control.js) follow run state from the same events, paused view or not
        document.dispatchEvent(new CustomEvent('wfx:events', { detail: events }));
        if (paused) {
          pending.push(...events);
          if (pending.length > MAX_ROWS) pending = pending.slice(pending.length - MAX_ROWS);
          showCount();
          return;
        }
        list.prepended(store.add(events));
        showCount();
      },
      onSnapshot(s) {
        cards.update(s);
        chart.update(s.series);
      },
      onState(state, text, transport) {
        conn.dataset.state = state;
        conn.dataset.transport = transport;
        connText.textContent = text;
        tokenButton.hidden = !(state === 'unauthorized' || token());
        if (state === 'unauthorized' && !dialog.open) dialog.showModal();
      },
      onDropped(n) {
        dropped += n;
        droppedNote.hidden = false;
        droppedNote.textContent = `${dropped.toLocaleString()} dropped: this connection fell behind`;
      },
      onError(code, message) {
        connText.textContent = `${code}: ${message}`;
      },
      subscription() {
        // resume after the newest event this page holds, so a reconnect neither repeats nor skips
        const newest = pending.length ? pending[pending.length - 1].id : store.lastId;
        return { filter: filters.current, replay: REPLAY, after: newest };
      },
    },
    token,
  );

  const exportLinks = () => {
    for (const fmt of ['ndjson', 'csv']) {
      const a = byId(`export-${fmt}`, HTMLAnchorElement);
      a.href = `/api/events/export?${new URLSearchParams({ format: fmt, ...query(filters.current) })}`;
    }
  };

  const filters = new FilterForm(byId('filters', HTMLFormElement), () => {
    // a new filter applies to history too: start over with a replay of what matches
    store.clear();
    pending = [];
    list.reset();
    showCount();
    exportLinks();
    tail.subscribe();
  });
  exportLinks();

  // downloads through fetch when a token is needed: a plain link cannot send the header
  for (const fmt of ['ndjson', 'csv']) {
    byId(`export-${fmt}`, HTMLAnchorElement).addEventListener('click', async (ev) => {
      const t = token();
      if (!t) return;
      ev.preventDefault();
      const a = /** @type {HTMLAnchorElement} */ (ev.currentTarget);
      const r = await fetch(a.href, { headers: { authorization: `Bearer ${t}` } });
      if (!r.ok) return;
      const url = URL.createObjectURL(await r.blob());
      const tmp = /** @type {HTMLAnchorElement} */ (el('a'));
      tmp.href = url;
      tmp.download = `workflow-events.${fmt}`;
      tmp.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    });
  }

  pauseButton.addEventListener('click', () => {
    paused = !paused;
    pauseButton.setAttribute('aria-pressed', String(paused));
    pauseButton.textContent = paused ? 'Resume' : 'Pause';
    if (!paused && pending.length) {
      list.prepended(store.add(pending));
      pending = [];
    }
    showCount();
  });

  byId('token-form', HTMLFormElement).addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = byId('token-input', HTMLInputElement).value.trim();
    if (!v) return;
    sessionStorage.setItem(TOKEN_KEY, v);
    dialog.close();
    tail.restart();
  });
  byId('token-cancel').addEventListener('click', () => dialog.close());
  tokenButton.addEventListener('click', () => dialog.showModal());

  showCount();
  tail.start();
}

void main();
