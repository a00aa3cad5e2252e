/**
 * Capabilities for time, passed down explicitly (never globals) so that code above the core can be
 * driven by a fake clock in tests and by the simulator's virtual time. The Raft core does not use these:
 * it counts ticks. systemClock and systemScheduler are the real ones (performance.now, Node timers).
 */
export interface Clock {
  /** Monotonic milliseconds. */
  nowMs(): number;
}

export interface Scheduler {
  setTimeout(fn: () => void, delayMs: number): { cancel(): void };
  setInterval(fn: () => void, periodMs: number): { cancel(): void };
  /**
   * Runs `fn` once, soon, after the work already queued in this turn (Node: setImmediate, in the check
   * phase after the I/O callbacks of the turn). The simulator runs these in order at the end of an event.
   */
  soon(fn: () => void): void;
}

export const systemClock: Clock = { nowMs: () => performance.now() };

export const systemScheduler: Scheduler = {
  setTimeout(fn, delayMs) {
    const t = setTimeout(fn, delayMs);
    return { cancel: () => clearTimeout(t) };
  },
  setInterval(fn, periodMs) {
    const t = setInterval(fn, periodMs);
    return { cancel: () => clearInterval(t) };
  },
  soon(fn) {
    setImmediate(fn);
  },
};
