// @ts-check
// Small DOM and formatting helpers shared by the page's modules.

/**
 * @template {HTMLElement} T
 * @param {string} id
 * @param {{ new (): T }} [_type] documents the element type for the checker
 * @returns {T}
 */
export function byId(id, _type) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return /** @type {T} */ (el);
}

/**
 * @param {string} tag
 * @param {string} [className]
 * @param {string} [text]
 */
export function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** @param {string | number} t RFC 3339 or epoch ms */
export function clock(t) {
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return String(t);
  const p = (/** @type {number} */ n, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** @param {number | null | undefined} s seconds */
export function seconds(s) {
  if (s === null || s === undefined || Number.isNaN(s)) return '–';
  if (s < 1) return `${Math.round(s * 1000)} ms`;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${Math.round(s % 60)}s`;
  return `${Math.floor(s / 3600)}h ${Math.round((s % 3600) / 60)}m`;
}

/** @param {number | undefined} ms */
export function millis(ms) {
  return ms === undefined ? '' : seconds(ms / 1000);
}

/** @param {number} n */
export function rate(n) {
  if (n >= 100) return n.toFixed(0);
  if (n >= 10) return n.toFixed(1);
  return n.toFixed(2);
}

/** @param {number | null} r */
export function percent(r) {
  return r === null ? '–' : `${(r * 100).toFixed(r < 0.1 ? 2 : 1)}%`;
}

/** @param {string} type */
export function typeClass(type) {
  if (type.endsWith('.failed') || type.endsWith('.error')) return 'error';
  if (type.endsWith('.completed') || type === 'agent.response') return 'ok';
  if (type.endsWith('.started')) return 'start';
  return '';
}
