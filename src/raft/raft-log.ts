/**
 * The in-memory Raft log: every entry after the last snapshot (durable and not yet durable), the commit
 * and apply positions, and what has been handed to / persisted by the host.
 *
 * Invariants (asserted):
 *   entries[i].index === snapshotIndex + 1 + i, terms never decrease along the log;
 *   snapshotIndex <= applied <= committed <= lastIndex();
 *   persisted <= handed <= lastIndex() (entries above `handed` go into the next Ready);
 *   a committed entry is never truncated.
 */
import { assert } from '../base';
import { APPEND_ENTRIES_MAX } from './limits';
import type { Entry, Index, Snapshot, SnapshotMeta, Term } from './types';

/** term() of an index that is compacted away or beyond the last entry. */
export const TERM_UNAVAILABLE = -1;

/** Bytes of an entry counted against size limits (payload only; config entries count a small constant). */
export function entryBytes(e: Entry): number {
  switch (e.kind) {
    case 'normal':
      return e.data.length;
    case 'config':
      return 64;
    case 'empty':
      return 0;
  }
}

export class RaftLog {
  snapshotIndex: Index;
  snapshotTerm: Term;
  entries: Entry[];
  committed: Index;
  applied: Index;
  /** Entries <= handed were given to the host in a Ready. */
  handed: Index;
  /** Entries <= persisted are durable (the Ready carrying them was advanced). */
  persisted: Index;
  /** A snapshot received from the leader that is not yet durable; handed in the next Ready. */
  pendingSnapshot: Snapshot | null = null;
  pendingSnapshotHanded = false;
  /** The first index the last maybeAppend() truncated (a conflicting suffix), or 0 when it truncated nothing. */
  truncatedFrom: Index = 0;

  constructor(snapshot: SnapshotMeta | null, entries: Entry[], committed: Index, applied: Index) {
    this.snapshotIndex = snapshot ? snapshot.index : 0;
    this.snapshotTerm = snapshot ? snapshot.term : 0;
    this.entries = entries.slice();
    let prev = this.snapshotIndex;
    let prevTerm = this.snapshotTerm;
    for (const e of this.entries) {
      assert(e.index === prev + 1, () => `restore: entry index ${e.index} follows ${prev}`);
      assert(e.term >= prevTerm, () => `restore: entry ${e.index} term ${e.term} below ${prevTerm}`);
      prev = e.index;
      prevTerm = e.term;
    }
    this.applied = Math.max(applied, this.snapshotIndex);
    this.committed = Math.max(committed, this.applied);
    assert(
      this.committed <= this.lastIndex(),
      () => `restore: commit ${this.committed} beyond last index ${this.lastIndex()}`,
    );
    this.handed = this.lastIndex();
    this.persisted = this.lastIndex();
  }

  firstIndex(): Index {
    return this.snapshotIndex + 1;
  }

  lastIndex(): Index {
    return this.snapshotIndex + this.entries.length;
  }

  lastTerm(): Term {
    const n = this.entries.length;
    return n === 0 ? this.snapshotTerm : (this.entries[n - 1] as Entry).term;
  }

  /** The term at `index`, or TERM_UNAVAILABLE when compacted or beyond the last entry. */
  term(index: Index): Term {
    if (index === this.snapshotIndex) return this.snapshotTerm;
    if (index < this.snapshotIndex || index > this.lastIndex()) return TERM_UNAVAILABLE;
    return (this.entries[index - this.snapshotIndex - 1] as Entry).term;
  }

  entryAt(index: Index): Entry {
    assert(
      index > this.snapshotIndex && index <= this.lastIndex(),
      () => `log: no entry ${index} in (${this.snapshotIndex}, ${this.lastIndex()}]`,
    );
    return this.entries[index - this.snapshotIndex - 1] as Entry;
  }

  matchTerm(index: Index, term: Term): boolean {
    return this.term(index) === term;
  }

  /** Raft's election restriction: is (lastIndex, lastTerm) at least as up to date as our log? */
  isUpToDate(lastIndex: Index, lastTerm: Term): boolean {
    const ourTerm = this.lastTerm();
    return lastTerm > ourTerm || (lastTerm === ourTerm && lastIndex >= this.lastIndex());
  }

  /** Entries in [lo, hi) up to `bytesMax` bytes and APPEND_ENTRIES_MAX entries (always at least one when lo < hi). */
  slice(lo: Index, hi: Index, bytesMax: number): Entry[] {
    assert(lo > this.snapshotIndex, () => `log: slice from compacted index ${lo}`);
    assert(hi <= this.lastIndex() + 1, () => `log: slice to ${hi} beyond last ${this.lastIndex()}`);
    if (lo >= hi) return [];
    if (hi - lo > APPEND_ENTRIES_MAX) hi = lo + APPEND_ENTRIES_MAX;
    const base = this.snapshotIndex + 1;
    let end = lo + 1;
    let bytes = entryBytes(this.entries[lo - base] as Entry);
    while (end < hi) {
      bytes += entryBytes(this.entries[end - base] as Entry);
      if (bytes > bytesMax) break;
      end++;
    }
    return this.entries.slice(lo - base, end - base);
  }

  /** Leader append: entries must continue the log. */
  append(entry: Entry): void {
    assert(entry.index === this.lastIndex() + 1, () => `log: append ${entry.index} after ${this.lastIndex()}`);
    assert(entry.term >= this.lastTerm(), 'log: append of a lower term');
    this.entries.push(entry);
  }

  /**
   * Follower append (AppendEntries): when (prevIndex, prevTerm) matches, truncates any conflicting
   * suffix, appends the new entries and returns the index of the last new entry; otherwise returns -1.
   */
  maybeAppend(prevIndex: Index, prevTerm: Term, entries: readonly Entry[]): Index {
    this.truncatedFrom = 0;
    if (!this.matchTerm(prevIndex, prevTerm)) return -1;
    const lastNew = prevIndex + entries.length;
    const n = entries.length;
    let i = 0;
    // Skip entries we already have (same index and term means the same entry by Log Matching).
    while (i < n && this.matchTerm((entries[i] as Entry).index, (entries[i] as Entry).term)) i++;
    if (i < n) {
      const first = entries[i] as Entry;
      assert(first.index === prevIndex + 1 + i, 'log: append entries are not contiguous');
      assert(
        first.index > this.committed,
        () => `log: entry ${first.index} conflicts with committed ${this.committed}`,
      );
      if (first.index <= this.lastIndex()) this.truncatedFrom = first.index;
      this.truncateFrom(first.index);
      for (; i < n; i++) this.entries.push(entries[i] as Entry);
    }
    return lastNew;
  }

  private truncateFrom(index: Index): void {
    const keep = index - this.snapshotIndex - 1;
    if (keep < this.entries.length) this.entries.length = keep;
    if (this.handed >= index) this.handed = index - 1;
    if (this.persisted >= index) this.persisted = index - 1;
  }

  /**
   * For fast back-off: the largest index <= `index` whose term is <= `term`, or the first index whose
   * term we no longer know (compacted), or 0.
   */
  findConflictByTerm(index: Index, term: Term): Index {
    const last = this.lastIndex();
    if (index > last) return index;
    for (; index > 0; index--) {
      const t = this.term(index);
      if (t === TERM_UNAVAILABLE || t <= term) return index;
    }
    return 0;
  }

  commitTo(index: Index): boolean {
    if (index <= this.committed) return false;
    assert(index <= this.lastIndex(), () => `log: commit ${index} beyond last index ${this.lastIndex()}`);
    this.committed = index;
    return true;
  }

  appliedTo(index: Index): void {
    assert(index <= this.committed, () => `log: applied ${index} beyond commit ${this.committed}`);
    if (index > this.applied) this.applied = index;
  }

  /** The next index to hand out as committed (after the applied index and any snapshot). */
  applyFrom(): Index {
    const snap = this.pendingSnapshot;
    const base = snap !== null && snap.meta.index > this.applied ? snap.meta.index : this.applied;
    return base + 1;
  }

  /** Replaces the log with a snapshot from the leader (not yet durable). */
  restore(snapshot: Snapshot): void {
    const meta = snapshot.meta;
    assert(meta.index > this.committed, 'log: restoring a snapshot at or below the commit index');
    this.snapshotIndex = meta.index;
    this.snapshotTerm = meta.term;
    this.entries = [];
    this.committed = meta.index;
    this.handed = meta.index;
    if (this.persisted > meta.index) this.persisted = meta.index;
    this.pendingSnapshot = snapshot;
    this.pendingSnapshotHanded = false;
  }

  /** The host made the Ready durable up to entry (index, term) (ignored if that entry was replaced). */
  stableTo(index: Index, term: Term): void {
    if (this.matchTerm(index, term) && index > this.persisted) this.persisted = index;
  }

  /** The host made the snapshot durable and installed it. */
  stableSnapshot(snapshot: Snapshot): void {
    if (this.pendingSnapshot === snapshot) {
      this.pendingSnapshot = null;
      this.pendingSnapshotHanded = false;
    }
    if (snapshot.meta.index > this.persisted && snapshot.meta.index <= this.snapshotIndex)
      this.persisted = snapshot.meta.index;
    if (snapshot.meta.index > this.applied && snapshot.meta.index <= this.committed) this.applied = snapshot.meta.index;
  }

  /** Drops entries up to and including `index` (<= applied). */
  compact(index: Index): void {
    assert(index <= this.applied, () => `log: compact ${index} beyond applied ${this.applied}`);
    if (index <= this.snapshotIndex) return;
    this.snapshotTerm = this.term(index);
    this.entries.splice(0, index - this.snapshotIndex);
    this.snapshotIndex = index;
  }
}
