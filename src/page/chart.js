// @ts-check
// A small canvas chart of events and errors per second over the snapshot window; no library needed.

export class RateChart {
  /** @param {HTMLCanvasElement} canvas */
  constructor(canvas) {
    this.canvas = canvas;
    /** @type {{ events: number[], errors: number[] } | null} */
    this.series = null;
    new ResizeObserver(() => this.draw()).observe(canvas);
  }

  /** @param {{ events: number[], errors: number[] }} series */
  update(series) {
    this.series = series;
    this.draw();
  }

  draw() {
    const c = this.canvas;
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(c.clientWidth * dpr));
    const h = Math.max(1, Math.round(c.clientHeight * dpr));
    if (c.width !== w || c.height !== h) {
      c.width = w;
      c.height = h;
    }
    const ctx = c.getContext('2d');
    if (!ctx) return;
    ctx.clearRect(0, 0, w, h);
    const css = getComputedStyle(document.documentElement);
    const color = (/** @type {string} */ name) => css.getPropertyValue(name).trim();
    ctx.strokeStyle = color('--chart-grid');
    ctx.lineWidth = 1;
    for (const f of [0.25, 0.5, 0.75]) {
      const y = Math.round(h * f) + 0.5;
      ctx.beginPath();
      ctx.moveTo(0, y);
      ctx.lineTo(w, y);
      ctx.stroke();
    }
    const s = this.series;
    if (!s || s.events.length < 2) return;
    const pad = 2 * dpr;
    const max = Math.max(1, ...s.events);
    const x = (/** @type {number} */ i) => (i / (s.events.length - 1)) * w;
    const y = (/** @type {number} */ v) => h - pad - (v / max) * (h - 2 * pad);
    /** @param {number[]} values @param {string} stroke @param {boolean} fill */
    const line = (values, stroke, fill) => {
      ctx.beginPath();
      values.forEach((v, i) => (i === 0 ? ctx.moveTo(x(i), y(v)) : ctx.lineTo(x(i), y(v))));
      ctx.strokeStyle = stroke;
      ctx.lineWidth = 1.5 * dpr;
      ctx.stroke();
      if (fill) {
        ctx.lineTo(w, h);
        ctx.lineTo(0, h);
        ctx.closePath();
        ctx.globalAlpha = 0.15;
        ctx.fillStyle = stroke;
        ctx.fill();
        ctx.globalAlpha = 1;
      }
    };
    line(s.events, color('--chart-events'), true);
    line(s.errors, color('--chart-errors'), false);
    ctx.fillStyle = color('--muted');
    ctx.font = `${10 * dpr}px system-ui, sans-serif`;
    ctx.fillText(`${max}/s`, 4 * dpr, 11 * dpr);
  }
}
