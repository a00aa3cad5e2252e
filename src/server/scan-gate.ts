/**
 * The Scans a node serves at once, bounded by the bytes their pages may hold (issue 9 §4: hundreds of
 * concurrent full scans of large values stalled the leader's event loop long enough to lose leadership,
 * copying and serializing their pages in one loop turn, and took its RSS far past the budget).
 * A Scan takes `bytes` (its page bound) from the gate before it reads, and gives them back after its
 * answer was serialized; scans that do not fit wait in FIFO order, each at most its own wait bound, and
 * the next waiter starts in a later loop turn (setImmediate), so page copies of different scans are
 * never all in one turn.
 *
 * Invariants: inUse <= bytesMax, except that one scan larger than the whole gate may run alone (its
 * bytes count as bytesMax); at most queuedMax waiters; every acquire settles: granted (then its release
 * runs exactly once, later calls are no-ops) or refused with RESOURCE_EXHAUSTED, at once when the queue is
 * full, or when its wait bound passes.
 */
import type { TesseraError } from '../base';

interface Waiter {
  bytes: number;
  grant: (release: () => void) => void;
  timer: NodeJS.Timeout;
}

export class ScanGate {
  private inUse = 0;
  private readonly waiting: Waiter[] = [];
  private pumpScheduled = false;

  constructor(
    readonly bytesMax: number,
    readonly queuedMax: number,
    /** The error a refused scan gets (no new error, no stack, per refusal). */
    private readonly refusal: () => TesseraError,
  ) {}

  get bytesInUse(): number {
    return this.inUse;
  }

  get queued(): number {
    return this.waiting.length;
  }

  /**
   * A release function once `bytes` fit (at once when nothing waits and they fit), else a refusal:
   * at once when queuedMax scans wait already, or after waitMs in the queue.
   */
  acquire(bytes: number, waitMs: number): Promise<() => void> {
    const b = Math.max(1, Math.min(bytes, this.bytesMax));
    if (this.waiting.length === 0 && this.inUse + b <= this.bytesMax) return Promise.resolve(this.take(b));
    if (this.waiting.length >= this.queuedMax || waitMs <= 0) return Promise.reject(this.refusal());
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        bytes: b,
        grant: resolve,
        timer: setTimeout(() => {
          const i = this.waiting.indexOf(w);
          if (i >= 0) this.waiting.splice(i, 1);
          reject(this.refusal());
        }, waitMs),
      };
      this.waiting.push(w);
    });
  }

  private take(bytes: number): () => void {
    this.inUse += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inUse -= bytes;
      this.schedulePump();
    };
  }

  /** Grants waiters in FIFO order in a later loop turn (the releasing scan's answer goes out first). */
  private schedulePump(): void {
    if (this.pumpScheduled || this.waiting.length === 0) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      for (let w = this.waiting[0]; w !== undefined && this.inUse + w.bytes <= this.bytesMax; w = this.waiting[0]) {
        this.waiting.shift();
        clearTimeout(w.timer);
        w.grant(this.take(w.bytes));
      }
    });
  }
}
