// @ts-check
// The virtualized event list: only the rows in view exist in the DOM (a pool reused on scroll), so
// 10,000 events scroll as smoothly as 10.
import { clock, el, millis, typeClass } from './dom.js';

export const ROW_HEIGHT = 28; // px; must match .row height in style.css
const OVERSCAN = 8; // rows drawn beyond the viewport on each side

/** @typedef {import('./store.js').WorkflowEvent} WorkflowEvent */

export class VirtualList {
  /**
   * @param {HTMLElement} scroller the scrolling container
   * @param {HTMLElement} spacer sets the scroll height
   * @param {import('./store.js').EventStore} store
   * @param {(e: WorkflowEvent) => void} onSelect
   */
  constructor(scroller, spacer, store, onSelect) {
    this.scroller = scroller;
    this.spacer = spacer;
    this.store = store;
    this.onSelect = onSelect;
    /** @type {{ row: HTMLElement, cells: HTMLElement[], id: string | null }[]} */
    this.pool = [];
    /** @type {string | null} */
    this.selectedId = null;
    this.frame = 0;
    this.empty = el('div', 'empty-note', 'waiting for events…');
    scroller.append(this.empty);
    scroller.addEventListener('scroll', () => this.schedule(), { passive: true });
    new ResizeObserver(() => this.schedule()).observe(scroller);
    scroller.addEventListener('click', (ev) => {
      const row = /** @type {HTMLElement | null} */ (/** @type {HTMLElement} */ (ev.target).closest('.row'));
      const id = row?.dataset.id;
      if (!id) return;
      const e = this.store.items.find((x) => x.id === id);
      if (e) this.select(e);
    });
    scroller.addEventListener('keydown', (ev) => this.key(ev));
  }

  /** @param {WorkflowEvent} e */
  select(e) {
    this.selectedId = e.id;
    this.onSelect(e);
    this.schedule();
  }

  /** @param {KeyboardEvent} ev arrow keys move the selection, as in a log viewer */
  key(ev) {
    if (ev.key !== 'ArrowDown' && ev.key !== 'ArrowUp') return;
    ev.preventDefault();
    const n = this.store.size;
    if (n === 0) return;
    let i = 0;
    if (this.selectedId !== null) {
      for (let j = 0; j < n; j++) if (this.store.at(j).id === this.selectedId) i = j + (ev.key === 'ArrowDown' ? 1 : -1);
    }
    i = Math.max(0, Math.min(n - 1, i));
    this.select(this.store.at(i));
    const top = i * ROW_HEIGHT;
    if (top < this.scroller.scrollTop) this.scroller.scrollTop = top;
    else if (top + ROW_HEIGHT > this.scroller.scrollTop + this.scroller.clientHeight) this.scroller.scrollTop = top + ROW_HEIGHT - this.scroller.clientHeight;
  }

  /**
   * New rows arrived at the top: a reader scrolled down into older rows keeps the same rows in view.
   * @param {number} added
   */
  prepended(added) {
    if (added > 0 && this.scroller.scrollTop > 0) this.scroller.scrollTop += added * ROW_HEIGHT;
    this.schedule();
  }

  /** at most one render per animation frame, however many batches arrive */
  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  render() {
    const n = this.store.size;
    this.spacer.style.height = `${n * ROW_HEIGHT}px`;
    this.empty.hidden = n > 0;
    const top = this.scroller.scrollTop;
    const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
    const visible = Math.ceil(this.scroller.clientHeight / ROW_HEIGHT) + 2 * OVERSCAN;
    const last = Math.min(n, first + visible);
    while (this.pool.length < last - first) this.pool.push(this.makeRow());
    for (let k = 0; k < this.pool.length; k++) {
      const slot = this.pool[k];
      const i = first + k;
      if (i >= last) {
        slot.row.hidden = true;
        continue;
      }
      const e = this.store.at(i);
      slot.row.hidden = false;
      slot.row.style.transform = `translateY(${i * ROW_HEIGHT}px)`;
      slot.row.classList.toggle('selected', e.id === this.selectedId);
      if (slot.id !== e.id) this.fill(slot, e);
    }
  }

  makeRow() {
    const row = el('div', 'row');
    row.setAttribute('role', 'listitem');
    /** @type {HTMLElement[]} */
    const cells = [];
    for (let c = 0; c < 8; c++) {
      const cell = el('span', c === 6 ? 'num' : '');
      cells.push(cell);
      row.append(cell);
    }
    this.scroller.append(row);
    return { row, cells, id: /** @type {string | null} */ (null) };
  }

  /**
   * textContent only: event fields are untrusted and never become markup
   * @param {{ row: HTMLElement, cells: HTMLElement[], id: string | null }} slot
   * @param {WorkflowEvent} e
   */
  fill(slot, e) {
    slot.id = e.id;
    slot.row.dataset.id = e.id;
    const [time, type, source, wf, st, agent, dur, prio] = slot.cells;
    time.textContent = clock(e.time);
    type.textContent = '';
    type.append(el('span', `t ${typeClass(e.type)}`, e.type));
    source.textContent = e.source;
    wf.textContent = e.workflow ? `${e.workflow.type} · ${e.workflow.id}` : '';
    const q = /** @type {{ name?: string, depth?: number } | undefined} */ (e.queue);
    st.textContent = q ? `${q.name} = ${q.depth}` : [e.stage, e.task?.name ?? e.task?.id].filter(Boolean).join(' · ');
    agent.textContent = e.agent ?? '';
    dur.textContent = millis(e.duration_ms);
    // derived from the run's start event by the exporter, not sent by the producer
    dur.classList.toggle('derived', e.duration_derived === true);
    dur.title = e.duration_derived === true ? 'derived from the start event' : '';
    prio.textContent = e.priority;
    prio.className = `p-${e.priority}`;
    slot.row.title = e.id;
  }

  /** forget drawn contents, e.g. after the store was cleared */
  reset() {
    for (const s of this.pool) s.id = null;
    this.scroller.scrollTop = 0;
    this.schedule();
  }
}
