/**
 * What the placement driver and the CLI read from the meta state: the planner's ClusterSnapshot (the
 * registry with each node's last heartbeat from the leader's LivenessTable, every descriptor, the leaders'
 * reports) and one line per node for `tessera node list`. Pure functions of their inputs.
 *
 * The meta group is a shard for placement like any other (its replicas must be repaired and balanced too):
 * includeMeta puts its descriptor among the snapshot's shards. The planner reads only ids, replicas and
 * epochs, never ranges, so the meta descriptor's range (its own keyspace) does not matter to it.
 */
import type { NodeId } from '../base';
import { readClusterView, validatePlacementInput } from '../shard';
import type { ClusterSnapshot, ClusterView, PlacementConfig, ShardDescriptor, ShardMap, ShardStatus } from '../shard';
import type { LivenessTable } from './liveness';
import type { NodeRecord, NodeState } from './types';

/** The reads these functions need (MetaStateMachine has them). */
export interface MetaReads {
  readonly shardMap: ShardMap | null;
  readonly metaDescriptor: ShardDescriptor | null;
  nodes(): NodeRecord[];
}

export function allDescriptors(meta: MetaReads, includeMeta: boolean): ShardDescriptor[] {
  const shards = [...(meta.shardMap?.descriptors() ?? [])];
  if (includeMeta && meta.metaDescriptor !== null) shards.push(meta.metaDescriptor);
  return shards;
}

/** The planner's input at `nowMs` (the liveness table's clock). `status`: leaders' reports of known shards. */
export function clusterSnapshot(
  meta: MetaReads,
  liveness: LivenessTable,
  nowMs: number,
  status: readonly ShardStatus[],
  opts: { includeMeta?: boolean } = {},
): ClusterSnapshot {
  const shards = allDescriptors(meta, opts.includeMeta ?? true);
  const known = new Set<number>(shards.map((d) => d.id));
  return {
    nowMs,
    nodes: meta.nodes().map((n) => ({ id: n.id, state: n.state, lastHeartbeatMs: liveness.of(n.id).lastHeartbeatMs })),
    shards,
    status: status.filter((s) => known.has(s.shard)),
  };
}

/** The planner's reading of clusterSnapshot (liveness per node, health per replica); validated first. */
export function clusterView(
  meta: MetaReads,
  liveness: LivenessTable,
  nowMs: number,
  status: readonly ShardStatus[],
  config: PlacementConfig,
): ClusterView {
  const snapshot = clusterSnapshot(meta, liveness, nowMs, status);
  validatePlacementInput(snapshot, config);
  return readClusterView(snapshot, config);
}

export interface NodeSummary {
  readonly id: NodeId;
  readonly address: string;
  readonly state: NodeState;
  /** Replicas the descriptors place on the node (the meta group's included). */
  readonly replicas: number;
  /** Leaders the node reported in its last heartbeat to this meta leader (0 if none yet). */
  readonly leaders: number;
  readonly lastHeartbeatMs: number;
  readonly heard: boolean;
}

/** One entry per registered node, ascending id (`tessera node list`). */
export function nodeSummaries(meta: MetaReads, liveness: LivenessTable): NodeSummary[] {
  const counts = new Map<NodeId, number>();
  for (const d of allDescriptors(meta, true))
    for (const r of d.replicas) counts.set(r.node, (counts.get(r.node) ?? 0) + 1);
  return meta.nodes().map((n) => {
    const l = liveness.of(n.id);
    return {
      id: n.id,
      address: n.address,
      state: n.state,
      replicas: counts.get(n.id) ?? 0,
      leaders: l.report?.leaders ?? 0,
      lastHeartbeatMs: l.lastHeartbeatMs,
      heard: l.heard,
    };
  });
}
