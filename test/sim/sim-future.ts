/**
 * Virtual-time waits for the ready loop's synchronous driver (src/node/loop-driver.ts driveNow): a
 * SimFuture is settled by the simulator itself (a held persist or apply finishing at a later tick), and
 * its callbacks run on the simulator's stack, so no promise or microtask is involved. NEVER is the wait of
 * a crashed process: it never settles, so the loop run that waited on it is abandoned with the incarnation.
 */
import type { Resumable } from '../../src/node/loop-driver';

export class SimFuture implements Resumable {
  settled = false;
  private callbacks: (() => void)[] = [];

  whenSettled(fn: () => void): void {
    if (this.settled) fn();
    else this.callbacks.push(fn);
  }

  settle(): void {
    if (this.settled) return;
    this.settled = true;
    const callbacks = this.callbacks;
    this.callbacks = [];
    for (const fn of callbacks) fn();
  }
}

export const NEVER: Resumable = { settled: false, whenSettled: () => undefined };

/**
 * The Scheduler of one simulated process: soon() callbacks run in order when the simulator ends an event
 * on that node (runSoon), like setImmediate's check phase after the turn's I/O callbacks. Timers are not
 * used by the ready loop (the simulator ticks the core itself).
 */
export class SimScheduler {
  private queue: (() => void)[] = [];

  soon(fn: () => void): void {
    this.queue.push(fn);
  }

  setTimeout(): { cancel(): void } {
    throw new Error('SimScheduler: timers are not simulated (the simulator ticks the core)');
  }

  setInterval(): { cancel(): void } {
    throw new Error('SimScheduler: timers are not simulated (the simulator ticks the core)');
  }

  /** Runs the queued callbacks, and those they queue, until none is left (bounded). */
  runSoon(): void {
    for (let rounds = 0; this.queue.length > 0; rounds++) {
      if (rounds > 10_000) throw new Error('SimScheduler: soon() callbacks keep queueing more');
      const q = this.queue;
      this.queue = [];
      for (const fn of q) fn();
    }
  }
}
