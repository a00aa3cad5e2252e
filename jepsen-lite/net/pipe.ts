/**
 * One direction of a proxied TCP connection: reads from `src`, writes to `dst`, obeying a DirectionState
 * that may change at any time (held: stop reading; delayMs: deliver each chunk that much later, in order).
 *
 * Invariants: chunks are written in arrival order; at most `queuedBytesMax` bytes wait in the delay queue
 * (beyond that the source is paused, so memory stays bounded); a held direction neither reads nor writes.
 */
import type { Socket } from 'node:net';
import type { DirectionState } from './link-state';

const queuedBytesMax = 4 * 1024 * 1024;

interface Queued {
  dueMs: number;
  chunk: Buffer;
}

export class Pipe {
  private readonly queue: Queued[] = [];
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | null = null;
  private dstBlocked = false;
  private srcEnded = false;
  private closed = false;

  constructor(
    private readonly src: Socket,
    private readonly dst: Socket,
    private state: () => DirectionState,
  ) {
    src.on('data', (chunk: Buffer) => this.onData(chunk));
    src.on('end', () => {
      this.srcEnded = true;
      this.maybeEnd();
    });
    dst.on('drain', () => {
      this.dstBlocked = false;
      this.flush();
      this.update();
    });
  }

  /** Re-reads the direction state (call after it changed). */
  update(): void {
    if (this.closed) return;
    const s = this.state();
    const mayRead = !s.held && !this.dstBlocked && this.queuedBytes < queuedBytesMax;
    if (mayRead && this.src.isPaused()) this.src.resume();
    if (!mayRead && !this.src.isPaused()) this.src.pause();
    this.flush();
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.queue.length = 0;
    this.queuedBytes = 0;
  }

  private onData(chunk: Buffer): void {
    if (this.closed) return;
    const s = this.state();
    this.queue.push({ dueMs: performance.now() + s.delayMs, chunk });
    this.queuedBytes += chunk.length;
    this.flush();
    this.update();
  }

  private flush(): void {
    if (this.closed) return;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    const s = this.state();
    if (s.held) return;
    const now = performance.now();
    while (this.queue.length > 0 && !this.dstBlocked) {
      const head = this.queue[0]!;
      // A delay that was lowered after queuing takes effect at once (never later than the new delay).
      const due = Math.min(head.dueMs, now + s.delayMs);
      if (due > now) {
        this.timer = setTimeout(
          () => {
            this.timer = null;
            this.flush();
            this.update();
          },
          Math.ceil(due - now),
        );
        return;
      }
      this.queue.shift();
      this.queuedBytes -= head.chunk.length;
      if (!this.dst.destroyed && !this.dst.write(head.chunk)) this.dstBlocked = true;
    }
    this.maybeEnd();
  }

  private maybeEnd(): void {
    if (this.srcEnded && this.queue.length === 0 && !this.dst.destroyed) this.dst.end();
  }
}
