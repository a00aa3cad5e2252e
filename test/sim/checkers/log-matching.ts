/**
 * Log matching on committed prefixes. The checker keeps the canonical term of every committed index
 * (first node to commit an index, or to hold a snapshot at it, defines it). At every fsync of a node:
 *  - every durable entry at or below the node's durable commit index has the canonical term;
 *  - entries that become committed on this node are defined (or checked) against the canonical log;
 *  - a snapshot's (index, term) agrees with the canonical log;
 *  - the durable commit index never exceeds the durable log.
 * Entries written above commit are not constrained (they may still be overwritten).
 * The canonical log may have holes: a host that defers commit-only hard states (group commit, as NodeHost)
 * can compact past its durable commit, so the entries between are known committed only through the
 * snapshot (at an applied index); another node's fsync, or nobody's, defines them.
 */
import type { SimDisk, WriteBatch } from '../disk';
import { SimFailure } from '../sim-failure';

export class LogMatchingChecker {
  /** The term of the committed entry at each index known so far. */
  private readonly committedTerm = new Map<number, number>();
  private readonly checkedUpTo = new Map<number, number>();

  onSynced(nodeId: number, disk: SimDisk, batches: WriteBatch[]): void {
    const commit = disk.hardState().commit;
    for (const b of batches) {
      if (b.snapshot) this.checkIndex(nodeId, b.snapshot.meta.index, b.snapshot.meta.term, 'snapshot');
      for (const e of b.entries) {
        const committed = this.committedTerm.get(e.index);
        if (e.index <= commit && committed !== undefined && committed !== e.term) {
          throw new SimFailure(
            'log-matching',
            `node ${nodeId} wrote entry ${e.index} with term ${e.term} at or below its commit ${commit}, committed term is ${committed}`,
          );
        }
      }
    }
    const from = Math.max(this.checkedUpTo.get(nodeId) ?? 0, disk.snapshotIndex());
    if (commit > disk.lastIndex()) {
      throw new SimFailure(
        'log-matching',
        `node ${nodeId} durable commit ${commit} beyond its durable last index ${disk.lastIndex()}`,
      );
    }
    for (let i = from + 1; i <= commit; i++) {
      const term = disk.termAt(i);
      if (term === undefined)
        throw new SimFailure('log-matching', `node ${nodeId} committed index ${i} is missing from its durable log`);
      this.checkIndex(nodeId, i, term, 'entry');
    }
    if (commit > (this.checkedUpTo.get(nodeId) ?? 0)) this.checkedUpTo.set(nodeId, commit);
  }

  /** After a restart the node's durable commit may be lower than what was checked in memory. */
  onRestart(nodeId: number, durableCommit: number): void {
    this.checkedUpTo.set(nodeId, Math.min(this.checkedUpTo.get(nodeId) ?? 0, durableCommit));
  }

  private checkIndex(nodeId: number, index: number, term: number, what: string): void {
    if (index === 0) return;
    const committed = this.committedTerm.get(index);
    if (committed === undefined) {
      this.committedTerm.set(index, term);
      return;
    }
    if (committed !== term) {
      throw new SimFailure(
        'log-matching',
        `node ${nodeId} has committed ${what} ${index} with term ${term}, but the committed entry there has term ${committed}`,
      );
    }
  }
}
