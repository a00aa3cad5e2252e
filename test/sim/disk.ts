/**
 * A simulated disk for one node that separates written from synced. write() queues a batch (hard state,
 * entries, snapshot) that is NOT durable; sync() makes every queued batch durable in order; crash() loses
 * the unsynced batches (or, in 'prefix' mode, keeps a random prefix of them, like a write-ahead log whose
 * tail was not flushed). Batches are atomic. saveSnapshot() is the host's own synced checkpoint, which
 * also truncates the log (compaction).
 * Invariants: durable entries are contiguous from snapshotIndex + 1; an entries write starts at most one
 * past the durable last index (a gap is a core bug and throws SimFailure).
 */
import type { Random } from '../../src/base';
import type { ConfigState, Entry, HardState, RestoreState, Snapshot } from '../../src/raft';
import { SimFailure } from './sim-failure';

export interface WriteBatch {
  hardState: HardState | null;
  entries: Entry[];
  snapshot: Snapshot | null;
}

export type CrashLossMode = 'all' | 'prefix';

export class SimDisk {
  private hardStateDurable: HardState = { term: 0, vote: 0, commit: 0 };
  private snapshotDurable: Snapshot | null = null;
  /** entriesDurable[k].index === snapshotIndex() + 1 + k */
  private entriesDurable: Entry[] = [];
  private readonly pending: WriteBatch[] = [];
  syncCount = 0;

  constructor(readonly nodeId: number) {}

  write(batch: WriteBatch): void {
    this.pending.push(batch);
  }

  get pendingBatches(): number {
    return this.pending.length;
  }

  /** Makes all written batches durable; returns them in order (for the checkers). */
  sync(): WriteBatch[] {
    const done = this.pending.splice(0, this.pending.length);
    for (const b of done) this.applyBatch(b);
    if (done.length > 0) this.syncCount++;
    return done;
  }

  /**
   * Power loss: unsynced batches are lost (all, or all but a random prefix). Returns how many were lost
   * and the batches that survived: those are durable now, exactly as if synced, so the host must hand
   * them to the checkers like a sync (a commit index that became durable only here was otherwise never
   * checked, and a later compaction hid it for good: seed 20066952).
   */
  crash(random: Random, mode: CrashLossMode): { lost: number; kept: WriteBatch[] } {
    const keep = mode === 'prefix' && this.pending.length > 0 ? random.int(0, this.pending.length) : 0;
    const kept = this.pending.splice(0, keep);
    const lost = this.pending.length;
    this.pending.length = 0;
    for (const b of kept) this.applyBatch(b);
    return { lost, kept };
  }

  /** The host's compaction checkpoint: durable at once; drops log entries up to snapshot.meta.index. */
  saveSnapshot(snapshot: Snapshot): void {
    if (this.pending.length > 0) throw new SimFailure('host', `node ${this.nodeId}: compaction with unsynced writes`);
    this.installSnapshot(snapshot);
  }

  /**
   * A replica destroyed (node/replica-destroy.ts): its log, snapshot and commit go in one durable write; the
   * tombstone keeps term and vote, so the node never votes twice in a term if the group adds it again.
   */
  destroy(): void {
    if (this.pending.length > 0) throw new SimFailure('host', `node ${this.nodeId}: destroy with unsynced writes`);
    this.hardStateDurable = { term: this.hardStateDurable.term, vote: this.hardStateDurable.vote, commit: 0 };
    this.snapshotDurable = null;
    this.entriesDurable = [];
  }

  hardState(): HardState {
    return this.hardStateDurable;
  }

  snapshot(): Snapshot | null {
    return this.snapshotDurable;
  }

  snapshotIndex(): number {
    return this.snapshotDurable?.meta.index ?? 0;
  }

  lastIndex(): number {
    return this.snapshotIndex() + this.entriesDurable.length;
  }

  /** The term at a durable index, or undefined when it is neither in the log nor the snapshot point. */
  termAt(index: number): number | undefined {
    const s = this.snapshotIndex();
    if (index === s) return this.snapshotDurable?.meta.term ?? 0;
    if (index < s || index > this.lastIndex()) return undefined;
    return this.entriesDurable[index - s - 1]?.term;
  }

  entryAt(index: number): Entry | undefined {
    const s = this.snapshotIndex();
    if (index <= s || index > this.lastIndex()) return undefined;
    return this.entriesDurable[index - s - 1];
  }

  /** What survived, for rebuilding the core after a restart (the state machine restarts from the snapshot). */
  restoreState(initialConfig: ConfigState): RestoreState {
    return {
      hardState: { ...this.hardStateDurable },
      snapshot: this.snapshotDurable ? this.snapshotDurable.meta : null,
      entries: [...this.entriesDurable],
      initialConfig,
      applied: this.snapshotIndex(),
    };
  }

  private applyBatch(b: WriteBatch): void {
    if (b.snapshot) this.installSnapshot(b.snapshot);
    if (b.entries.length > 0) {
      const first = b.entries[0]!.index;
      const s = this.snapshotIndex();
      if (first <= s) {
        throw new SimFailure('host', `node ${this.nodeId}: entries write from ${first} at or below snapshot ${s}`);
      }
      if (first > this.lastIndex() + 1) {
        throw new SimFailure(
          'host',
          `node ${this.nodeId}: entries write from ${first} leaves a gap after ${this.lastIndex()}`,
        );
      }
      for (let k = 1; k < b.entries.length; k++) {
        if (b.entries[k]!.index !== first + k)
          throw new SimFailure('host', `node ${this.nodeId}: non-contiguous entries write`);
      }
      this.entriesDurable.length = first - s - 1;
      for (const e of b.entries) this.entriesDurable.push(e);
    }
    if (b.hardState) this.hardStateDurable = { ...b.hardState };
  }

  private installSnapshot(snapshot: Snapshot): void {
    const { index, term } = snapshot.meta;
    if (index <= this.snapshotIndex()) return;
    const keepSuffix = this.termAt(index) === term;
    const s = this.snapshotIndex();
    this.entriesDurable = keepSuffix ? this.entriesDurable.slice(index - s) : [];
    this.snapshotDurable = snapshot;
  }
}
