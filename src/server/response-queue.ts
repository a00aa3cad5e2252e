/**
 * The results of a streaming call (KV.Multi, KV.Pipeline) on their way to the client, with flow control:
 * - results completing in one event-loop turn share one message (written in a setImmediate);
 * - every result's bytes are charged to the node's InflightBudget from push until grpc-js has handed its
 *   message to the HTTP/2 stream (the write callback); a result that does not fit the budget, or that
 *   would put more than CALL_HELD_FACTOR x callQueuedBytesMax bytes queued on this call (so that one
 *   stream cannot take the node's budget from the others), becomes a small RESOURCE_EXHAUSTED error;
 * - when the call's unflushed bytes pass callQueuedBytesMax, or write() says grpc-js's buffer is full, the
 *   queue reports `pause` (the owner stops reading requests or starting ops); once they fall below half of
 *   it and the buffer drained, `resume`. A call that stays paused for stallMs reports `stalled` (its owner
 *   ends it with RESOURCE_EXHAUSTED: a client that does not read its responses loses the stream).
 *
 * Invariants: every byte charged is released exactly once (at its write callback, or by close() for
 * whatever is still queued: a cancelled stream never calls back); after close() nothing is written.
 */
import type { InflightBudget } from './memory-budget';
import { bufferBytes } from './memory-budget';

export type ResultWire = Record<string, unknown>;

/** A call holds at most this many times callQueuedBytesMax of results (it pauses at 1x). */
export const CALL_HELD_FACTOR = 4;

/** Bytes counted per result besides its Buffers (index, header, field tags). */
const RESULT_OVERHEAD_BYTES = 64;

export interface ResultSink {
  readonly cancelled: boolean;
  readonly writable: boolean;
  readonly writableLength: number;
  readonly writableHighWaterMark: number;
  write(message: { results: ResultWire[] }, callback: (error?: Error | null) => void): boolean;
}

export interface FlowHooks {
  /** The call's responses are not draining: stop producing more. */
  pause(): void;
  /** They drained: go on. */
  resume(): void;
  /** A flush ran (the owner may end the call when nothing is left). */
  flushed(): void;
  /** The call stayed paused for stallMs: the client does not read its responses. */
  stalled(): void;
  /** A message (the results of one turn) was handed to the call (counted in metrics). */
  wrote?(): void;
}

export class ResponseQueue {
  private ready: ResultWire[] = [];
  private readyBytes = 0;
  /** Bytes written to the call whose write callback has not come yet. */
  private unflushedBytes = 0;
  private flushScheduled = false;
  private paused = false;
  private closed = false;
  private stallTimer: NodeJS.Timeout | null = null;
  private readonly flushNow = (): void => this.flush();

  constructor(
    private readonly call: ResultSink,
    private readonly budget: InflightBudget,
    private readonly callQueuedBytesMax: number,
    private readonly hooks: FlowHooks,
    /** The result sent instead of one that does not fit the budget (its index is set by push). */
    private readonly refused: (index: unknown) => ResultWire,
    /** How long the call may stay paused before `stalled` (ms). */
    private readonly stallMs = 10_000,
  ) {}

  get isPaused(): boolean {
    return this.paused;
  }

  /** Bytes of results this call holds (ready or written and unflushed). */
  get heldBytes(): number {
    return this.readyBytes + this.unflushedBytes;
  }

  get flushPending(): boolean {
    return this.flushScheduled;
  }

  push(result: ResultWire): void {
    if (this.closed) return;
    let r = result;
    let bytes = RESULT_OVERHEAD_BYTES + bufferBytes(r, 3);
    const queued = this.readyBytes + this.unflushedBytes;
    const callFull = queued > 0 && queued + bytes > CALL_HELD_FACTOR * this.callQueuedBytesMax;
    if (callFull || !this.budget.tryAcquireBytes(bytes)) {
      r = this.refused(r.index);
      bytes = RESULT_OVERHEAD_BYTES;
      this.budget.forceAcquireBytes(bytes);
    }
    this.ready.push(r);
    this.readyBytes += bytes;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flushNow); // results completing in this turn share one message
    }
  }

  /** Writes the ready results now (also called by the owner before ending the call). */
  flush(): void {
    this.flushScheduled = false;
    const results = this.ready;
    const bytes = this.readyBytes;
    this.ready = [];
    this.readyBytes = 0;
    if (results.length > 0) {
      if (this.closed || this.call.cancelled || !this.call.writable) this.budget.releaseBytes(bytes);
      else this.write(results, bytes);
    }
    this.hooks.flushed();
  }

  private write(results: ResultWire[], bytes: number): void {
    this.unflushedBytes += bytes;
    const roomy = this.call.write({ results }, () => this.written(bytes));
    this.hooks.wrote?.();
    if ((!roomy || this.unflushedBytes > this.callQueuedBytesMax) && !this.paused) {
      this.paused = true;
      this.stallTimer = setTimeout(() => {
        this.stallTimer = null;
        if (this.paused && !this.closed) this.hooks.stalled();
      }, this.stallMs);
      this.hooks.pause();
    }
  }

  private written(bytes: number): void {
    if (this.closed) return; // close() released it
    this.unflushedBytes -= bytes;
    this.budget.releaseBytes(bytes);
    if (
      this.paused &&
      this.unflushedBytes <= this.callQueuedBytesMax / 2 &&
      this.call.writableLength < this.call.writableHighWaterMark
    ) {
      this.paused = false;
      if (this.stallTimer !== null) clearTimeout(this.stallTimer);
      this.stallTimer = null;
      this.hooks.resume();
    }
  }

  /** The call is over (ended, cancelled or failed): release every byte still charged. Idempotent. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.stallTimer !== null) clearTimeout(this.stallTimer);
    this.stallTimer = null;
    this.budget.releaseBytes(this.unflushedBytes + this.readyBytes);
    this.unflushedBytes = 0;
    this.readyBytes = 0;
    this.ready = [];
  }
}
