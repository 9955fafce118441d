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

/**
 * A duration for people: 840 ms, 4.25 s, 42.5 s, 2m 5s, 3h 20m. Each unit is chosen by the value as
 * it reads after rounding, so rounding up carries into the next unit (119.6 s is "2m 0s", never
 * "1m 60s"; 59.95 s is "1m 0s", never "60.0 s").
 * @param {number | null | undefined} s seconds
 */
export function seconds(s) {
  if (s === null || s === undefined || !Number.isFinite(s)) return '–';
  const ms = Math.round(s * 1000);
  if (ms < 1000) return `${ms} ms`;
  const hundredths = s.toFixed(2);
  if (Number(hundredths) < 10) return `${hundredths} s`;
  const tenths = s.toFixed(1);
  if (Number(tenths) < 60) return `${tenths} s`;
  const whole = Math.round(s);
  if (whole < 3600) return `${Math.floor(whole / 60)}m ${whole % 60}s`;
  const minutes = Math.round(s / 60);
  return `${Math.floor(minutes / 60)}h ${minutes % 60}m`;
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
