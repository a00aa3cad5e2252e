/**
 * Batched linearizable reads of one group (ReadIndex). Reads that arrive together wait in `pending`;
 * startRound() gives all of them one context and one core.readIndex call. When the core answers with a
 * ReadState (context, index), the batch becomes servable once the state machine's applied index reaches
 * `index`. Invariants: every read is settled exactly once; pending + in-flight reads stay within the
 * caller's bound (readsMax), checked before a read is queued.
 */
import { TesseraError } from '../base';

export interface PendingRead {
  /** Runs the read against the local state machine once it is safe. */
  run(readIndex: number): void;
  fail(error: TesseraError): void;
  /** False once timed out (then skipped). */
  live: boolean;
}

interface Batch {
  reads: PendingRead[];
  /** null until the core answers. */
  index: number | null;
}

export class ReadBatcher {
  private pending: PendingRead[] = [];
  private readonly inflight = new Map<number, Batch>();
  private nextContext = 1;
  private count = 0;

  get size(): number {
    return this.count;
  }

  enqueue(read: PendingRead): void {
    this.pending.push(read);
    this.count++;
  }

  /** Starts one ReadIndex round for everything pending. `readIndex` is core.readIndex. */
  startRound(readIndex: (context: number) => { ok: true } | { ok: false; error: TesseraError }): void {
    if (this.pending.length === 0) return;
    const reads = this.pending;
    this.pending = [];
    const context = this.nextContext++;
    if (this.nextContext > 0x7fff_ffff) this.nextContext = 1;
    const outcome = readIndex(context);
    if (!outcome.ok) {
      this.failReads(reads, outcome.error);
      return;
    }
    this.inflight.set(context, { reads, index: null });
  }

  readState(context: number, index: number): void {
    const b = this.inflight.get(context);
    if (b) b.index = index;
  }

  readFailed(context: number, error: TesseraError): void {
    const b = this.inflight.get(context);
    if (!b) return;
    this.inflight.delete(context);
    this.failReads(b.reads, error);
  }

  /** Serves every batch whose read index is applied. */
  serve(applied: number): void {
    for (const [context, b] of this.inflight) {
      if (b.index === null || b.index > applied) continue;
      this.inflight.delete(context);
      this.count -= b.reads.length;
      for (const r of b.reads) if (r.live) r.run(b.index);
    }
  }

  failAll(error: TesseraError): void {
    const reads = this.pending;
    this.pending = [];
    this.failReads(reads, error);
    for (const [context, b] of this.inflight) {
      this.inflight.delete(context);
      this.failReads(b.reads, error);
    }
  }

  private failReads(reads: PendingRead[], error: TesseraError): void {
    this.count -= reads.length;
    for (const r of reads) if (r.live) r.fail(error);
  }
}
