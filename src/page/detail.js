// @ts-check
// The detail view of one event: key fields, the full JSON, and actions other modules register
// (operator controls add their buttons here).
import { byId, clock, el, millis } from './dom.js';

/** @typedef {import('./store.js').WorkflowEvent} WorkflowEvent */
/** @typedef {(event: WorkflowEvent, container: HTMLElement) => void} DetailAction */

/** @type {DetailAction[]} */
const actions = [];

/** Lets another module add controls to the detail view, e.g. pause/resume/cancel for the event's run. */
export function registerDetailAction(/** @type {DetailAction} */ a) {
  actions.push(a);
}

export class Detail {
  /** @param {() => void} onClose */
  constructor(onClose) {
    this.panel = byId('detail');
    this.title = byId('detail-title');
    this.fields = byId('detail-fields');
    this.json = byId('detail-json');
    this.actions = byId('detail-actions');
    this.onClose = onClose;
    /** @type {WorkflowEvent | null} */
    this.event = null;
    byId('detail-close').addEventListener('click', () => this.close());
    document.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && !this.panel.hidden) this.close();
    });
  }

  /** @param {WorkflowEvent} e */
  show(e) {
    this.event = e;
    this.panel.hidden = false;
    this.title.textContent = e.id;
    /** @type {[string, string | undefined][]} */
    const rows = [
      ['type', e.type],
      ['time', `${clock(e.time)} (${e.time})`],
      ['source', e.source],
      ['workflow', e.workflow ? `${e.workflow.type} · ${e.workflow.id}` : undefined],
      ['stage', e.stage],
      ['task', e.task ? [e.task.name, e.task.id].filter(Boolean).join(' · ') : undefined],
      ['agent', e.agent],
      ['duration', e.duration_ms !== undefined ? `${millis(e.duration_ms)}${e.duration_derived === true ? ' (derived from the start event)' : ''}` : undefined],
      ['priority', e.priority],
    ];
    this.fields.replaceChildren();
    for (const [k, v] of rows) {
      if (v === undefined || v === '') continue;
      this.fields.append(el('dt', '', k), el('dd', '', v));
    }
    this.json.textContent = JSON.stringify(e, null, 2);
    this.actions.replaceChildren();
    for (const a of actions) a(e, this.actions);
  }

  close() {
    this.panel.hidden = true;
    this.event = null;
    this.onClose();
  }
}
