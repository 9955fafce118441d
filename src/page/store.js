// @ts-check
// The events the page holds: newest last, bounded, deduplicated by event id.

/** @typedef {{ id: string, type: string, time: string, source: string, priority: string, workflow?: { id: string, type: string }, stage?: string, task?: { id: string, name?: string }, agent?: string, duration_ms?: number, duration_derived?: boolean, [k: string]: unknown }} WorkflowEvent */

export class EventStore {
  /** @param {number} max rows kept; the oldest go first */
  constructor(max) {
    this.max = max;
    /** @type {WorkflowEvent[]} oldest first */
    this.items = [];
    /** @type {Set<string>} */
    this.ids = new Set();
  }

  get size() {
    return this.items.length;
  }

  /** the newest event's id: a reconnect asks the server to resume after it */
  get lastId() {
    return this.items.length ? this.items[this.items.length - 1].id : undefined;
  }

  /**
   * Adds events in arrival order, skipping ids already held (a replay overlapping what we saw).
   * @param {WorkflowEvent[]} events
   * @returns {number} how many were new
   */
  add(events) {
    let added = 0;
    for (const e of events) {
      if (!e || typeof e.id !== 'string' || this.ids.has(e.id)) continue;
      this.ids.add(e.id);
      this.items.push(e);
      added++;
    }
    const excess = this.items.length - this.max;
    if (excess > 0) {
      for (const e of this.items.splice(0, excess)) this.ids.delete(e.id);
    }
    return added;
  }

  /** @param {number} i 0 is the newest */
  at(i) {
    return this.items[this.items.length - 1 - i];
  }

  clear() {
    this.items = [];
    this.ids.clear();
  }
}
