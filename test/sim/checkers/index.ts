/**
 * The checker suite: every independent checker, fed by the cluster after every event (role change,
 * message sent, fsync, apply, snapshot install, restart, client acknowledgement). It also tracks the
 * cluster-wide commit index (the highest commit any core has reported), used for read windows.
 * One suite per group (splits: split-cluster.ts); the op registry (which group and index each operation
 * took effect at) is shared by the suites of a seed, so an operation applied in two groups is caught.
 */
import type { Entry, Message } from '../../../src/raft';
import type { SimCommand, SimResult } from '../command-codec';
import type { SimDisk, WriteBatch } from '../disk';
import type { KvState } from '../kv-model';
import { ApplyAgreementChecker } from './apply-agreement';
import { CanonicalModel, type OpRegistry } from './canonical-model';
import { DurabilityChecker } from './durability';
import { ElectionSafetyChecker } from './election-safety';
import { LinearizabilityChecker } from './linearizability';
import { LogMatchingChecker } from './log-matching';
import { SimFailure } from '../sim-failure';

export { CanonicalModel } from './canonical-model';
export type { OpRegistry } from './canonical-model';
export { entryIdentity } from './apply-agreement';

export class CheckerSuite {
  readonly model: CanonicalModel;
  readonly election = new ElectionSafetyChecker();
  readonly durability = new DurabilityChecker();
  readonly logMatching = new LogMatchingChecker();
  readonly applyAgreement: ApplyAgreementChecker;
  readonly linearizability: LinearizabilityChecker;
  /** Highest commit index any core has reported. */
  globalCommit = 0;

  /**
   * checkAckOrder: also check that votes and append acks leave only after they are durable. Turned off
   * only to show that the end-to-end checkers alone catch a core that acks before persisting.
   */
  constructor(
    private readonly checkAckOrder = true,
    readonly registry: OpRegistry = new Map(),
    readonly group = 1,
    initial: KvState | null = null,
  ) {
    this.model = new CanonicalModel(registry, group, initial);
    this.applyAgreement = new ApplyAgreementChecker(this.model);
    this.linearizability = new LinearizabilityChecker(this.model);
    if (initial !== null) this.globalCommit = initial.applied;
  }

  /**
   * A node applied a write at `index` (after onApply): it took effect there (`fresh`) exactly when the
   * canonical history says the operation took effect at this group and index; else it was applied twice
   * (a second effect: in another group, or again) or skipped.
   */
  onNodeEffect(nodeId: number, opId: number, index: number, fresh: boolean): void {
    const e = this.registry.get(opId);
    const here = e !== undefined && e.group === this.group && e.index === index;
    if (fresh === here) return;
    const where = e
      ? `group ${e.group} index ${e.index}`
      : 'no index (the canonical history refused or skipped it there)';
    throw new SimFailure(
      'applied-twice',
      fresh
        ? `node ${nodeId} applied op #${opId} at group ${this.group} index ${index}, but it took effect at ${where}`
        : `node ${nodeId} did not apply op #${opId} at group ${this.group} index ${index}, where it took effect`,
    );
  }

  onCommitSeen(commit: number): void {
    if (commit > this.globalCommit) this.globalCommit = commit;
  }

  onLeader(nodeId: number, term: number): void {
    this.election.onLeader(nodeId, term);
  }

  onSend(message: Message, disk: SimDisk): void {
    if (message.type === 'voteResp' && !message.reject)
      this.election.onVoteGranted(message.from, message.to, message.term);
    // Only a leader sends these: its term is on the wire (the host may observe the role change later).
    if (message.type === 'append' || message.type === 'heartbeat' || message.type === 'snapshot')
      this.election.onLeader(message.from, message.term);
    if (this.checkAckOrder) this.durability.onSend(message, disk);
  }

  onSynced(nodeId: number, disk: SimDisk, batches: WriteBatch[]): void {
    this.durability.onSynced(nodeId, disk);
    this.logMatching.onSynced(nodeId, disk, batches);
  }

  onDestroyed(nodeId: number, disk: SimDisk): void {
    this.durability.onDestroyed(nodeId, disk);
  }

  onRestart(nodeId: number, disk: SimDisk): void {
    this.durability.onRecovered(nodeId, disk);
    this.logMatching.onRestart(nodeId, disk.hardState().commit);
  }

  onApply(nodeId: number, entry: Entry, command: SimCommand | null, commit: number): void {
    this.applyAgreement.onApply(nodeId, entry, command, commit);
  }

  onSnapshotInstalled(nodeId: number, index: number, state: KvState): void {
    this.applyAgreement.onSnapshotInstalled(nodeId, index, state);
  }

  onWriteAck(
    opId: number,
    kind: 'put' | 'cas',
    key: string,
    expected: string | null,
    result: SimResult,
    c0: number,
  ): void {
    this.linearizability.onWriteAck(opId, kind, key, expected, result, c0, this.globalCommit);
  }

  onReadAck(opId: number, key: string, value: string | null, c0: number): void {
    this.linearizability.onReadAck(opId, key, value, c0, this.globalCommit);
  }
}
