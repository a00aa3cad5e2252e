/**
 * One replica group hosted by a node: its Raft core, its state machine, and the host-side bookkeeping
 * around them (proposal and membership waiters, batched reads, snapshot staging, compaction points).
 * The ready loop (ready-loop.ts) is the group's serial runner: only it calls core.ready/advance,
 * sm.apply/installStaged/openSnapshot for this group, so those never overlap.
 */
import { assert, type GroupId, type NodeId, type TesseraError } from '../base';
import type { GroupStateMachine } from '../group';
import type { KeyRange, StateMachine } from '../kv';
import type { MetaStateMachine } from '../meta';
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
  /** `result`: a CommandResult in a KV group, a MetaResult in the meta group. */
  resolve(value: { result: unknown; index: number; term: number }): void;
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

/** What a group replicates: a shard of user data (src/kv) or the meta shard (src/meta). */
export type HostedMachine = { kind: 'kv'; sm: StateMachine } | { kind: 'meta'; sm: MetaStateMachine };

export class Group implements LoopGroup, CompactionGroup {
  /** Results by log index: CommandResult in a KV group, MetaResult in the meta group. */
  readonly waiters = new Waiters<unknown>();
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
  /**
   * A replica reopened from its tombstone (tombstones.ts, "fence"): the index of the removal that destroyed
   * it. Until a snapshot past it arrives, the replica grants no vote and takes no snapshot at or below it.
   * 0: no fence.
   */
  fenceIndex = 0;
  /** Bytes of entries applied, and of those compacted away (compaction.ts: the log's bytes bound). */
  bytesApplied = 0;
  bytesCompacted = 0;
  readonly label: string;
  readonly m: GroupMetrics;

  /** The state machine as the host's generic paths see it (ready loop, snapshots, compaction, digest). */
  readonly sm: GroupStateMachine<unknown>;
  /** The KV state machine, or null in the meta group (the key-routed paths only run KV groups). */
  readonly kv: StateMachine | null;
  readonly meta: MetaStateMachine | null;

  constructor(
    readonly id: GroupId,
    readonly core: RawNode,
    machine: HostedMachine,
    readonly range: KeyRange,
    metrics: NodeMetrics,
  ) {
    this.sm = machine.sm;
    this.kv = machine.kind === 'kv' ? machine.sm : null;
    this.meta = machine.kind === 'meta' ? machine.sm : null;
    this.label = String(id);
    this.m = bindGroupMetrics(metrics, this.label);
  }

  /** The KV state machine; an InvariantError in the meta group (a key-routed path reached it). */
  get kvSm(): StateMachine {
    assert(this.kv !== null, () => `group ${this.id} is not a KV group`);
    return this.kv;
  }

  get isLeader(): boolean {
    return this.role === 'leader';
  }

  containsKey(key: Buffer): boolean {
    return this.kv !== null && this.kv.inRange(key);
  }
}
