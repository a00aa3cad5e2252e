/**
 * Capabilities for time, passed down explicitly (never globals) so that code above the core can be
 * driven by a fake clock in tests. The Raft core does not use these: it counts ticks.
 */
export interface Clock {
  /** Monotonic milliseconds. */
  nowMs(): number;
}

export interface Scheduler {
  setTimeout(fn: () => void, delayMs: number): { cancel(): void };
  setInterval(fn: () => void, periodMs: number): { cancel(): void };
}
