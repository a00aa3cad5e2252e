/**
 * A leader's view of one member's replication (etcd-io/raft tracker/progress.go).
 *
 * States: probe (one AppendEntries at a time until the follower's match is found), replicate (pipelined
 * appends in a bounded in-flight window, next optimistically advanced), snapshot (waiting for a snapshot
 * to be installed; no appends). Invariants: match < next; in replicate state next - 1 >= match and the
 * window holds at most `inflights.capacity` messages; in snapshot state pendingSnapshot > 0.
 */
import { assert } from '../base';
import { Inflights } from './inflights';
import type { Index, ProgressStatus } from './types';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  match: Index = 0;
  next: Index;
  state: ProgressState = 'probe';
  /** Snapshot state: the index of the snapshot being sent. */
  pendingSnapshot: Index = 0;
  /** Snapshot state: ticks since the snapshot was queued (fallback timeout for a lost report). */
  snapshotElapsedTicks = 0;
  /** Heard from within the current election timeout (CheckQuorum). */
  recentActive = false;
  /** Probe state: an append is outstanding; no more until a response or heartbeat response. */
  probeSent = false;
  /** The highest commit index sent to this follower (so the leader can tell whether a resend helps). */
  sentCommit: Index = 0;
  isLearner: boolean;
  readonly inflights: Inflights;

  constructor(next: Index, inflightMessagesMax: number, isLearner: boolean, inflightBytesMax = 0) {
    assert(next >= 1, 'progress: next must be >= 1');
    this.next = next;
    this.isLearner = isLearner;
    this.inflights = new Inflights(inflightMessagesMax, inflightBytesMax);
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.snapshotElapsedTicks = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === 'snapshot') {
      const pending = this.pendingSnapshot;
      this.resetState('probe');
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState('probe');
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: Index): void {
    assert(snapshotIndex > 0, 'progress: snapshot index must be > 0');
    this.resetState('snapshot');
    this.pendingSnapshot = snapshotIndex;
  }

  /** An acknowledgement up to `index`: returns true when match advanced. */
  maybeUpdate(index: Index): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    if (this.next < index + 1) this.next = index + 1;
    return updated;
  }

  /**
   * A rejection of the append with prevLogIndex `rejected`; `matchHint` is the follower's best guess of
   * the last index that may match. Returns false for stale rejections (already handled).
   */
  maybeDecrTo(rejected: Index, matchHint: Index): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** Bookkeeping after an append with `count` entries (`bytes` of them) ending at `lastIndex` went out. */
  sentEntries(count: number, lastIndex: Index, bytes = 0): void {
    if (this.state === 'replicate') {
      if (count > 0) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex, bytes);
      }
    } else if (this.state === 'probe') {
      this.probeSent = true;
    }
  }

  /** No further appends until an acknowledgement (or a heartbeat response in probe state). */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }

  /** Would sending `commit` move the follower's commit index forward? */
  canBumpCommit(commit: Index): boolean {
    return commit > this.sentCommit && this.sentCommit < this.next - 1;
  }

  toStatus(): ProgressStatus {
    return {
      match: this.match,
      next: this.next,
      state: this.state,
      inflight: this.inflights.count,
      recentActive: this.recentActive,
    };
  }
}
