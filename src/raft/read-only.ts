/**
 * ReadIndex bookkeeping on the leader (Raft thesis 6.4; etcd-io/raft read_only.go).
 *
 * A read records the commit index at its arrival and joins the open heartbeat round (rounds are numbered;
 * the round opened by the first read after the previous Ready, so reads arriving before its heartbeats go
 * out share them). A round r is confirmed when a quorum of voters has answered a heartbeat with context
 * >= r (the leader counts itself); every read of a round <= r is then released as a ReadState.
 * Reads that arrive before the leader has committed an entry of its term wait in `deferred`.
 * Invariants: queued reads have non-decreasing rounds and indexes; total queued <= capacity.
 */
import { assert } from '../base';
import type { NodeId } from '../base';
import { committedIndex, type IndexSource, type VoterSets } from './quorum';
import type { Index, ReadState } from './types';

interface PendingRead {
  context: number;
  index: Index;
  round: number;
}

export class ReadOnly implements IndexSource {
  private reads: PendingRead[] = [];
  private deferredContexts: number[] = [];
  private readonly ackedRound = new Map<NodeId, number>();
  /** The last round number used (monotonic for the life of the core). */
  lastRound = 0;
  /** The round that new reads join, or 0 when none is open (its heartbeats already went out). */
  openRound = 0;
  private selfId: NodeId = 0;

  constructor(readonly capacity: number) {}

  get size(): number {
    return this.reads.length + this.deferredContexts.length;
  }

  hasPending(): boolean {
    return this.reads.length > 0;
  }

  full(): boolean {
    return this.size >= this.capacity;
  }

  /** A read that must wait until the leader commits an entry of its term. */
  defer(context: number): void {
    assert(!this.full(), 'read-only: queue full');
    this.deferredContexts.push(context);
  }

  takeDeferred(): number[] {
    const out = this.deferredContexts;
    this.deferredContexts = [];
    return out;
  }

  /**
   * Queues a read at `index` in the open round; returns the round number when a new round was opened
   * (the caller broadcasts heartbeats carrying it), else 0.
   */
  add(context: number, index: Index, selfId: NodeId): number {
    assert(this.reads.length < this.capacity, 'read-only: queue full');
    this.selfId = selfId;
    let opened = 0;
    if (this.openRound === 0) {
      this.openRound = ++this.lastRound;
      opened = this.openRound;
    }
    this.reads.push({ context, index, round: this.openRound });
    return opened;
  }

  /** The open round's heartbeats have been handed out; later reads need a new round. */
  closeRound(): void {
    this.openRound = 0;
  }

  /** A heartbeat response from `peer` carrying round `round`. */
  ack(peer: NodeId, round: number): void {
    const prev = this.ackedRound.get(peer) ?? 0;
    if (round > prev) this.ackedRound.set(peer, round);
  }

  indexOf(id: NodeId): number {
    if (id === this.selfId) return this.lastRound;
    return this.ackedRound.get(id) ?? 0;
  }

  /** Moves reads of confirmed rounds to `out`. */
  release(config: VoterSets, out: ReadState[]): void {
    if (this.reads.length === 0) return;
    const confirmed = committedIndex(config, this);
    let n = 0;
    while (n < this.reads.length && (this.reads[n] as PendingRead).round <= confirmed) {
      const r = this.reads[n] as PendingRead;
      out.push({ context: r.context, index: r.index });
      n++;
    }
    if (n > 0) this.reads.splice(0, n);
  }

  /** Every queued read (pending and deferred), e.g. when leadership is lost; clears the queues. */
  drainAll(): number[] {
    const out: number[] = [];
    for (const r of this.reads) out.push(r.context);
    for (const c of this.deferredContexts) out.push(c);
    this.reads = [];
    this.deferredContexts = [];
    this.openRound = 0;
    this.ackedRound.clear();
    return out;
  }
}
