// @ts-check
// The metric cards and latency tables, from the server's snapshot (rates, error ratio, active runs,
// p50/p95/p99 over the sliding window).
import { byId, el, percent, rate, seconds } from './dom.js';

const TABLE_ROWS = 8; // the busiest keys; Grafana has the full breakdown

/** @typedef {{ count: number, p50: number, p95: number, p99: number }} Percentiles */

export class Cards {
  constructor() {
    this.rate = byId('c-rate');
    this.rateSub = byId('c-rate-sub');
    this.err = byId('c-err');
    this.errSub = byId('c-err-sub');
    this.active = byId('c-active');
    this.activeSub = byId('c-active-sub');
    this.wf = byId('lat-wf').querySelector('tbody');
    this.agent = byId('lat-agent').querySelector('tbody');
    this.chartTitle = byId('chart-title');
  }

  /** @param {any} s the snapshot */
  update(s) {
    this.rate.textContent = rate(s.rate_per_second);
    this.rateSub.textContent = `events/s over ${s.window_seconds} s · ${s.events_total.toLocaleString()} since start`;
    this.err.textContent = percent(s.error_ratio);
    this.err.classList.toggle('bad', s.error_ratio !== null && s.error_ratio >= 0.05);
    this.errSub.textContent = `${s.errors} failed of ${s.outcomes} finished`;
    this.active.textContent = String(s.active_runs.total);
    let running = 0;
    let paused = 0;
    for (const states of Object.values(s.active_runs.by_workflow_type)) {
      const st = /** @type {Record<string, number>} */ (states);
      running += st.running ?? 0;
      paused += st.paused ?? 0;
    }
    this.activeSub.textContent = `${running} running · ${paused} paused`;
    this.chartTitle.textContent = `Events per second · last ${s.window_seconds} s`;
    this.table(this.wf, s.latency_seconds.workflow_type, 'no finished runs in the window');
    this.table(this.agent, s.latency_seconds.agent, 'no finished tasks in the window');
  }

  /**
   * @param {HTMLTableSectionElement | null} body
   * @param {Record<string, Percentiles>} groups
   * @param {string} none
   */
  table(body, groups, none) {
    if (!body) return;
    const rows = Object.entries(groups)
      .sort((a, b) => b[1].count - a[1].count)
      .slice(0, TABLE_ROWS);
    body.replaceChildren();
    if (rows.length === 0) {
      const tr = el('tr');
      const td = el('td', 'empty', none);
      td.setAttribute('colspan', '5');
      tr.append(td);
      body.append(tr);
      return;
    }
    for (const [key, p] of rows) {
      const tr = el('tr');
      tr.append(el('td', '', key), el('td', '', String(p.count)), el('td', '', seconds(p.p50)), el('td', '', seconds(p.p95)), el('td', '', seconds(p.p99)));
      body.append(tr);
    }
  }
}
