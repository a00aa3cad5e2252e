/**
 * Bounds the scrypt work of logins: scrypt is CPU- and memory-heavy by design, so at most `runningMax`
 * password checks run at once and at most `waitingMax` wait; past that a login is refused at once with
 * RESOURCE_EXHAUSTED (retryable), never queued without bound.
 */
import { TesseraError } from '../base';

export class LoginGate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    private readonly runningMax: number,
    private readonly waitingMax: number,
  ) {}

  /** Runs `fn` when a slot is free; RESOURCE_EXHAUSTED when too many logins already wait. */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.running >= this.runningMax) {
      if (this.waiting.length >= this.waitingMax)
        throw new TesseraError('RESOURCE_EXHAUSTED', 'too many logins in progress on this node; retry later');
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else this.running++;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next !== undefined) next();
      else this.running--;
    }
  }

  /** Logins running and waiting (tests, metrics). */
  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }
}
