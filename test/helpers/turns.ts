// Event-loop turns for tests of code that must yield: a counter of turns, and a busy wait.

/** Counts turns of the event loop (a macrotask that re-arms itself, at most a million times) until stopped. */
export function turnCounter(): { readonly turn: number; stop(): void } {
  let turn = 0;
  let on = true;
  const spin = () => {
    turn++;
    if (on && turn < 1_000_000) setImmediate(spin);
  };
  spin();
  return {
    get turn() {
      return turn;
    },
    stop: () => void (on = false),
  };
}

/** Holds the thread for `ms` milliseconds (a sink or batch that uses up a slice). */
export function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}
