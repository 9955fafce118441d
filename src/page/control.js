// @ts-check
// Operator controls on the live page: a runs panel (open runs seen here and the overdue runs the
// exporter reports) for every reader, and pause, resume and cancel, each behind a confirmation step,
// on its rows and on the event detail, shown only to an operator token.
// The run's state changes when the platform's workflow.paused/resumed/cancelled event arrives, not
// when the command is sent: the command is a request, the event is the fact.
import { registerDetailAction } from './detail.js';
import { byId, el, seconds } from './dom.js';

const TOKEN_KEY = 'wfx-token'; // the tab's token, as main.js keeps it
const REFRESH_MS = 10_000; // overdue list and role; both change slowly
const MAX_RUNS = 50; // rows in the runs panel: overdue first, then the newest open runs

/** @typedef {import('./store.js').WorkflowEvent} WorkflowEvent */
/** @typedef {'pause' | 'resume' | 'cancel'} Action */
/** @typedef {{ id: string, type: string, state: string, seenAt: number, overdue?: number, pending?: { action: Action, command: string }, error?: string }} Run */

/** @type {Record<string, string>} */
const STATE_OF = {
  'workflow.started': 'running',
  'workflow.resumed': 'running',
  'workflow.paused': 'paused',
  'workflow.completed': 'completed',
  'workflow.failed': 'failed',
  'workflow.cancelled': 'cancelled',
};
/** @type {Record<Action, string>} */
const LABEL = { pause: 'Pause', resume: 'Resume', cancel: 'Cancel run' };
/** @type {Record<Action, string>} the state each action asks for */
const WANTS = { pause: 'paused', resume: 'running', cancel: 'cancelled' };
const OPEN = new Set(['running', 'paused', 'unknown']);

/** @type {Map<string, Run>} */
const runs = new Map();
let operator = false;
let reader = false;
/** @type {{ runId: string, container: HTMLElement } | null} the detail view's control, redrawn on change */
let detailSlot = null;

const token = () => sessionStorage.getItem(TOKEN_KEY);
/** @returns {Record<string, string>} */
const authHeader = () => {
  const t = token();
  return t ? { authorization: `Bearer ${t}` } : {};
};

/** @param {string} id @param {string} [type] */
function runOf(id, type) {
  let r = runs.get(id);
  if (!r) {
    r = { id, type: type ?? '', state: 'unknown', seenAt: Date.now() };
    runs.set(id, r);
  }
  if (type) r.type = type;
  return r;
}

/** Actions that make sense in a state; unknown state offers all three. @param {string} state @returns {Action[]} */
function actionsFor(state) {
  if (state === 'running') return ['pause', 'cancel'];
  if (state === 'paused') return ['resume', 'cancel'];
  if (state === 'unknown') return ['pause', 'resume', 'cancel'];
  return [];
}

/** @param {Run} run @param {Action} action @param {string} reason */
async function send(run, action, reason) {
  run.error = undefined;
  try {
    const r = await fetch(`/api/workflows/${encodeURIComponent(run.id)}/control`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...authHeader() },
      body: JSON.stringify(reason ? { action, reason } : { action }),
    });
    const body = await r.json().catch(() => ({}));
    if (r.status === 202) run.pending = { action, command: String(body.id) };
    else run.error = `${action} refused (${r.status}): ${body.message ?? body.error ?? 'no reason given'}`;
  } catch (err) {
    run.error = `${action} not sent: ${/** @type {Error} */ (err).message}`;
  }
  redraw();
}

/**
 * The control of one run: its state, then buttons; a click asks for confirmation (with an optional
 * reason) before anything is sent.
 * @param {Run} run
 * @param {HTMLElement} box
 */
function renderControl(run, box) {
  box.replaceChildren();
  box.classList.add('run-control');
  box.dataset.run = run.id;
  box.dataset.state = run.state;
  const state = el('span', `run-state s-${run.state}`, run.state);
  state.dataset.role = 'state';
  box.append(state);
  if (run.pending) {
    const note = el('span', 'run-note', `${run.pending.action} sent · waiting for workflow.${WANTS[run.pending.action]}`);
    note.dataset.role = 'pending';
    note.title = `command ${run.pending.command}`;
    box.append(note);
  }
  if (run.error) {
    const err = el('span', 'run-note run-error', run.error);
    err.dataset.role = 'error';
    box.append(err);
  }
  if (!operator) return;
  for (const action of actionsFor(run.state)) {
    const b = /** @type {HTMLButtonElement} */ (el('button', `btn ctl ctl-${action}`, LABEL[action]));
    b.type = 'button';
    b.dataset.action = action;
    b.addEventListener('click', () => confirmStep(run, action, box));
    box.append(b);
  }
}

/** @param {Run} run @param {Action} action @param {HTMLElement} box */
function confirmStep(run, action, box) {
  box.replaceChildren();
  const ask = el('span', 'run-confirm-text', `${LABEL[action].replace(/ run$/, '')} run ${run.id}?`);
  const reason = /** @type {HTMLInputElement} */ (el('input', 'run-reason'));
  reason.placeholder = 'reason (audited)';
  reason.maxLength = 1000;
  reason.setAttribute('aria-label', `reason to ${action} ${run.id}`);
  const yes = /** @type {HTMLButtonElement} */ (el('button', `btn primary ctl-confirm`, `Confirm ${action}`));
  yes.type = 'button';
  yes.dataset.role = 'confirm';
  const no = /** @type {HTMLButtonElement} */ (el('button', 'btn', 'Back'));
  no.type = 'button';
  no.dataset.role = 'dismiss';
  yes.addEventListener('click', () => {
    yes.disabled = true;
    void send(run, action, reason.value.trim());
  });
  no.addEventListener('click', () => renderControl(run, box));
  box.append(ask, reason, yes, no);
  reason.focus();
}

// ------------------------------------------------------------------------------------------------
// The runs panel: open runs the page has seen, and the overdue runs the exporter reports.

const panel = el('section', 'runs');
panel.id = 'runs';
panel.hidden = true;
panel.setAttribute('aria-label', 'Runs');
const title = el('h2', '', 'Runs');
const table = el('table', 'runs-table');
const thead = el('thead');
const headRow = el('tr');
for (const h of ['workflow', 'type', 'overdue', 'state and control']) headRow.append(el('th', '', h));
thead.append(headRow);
const tbody = el('tbody');
table.append(thead, tbody);
panel.append(title, table);

/** What a run's control shows; it is redrawn only when this changes. @param {Run} run */
const signature = (run) => `${run.state}|${run.pending?.command ?? ''}|${run.error ?? ''}`;

function visibleRuns() {
  const list = [...runs.values()].filter((r) => OPEN.has(r.state) || r.pending || r.overdue !== undefined);
  list.sort((a, b) => (b.overdue ?? -1) - (a.overdue ?? -1) || b.seenAt - a.seenAt);
  return list.slice(0, MAX_RUNS);
}

function redraw() {
  // a row's confirmation step survives redraws of other rows: only rows whose run changed are redrawn
  const rows = visibleRuns();
  panel.hidden = !reader || rows.length === 0;
  const keep = new Map([...tbody.querySelectorAll('tr')].map((tr) => [/** @type {HTMLElement} */ (tr).dataset.run ?? '', /** @type {HTMLElement} */ (tr)]));
  const frag = document.createDocumentFragment();
  for (const run of rows) {
    const sig = `${signature(run)}|${run.overdue ?? ''}|${run.type}|${operator}`;
    let tr = keep.get(run.id);
    if (!tr || tr.dataset.sig !== sig) {
      tr = el('tr');
      tr.dataset.run = run.id;
      tr.dataset.sig = sig;
      const cell = el('td');
      renderControl(run, cell);
      tr.append(el('td', 'mono', run.id), el('td', '', run.type), el('td', run.overdue !== undefined ? 'overdue' : '', run.overdue !== undefined ? seconds(run.overdue) : ''), cell);
    }
    frag.append(tr);
  }
  tbody.replaceChildren(frag);
  if (detailSlot) {
    const run = runs.get(detailSlot.runId);
    if (run && detailSlot.container.isConnected && detailSlot.container.dataset.sig !== signature(run)) {
      renderControl(run, detailSlot.container);
      detailSlot.container.dataset.sig = signature(run);
    }
  }
}

/** Lifecycle events move a run's state; the state the platform reports clears a pending command. */
document.addEventListener('wfx:events', (ev) => {
  const events = /** @type {CustomEvent<WorkflowEvent[]>} */ (ev).detail;
  let changed = false;
  for (const e of events) {
    const state = STATE_OF[e.type];
    if (!state || !e.workflow) continue;
    const run = runOf(e.workflow.id, e.workflow.type);
    run.state = state;
    run.seenAt = Date.now();
    if (run.pending && (WANTS[run.pending.action] === state || !OPEN.has(state))) run.pending = undefined;
    if (!OPEN.has(state)) run.overdue = undefined;
    changed = true;
  }
  if (changed) redraw();
});

async function refresh() {
  try {
    const who = await fetch('/api/whoami', { headers: authHeader(), cache: 'no-store' });
    const w = who.ok ? await who.json() : null;
    // with no token configured the server refuses control, so nobody sees the buttons
    operator = Boolean(w && w.auth_required && w.role === 'operator');
    reader = w !== null;
    if (reader) {
      const r = await fetch('/api/runs/overdue?limit=100', { headers: authHeader(), cache: 'no-store' });
      if (r.ok) {
        const body = /** @type {{ items: { workflow_id: string, workflow_type: string, state: string, overdue_seconds: number }[] }} */ (await r.json());
        for (const run of runs.values()) run.overdue = undefined;
        for (const o of body.items) {
          const run = runOf(o.workflow_id, o.workflow_type);
          run.overdue = o.overdue_seconds;
          if (run.state === 'unknown') run.state = o.state;
        }
      }
    }
  } catch {
    // the server is down; the connection status says so, and the next refresh tries again
  }
  // tells tests and styles whether this tab may control runs
  document.documentElement.dataset.control = operator ? 'operator' : 'none';
  redraw();
}

registerDetailAction((e, container) => {
  if (!operator || !e.workflow) return;
  const box = el('div');
  const run = runOf(e.workflow.id, e.workflow.type);
  if (run.state === 'unknown' && STATE_OF[e.type]) run.state = STATE_OF[e.type];
  renderControl(run, box);
  box.dataset.sig = signature(run);
  detailSlot = { runId: run.id, container: box };
  container.append(box);
});

function init() {
  byId('list').closest('main')?.before(panel);
  // a token entered in the dialog may be an operator's: look again once main.js has stored it
  byId('token-form').addEventListener('submit', () => setTimeout(() => void refresh(), 0));
  void refresh();
  setInterval(() => void refresh(), REFRESH_MS);
}

init();
