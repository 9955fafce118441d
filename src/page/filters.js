// @ts-check
// The filter form: its fields become the subscribe filter (and the export's query), kept in the URL
// hash so a filtered view can be shared or reloaded.

const LISTS = ['types', 'sources', 'workflow_types', 'agents'];
const DEBOUNCE_MS = 300;

/** @typedef {{ types?: string[], sources?: string[], workflow_types?: string[], workflow_id?: string, agents?: string[], priorities?: string[], q?: string }} Filter */

/** @param {string} s */
const split = (s) =>
  s
    .split(',')
    .map((x) => x.trim())
    .filter((x) => x.length > 0);

export class FilterForm {
  /**
   * @param {HTMLFormElement} form
   * @param {(f: Filter) => void} onChange
   */
  constructor(form, onChange) {
    this.form = form;
    this.onChange = onChange;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timer = undefined;
    this.fromHash();
    this.current = this.read();
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.apply();
    });
    form.addEventListener('input', () => this.later());
    form.addEventListener('change', () => this.later());
    form.addEventListener('reset', () => setTimeout(() => this.apply(), 0));
  }

  /** @param {string} name */
  input(name) {
    return /** @type {HTMLInputElement} */ (this.form.elements.namedItem(name));
  }

  /** @returns {Filter} only the fields that constrain something */
  read() {
    /** @type {Filter & Record<string, unknown>} */
    const f = {};
    for (const k of LISTS) {
      const v = split(this.input(k).value);
      if (v.length) f[k] = v;
    }
    const wid = this.input('workflow_id').value.trim();
    if (wid) f.workflow_id = wid;
    const prios = [...this.form.querySelectorAll('input[name="priorities"]:checked')].map((x) => /** @type {HTMLInputElement} */ (x).value);
    if (prios.length) f.priorities = prios;
    const q = this.input('q').value.trim();
    if (q) f.q = q;
    return f;
  }

  later() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.apply(), DEBOUNCE_MS);
  }

  apply() {
    clearTimeout(this.timer);
    const f = this.read();
    if (JSON.stringify(f) === JSON.stringify(this.current)) return;
    this.current = f;
    this.toHash(f);
    this.onChange(f);
  }

  /** @param {Filter} f */
  toHash(f) {
    const p = new URLSearchParams(query(f));
    const h = p.toString();
    history.replaceState(null, '', h ? `#${h}` : location.pathname + location.search);
  }

  fromHash() {
    const p = new URLSearchParams(location.hash.slice(1));
    for (const k of [...LISTS, 'workflow_id', 'q']) {
      const v = p.get(k);
      if (v !== null) this.input(k).value = v;
    }
    const prios = split(p.get('priorities') ?? '');
    for (const x of this.form.querySelectorAll('input[name="priorities"]')) {
      const box = /** @type {HTMLInputElement} */ (x);
      box.checked = prios.includes(box.value);
    }
  }
}

/**
 * The filter as URL query parameters, as GET /api/events, the export and SSE take them.
 * @param {Filter} f
 * @returns {Record<string, string>}
 */
export function query(f) {
  /** @type {Record<string, string>} */
  const out = {};
  for (const [k, v] of Object.entries(f)) out[k] = Array.isArray(v) ? v.join(',') : String(v);
  return out;
}
