/**
 * The placement planner's input (a cluster snapshot) and output (actions). See plan.ts for the rules.
 * Everything is plain data: the driver (src/placement, later) builds the snapshot from the meta shard's
 * descriptors, node registry and heartbeats, and the leaders' progress reports.
 */
import type { Epoch, NodeId, ShardId } from '../../base';
import type { ShardDescriptor } from '../descriptor';

/** The node registry's state. Liveness also depends on the last heartbeat (see liveness.ts). */
export type NodeState = 'up' | 'down' | 'draining' | 'removed';

export interface NodeInfo {
  readonly id: NodeId;
  readonly state: NodeState;
  /** On the same clock as ClusterSnapshot.nowMs (the meta leader's). */
  readonly lastHeartbeatMs: number;
}

/** What the shard's leader reports: its commit index and each replica's match index. */
export interface ShardStatus {
  readonly shard: ShardId;
  /** NO_NODE (0) when unknown. */
  readonly leader: NodeId;
  readonly commitIndex: number;
  /** node -> match index as the leader sees it (missing: 0). */
  readonly match: ReadonlyMap<NodeId, number>;
  /** Actions the driver issued for this shard and has not yet seen done or failed. */
  readonly inFlight: readonly PlacementAction[];
  /**
   * Learners the driver has seen catching up for longer than its stall limit (a snapshot that never lands):
   * removed, so the shard is repaired elsewhere instead of waiting for good.
   */
  readonly stalledLearners?: readonly NodeId[];
  /** Nodes where a learner of this shard stalled lately: no new replica of it goes there while others can. */
  readonly avoidTargets?: readonly NodeId[];
}

export interface PlacementConfig {
  /** --replicas: voters per shard. */
  readonly replicas: number;
  /** --dead-node-timeout-ms: a node silent for longer is dead and its replicas are re-created elsewhere. */
  readonly deadNodeTimeoutMs: number;
  /**
   * A node silent for longer (but not dead) is treated as down whatever its registry state says: no new
   * replica goes there and it counts as unreachable for quorum checks. At most deadNodeTimeoutMs.
   */
  readonly suspectAfterMs: number;
  /** A replica whose match index is at most this far behind the commit index is up to date. */
  readonly caughtUpLagEntriesMax: number;
  /** Actions per shard in flight at once (K); membership changes are always one at a time per shard. */
  readonly shardActionsInFlightMax: number;
  /** Actions in one plan, all kinds together. */
  readonly planActionsMax: number;
  /** Rebalancing moves started in one plan (moves in progress also count against it). */
  readonly rebalanceMovesMax: number;
  /**
   * Shards whose leadership is left out of leader balancing: not counted, not moved for balance (a drain
   * still moves it). The driver names the meta group: its leader runs the driver and stays where elected.
   */
  readonly leaderBalanceIgnores?: readonly number[];
}

export const defaultPlacementConfig: PlacementConfig = Object.freeze({
  replicas: 3,
  deadNodeTimeoutMs: 5 * 60 * 1000,
  suspectAfterMs: 10_000,
  caughtUpLagEntriesMax: 64,
  shardActionsInFlightMax: 1,
  planActionsMax: 64,
  rebalanceMovesMax: 4,
});

export interface ClusterSnapshot {
  readonly nowMs: number;
  readonly nodes: readonly NodeInfo[];
  readonly shards: readonly ShardDescriptor[];
  /** Per shard; a shard without status has no known leader (nothing is done to its membership). */
  readonly status: readonly ShardStatus[];
}

/** Why an action is planned: a metric label. */
export type ActionCause =
  | 'under-replicated'
  | 'dead-node'
  | 'removed-node'
  | 'drain'
  | 'caught-up'
  | 'over-replicated'
  | 'rebalance-replicas'
  | 'rebalance-leaders'
  | 'leader-off-removed-replica'
  | 'stalled-learner';

interface ActionBase {
  readonly shard: ShardId;
  /** The descriptor epoch the action was planned against (the driver makes it conditional on it). */
  readonly epoch: Epoch;
  readonly cause: ActionCause;
  /** For people: logs and the CLI. */
  readonly reason: string;
}

export type PlacementAction =
  | (ActionBase & { readonly kind: 'addLearner'; readonly node: NodeId })
  | (ActionBase & { readonly kind: 'promoteLearner'; readonly node: NodeId })
  | (ActionBase & { readonly kind: 'removeReplica'; readonly node: NodeId })
  | (ActionBase & { readonly kind: 'transferLeader'; readonly from: NodeId; readonly to: NodeId });

/** A shard that needs something the planner cannot do now (for status and alerts). */
export interface Blocked {
  readonly shard: ShardId;
  readonly reason: string;
}

export interface PlacementPlan {
  readonly actions: readonly PlacementAction[];
  readonly blocked: readonly Blocked[];
}
