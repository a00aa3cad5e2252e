/**
 * Proposal waiters of one group, keyed by log index and carrying the term the entry was proposed in.
 * Invariants: at most one waiter per index; a waiter is settled exactly once (result, failure, timeout);
 * the number of waiters is bounded by the caller (proposalsMax) before a proposal is made.
 */
import { TesseraError } from '../base';

export interface Waiter<T> {
  index: number;
  term: number;
  startedMs: number;
  resolve(value: T): void;
  reject(error: TesseraError): void;
  timer: NodeJS.Timeout | null;
}

export class Waiters<T> {
  private readonly byIndex = new Map<number, Waiter<T>>();

  get size(): number {
    return this.byIndex.size;
  }

  /** Registers a waiter for (index, term); rejects with DEADLINE_EXCEEDED after timeoutMs. */
  add(index: number, term: number, timeoutMs: number): Promise<T> {
    return new Promise<T>((resolve, reject) => this.register(index, term, timeoutMs, resolve, reject));
  }

  /** add() with callbacks instead of a promise (the batched proposal path). */
  register(
    index: number,
    term: number,
    timeoutMs: number,
    resolve: (value: T) => void,
    reject: (error: TesseraError) => void,
  ): void {
    const previous = this.byIndex.get(index);
    // A new proposal at an index can only mean the old entry there was overwritten.
    if (previous)
      this.settle(index, (w) =>
        w.reject(new TesseraError('UNAVAILABLE', `log entry ${index} was overwritten by a new leader; retry`)),
      );
    const w: Waiter<T> = { index, term, startedMs: performance.now(), resolve, reject, timer: null };
    w.timer = setTimeout(() => {
      this.settle(index, (x) =>
        x.reject(
          new TesseraError(
            'DEADLINE_EXCEEDED',
            `no commit of log entry ${index} within ${timeoutMs} ms; the outcome is unknown`,
          ),
        ),
      );
    }, timeoutMs);
    w.timer.unref?.();
    this.byIndex.set(index, w);
  }

  /**
   * The entry at `index` with `term` was applied: settle its waiter with `value` if the terms match,
   * else (another leader's entry took the slot) fail it as retryable. Returns the elapsed ms when resolved.
   */
  applied(index: number, term: number, value: T | undefined): number | null {
    const w = this.byIndex.get(index);
    if (!w) return null;
    if (w.term === term && value !== undefined) {
      const elapsed = performance.now() - w.startedMs;
      this.settle(index, (x) => x.resolve(value));
      return elapsed;
    }
    this.settle(index, (x) =>
      x.reject(new TesseraError('UNAVAILABLE', `log entry ${index} was replaced after a leader change; retry`)),
    );
    return null;
  }

  /** Fails every waiter (leadership lost, shutdown). */
  failAll(makeError: () => TesseraError): void {
    for (const index of [...this.byIndex.keys()]) this.settle(index, (w) => w.reject(makeError()));
  }

  private settle(index: number, fn: (w: Waiter<T>) => void): void {
    const w = this.byIndex.get(index);
    if (!w) return;
    this.byIndex.delete(index);
    if (w.timer) clearTimeout(w.timer);
    fn(w);
  }
}
