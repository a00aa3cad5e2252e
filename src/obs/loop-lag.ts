/**
 * A cheap, always-current measure of event-loop lag, for shedding load before the loop starves the Raft
 * ticks (issue 9 §4). A timer fires every periodMs; the lag is how overdue its next firing is now. While
 * one long loop turn runs (a poll phase serving hundreds of requests, an apply of thousands of entries),
 * the timer cannot fire, and a request handled inside that turn sees it overdue: so the lag rises within
 * the stall itself, for the work that would make it longer. The next turn starts with the timers phase,
 * where the timer fires and the lag is 0 again: a single slow turn (a GC, a module load) sheds nothing
 * after it. `lastLateMs` keeps the last firing's lateness for diagnostics.
 *
 * The event loop is one per process (thread): processLoopLag() is the process's shared sampler, started
 * on first use; its timer is unref'd (it never keeps the process alive). Tests use LoopLag with an
 * injected clock and call sample() themselves.
 *
 * Invariants: lagMs() >= 0; it only reads the clock (no allocation: safe on every request).
 */

export const LOOP_LAG_PERIOD_MS = 20;

export class LoopLag {
  private lastAtMs: number;
  /** How late the last firing came (diagnostics). */
  lastLateMs = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    readonly periodMs: number = LOOP_LAG_PERIOD_MS,
    private readonly nowMs: () => number = () => performance.now(),
  ) {
    this.lastAtMs = nowMs();
  }

  /** One timer firing: records how late it came. */
  sample(): void {
    const now = this.nowMs();
    this.lastLateMs = Math.max(0, now - this.lastAtMs - this.periodMs);
    this.lastAtMs = now;
  }

  /** The loop's lag now: how overdue the timer's next firing is (0 while it is not due yet). */
  lagMs(): number {
    const overdue = this.nowMs() - this.lastAtMs - this.periodMs;
    return overdue > 0 ? overdue : 0;
  }

  /** Starts the unref'd timer (idempotent); the first firing's lateness counts from now. */
  start(): this {
    if (this.timer !== null) return this;
    this.lastAtMs = this.nowMs();
    this.lastLateMs = 0;
    this.timer = setInterval(() => this.sample(), this.periodMs);
    this.timer.unref();
    return this;
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}

let shared: LoopLag | null = null;

/** The process's event-loop lag sampler (one event loop per process), started on first use. */
export function processLoopLag(): LoopLag {
  if (shared === null) shared = new LoopLag().start();
  return shared;
}

/**
 * The lag past which a node sheds new client work, from its Raft timing: a quarter of the election
 * timeout (250 ms with the default 1 s), at least two ticks. Ticks late by half an election timeout can
 * cost the leadership; shedding starts well before, while a single slow turn (a GC, a burst of ordinary
 * requests on a loaded machine) stays under it and sheds nothing.
 */
export function shedAfterMsFor(timing: { tickMs: number; electionMs: number }): number {
  return Math.max(2 * timing.tickMs, Math.floor(timing.electionMs / 4));
}
