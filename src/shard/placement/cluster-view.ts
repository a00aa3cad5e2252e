/**
 * The planner's reading of a snapshot: each node's liveness and, per shard, each replica's health.
 *
 * Liveness (what the planner does with a node):
 * - `live`: state up and heard from within deadNodeTimeoutMs. Holds replicas; receives new ones.
 * - `suspect`: state down, or silent for longer than suspectAfterMs, but not yet dead. Nothing is done
 *   about it (no replacement, no new replica): a restart or a short partition must not cost a
 *   re-replication.
 * - `draining`: alive, receives nothing, and loses every replica and leadership.
 * - `dead`: silent for longer than deadNodeTimeoutMs (whatever its state): its replicas are re-created.
 * - `removed`: removed from the registry, or unknown to it: like dead.
 * A replica is `reachable` on a live or draining node and `upToDate` when it is reachable and its match
 * index is within caughtUpLagEntriesMax of the leader's commit index. A voter is `healthy` (counts toward
 * the replica count) on a live or suspect node.
 */
import { NO_NODE } from '../../base';
import type { NodeId } from '../../base';
import type { ReplicaRole, ShardDescriptor } from '../descriptor';
import type { ClusterSnapshot, NodeInfo, PlacementAction, PlacementConfig, ShardStatus } from './types';

export type Liveness = 'live' | 'suspect' | 'draining' | 'dead' | 'removed';

export function livenessOf(
  node: NodeInfo | undefined,
  nowMs: number,
  timeouts: { readonly deadNodeTimeoutMs: number; readonly suspectAfterMs: number },
): Liveness {
  if (node === undefined || node.state === 'removed') return 'removed';
  const silentMs = nowMs - node.lastHeartbeatMs;
  if (silentMs > timeouts.deadNodeTimeoutMs) return 'dead';
  if (node.state === 'down' || silentMs > timeouts.suspectAfterMs) return 'suspect';
  return node.state === 'draining' ? 'draining' : 'live';
}

export interface ReplicaView {
  readonly node: NodeId;
  readonly role: ReplicaRole;
  readonly liveness: Liveness;
  readonly reachable: boolean;
  readonly upToDate: boolean;
  /** A learner still catching up that the driver reports stalled (ShardStatus.stalledLearners). */
  readonly stalled: boolean;
}

export interface ShardView {
  readonly d: ShardDescriptor;
  /** A reachable voter reported as leader, else NO_NODE. */
  readonly leader: NodeId;
  readonly replicas: readonly ReplicaView[];
  readonly inFlight: readonly PlacementAction[];
  /** ShardStatus.avoidTargets. */
  readonly avoid: readonly NodeId[];
}

export interface ClusterView {
  readonly config: PlacementConfig;
  readonly liveness: ReadonlyMap<NodeId, Liveness>;
  /** Live nodes (the only targets), ascending id. */
  readonly liveNodes: readonly NodeId[];
  /** Ascending shard id. */
  readonly shards: readonly ShardView[];
}

export const majority = (n: number): number => Math.floor(n / 2) + 1;
export const isHealthyVoter = (r: ReplicaView): boolean =>
  r.role === 'voter' && (r.liveness === 'live' || r.liveness === 'suspect');

function shardView(d: ShardDescriptor, status: ShardStatus | undefined, view: Omit<ClusterView, 'shards'>): ShardView {
  const lag = view.config.caughtUpLagEntriesMax;
  const replicas = d.replicas.map((r): ReplicaView => {
    const liveness = view.liveness.get(r.node) ?? 'removed';
    const reachable = liveness === 'live' || liveness === 'draining';
    const match = status?.match.get(r.node) ?? 0;
    // A replica that acknowledged nothing yet (a learner just added) is never up to date, however small the
    // shard's log: on a young shard (commit <= lag) it was promoted before it held anything.
    const upToDate =
      reachable && status !== undefined && match >= status.commitIndex - lag && (match > 0 || status.commitIndex === 0);
    const stalled = r.role === 'learner' && !upToDate && (status?.stalledLearners?.includes(r.node) ?? false);
    return { node: r.node, role: r.role, liveness, reachable, upToDate, stalled };
  });
  const reported = status?.leader ?? NO_NODE;
  const leaderOk = replicas.some((r) => r.node === reported && r.role === 'voter' && r.reachable);
  return {
    d,
    leader: leaderOk ? reported : NO_NODE,
    replicas,
    inFlight: status?.inFlight ?? [],
    avoid: status?.avoidTargets ?? [],
  };
}

export function readCluster(snapshot: ClusterSnapshot, config: PlacementConfig): ClusterView {
  const liveness = new Map<NodeId, Liveness>();
  for (const n of snapshot.nodes) liveness.set(n.id, livenessOf(n, snapshot.nowMs, config));
  const liveNodes = [...liveness]
    .filter(([, l]) => l === 'live')
    .map(([id]) => id)
    .sort((a, b) => a - b);
  const status = new Map(snapshot.status.map((s) => [s.shard as number, s]));
  const base = { config, liveness, liveNodes };
  const shards = [...snapshot.shards].sort((a, b) => a.id - b.id).map((d) => shardView(d, status.get(d.id), base));
  return { ...base, shards };
}

/** Replicas (voters and learners) per node, over all shards. */
export function replicaCounts(view: ClusterView): Map<NodeId, number> {
  const counts = new Map<NodeId, number>();
  for (const s of view.shards) for (const r of s.replicas) counts.set(r.node, (counts.get(r.node) ?? 0) + 1);
  return counts;
}

/** Leaders per node, over shards with a known leader. */
export function leaderCounts(view: ClusterView, ignored: ReadonlySet<number> = new Set()): Map<NodeId, number> {
  const counts = new Map<NodeId, number>();
  for (const s of view.shards)
    if (s.leader !== NO_NODE && !ignored.has(s.d.id)) counts.set(s.leader, (counts.get(s.leader) ?? 0) + 1);
  return counts;
}
