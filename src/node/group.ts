/**
 * One replica group hosted by a node: its Raft core, its state machine, and the host-side bookkeeping
 * around them (proposal and membership waiters, batched reads, snapshot staging, compaction points).
 * The ready loop (ready-loop.ts) is the group's serial runner: only it calls core.ready/advance,
 * sm.apply/installStaged/openSnapshot for this group, so those never overlap.
 */
import type { GroupId, NodeId, TesseraError } from '../base';
import type { CommandResult } from '../codec';
import type { KeyRange, StateMachine } from '../kv';
import type { NodeMetrics } from '../obs';
import type { HardState, RawNode, Role } from '../raft';
import type { CompactionGroup, CompactionPoint } from './compaction';
import { ReadBatcher } from './read-batcher';
import type { LoopGroup, SnapshotStaging } from './ready-loop';
import { Waiters } from './waiters';

export type SnapshotStagingState = SnapshotStaging;
export type { CompactionPoint };

/** A client write waiting for the next batch proposal (NodeHost.flushProposals). */
export interface QueuedProposal {
  data: Uint8Array;
  timeoutMs: number;
  resolve(value: { result: CommandResult; index: number; term: number }): void;
  reject(error: TesseraError): void;
}

/** Metric children bound to this group's labels once, so the per-request path does no label hashing. */
export interface GroupMetrics {
  proposalsOk: { inc(n?: number): void };
  linearizableReadsOk: { inc(n?: number): void };
  staleReadsOk: { inc(n?: number): void };
  commitLatencySeconds: { observe(v: number): void };
  applyLatencySeconds: { observe(v: number): void };
  raftTerm: { set(v: number): void };
  raftCommitIndex: { set(v: number): void };
  raftAppliedIndex: { set(v: number): void };
}

export function bindGroupMetrics(m: NodeMetrics, group: string): GroupMetrics {
  return {
    proposalsOk: m.proposals.labels({ group, outcome: 'ok' }),
    linearizableReadsOk: m.reads.labels({ group, kind: 'linearizable', outcome: 'ok' }),
    staleReadsOk: m.reads.labels({ group, kind: 'stale', outcome: 'ok' }),
    commitLatencySeconds: m.commitLatencySeconds.labels({ group }),
    applyLatencySeconds: m.applyLatencySeconds.labels({ group }),
    raftTerm: m.raftTerm.labels({ group }),
    raftCommitIndex: m.raftCommitIndex.labels({ group }),
    raftAppliedIndex: m.raftAppliedIndex.labels({ group }),
  };
}

export class Group implements LoopGroup, CompactionGroup {
  readonly waiters = new Waiters<CommandResult>();
  readonly memberWaiters = new Waiters<true>();
  readonly reads = new ReadBatcher();
  /** Writes that arrived since the last batch proposal; bounded with the waiters by proposalsMax. */
  proposalQueue: QueuedProposal[] = [];
  leader: NodeId = 0;
  role: Role = 'follower';
  term = 0;
  commit = 0;
  /** The hard state last handed to NodeStore.persist (synced). */
  syncedHardState: HardState = { term: 0, vote: 0, commit: 0 };
  /** A commit-only hard state not yet written; it goes down with the next synced write. */
  deferredHardState: HardState | null = null;
  /** The term in which the election clock was last fast-forwarded after losing the leader's stream. */
  fastForwardTerm = -1;
  /** Peers a snapshot is being streamed to right now. */
  readonly snapshotSends = new Set<NodeId>();
  staging: SnapshotStagingState | null = null;
  /** Recent (index, term, config) points to compact at; ascending by index, bounded. */
  compactionPoints: CompactionPoint[] = [];
  /** First index still in the in-memory log (after the last compaction or snapshot). */
  firstIndex = 1;
  /** Bytes of entries applied, and of those compacted away (compaction.ts: the log's bytes bound). */
  bytesApplied = 0;
  bytesCompacted = 0;
  readonly label: string;
  readonly m: GroupMetrics;

  constructor(
    readonly id: GroupId,
    readonly core: RawNode,
    readonly sm: StateMachine,
    readonly range: KeyRange,
    metrics: NodeMetrics,
  ) {
    this.label = String(id);
    this.m = bindGroupMetrics(metrics, this.label);
  }

  get isLeader(): boolean {
    return this.role === 'leader';
  }

  containsKey(key: Buffer): boolean {
    return this.sm.inRange(key);
  }
}
