/**
 * Stale replicas (garbage collection, like TiKV's PD-driven peer GC): a replica that was removed from its
 * group but never applied its removal (it was cut off when the removal committed, so its leader's farewell
 * never reached it; node/farewells.ts) stays on its node, thinks it is still a member, and holds its old
 * range. It campaigns in vain and, worse, blocks rule 2 on its node (kv/split-apply.ts): a snapshot of any
 * shard overlapping that range is refused there, so a replica moved to that node never catches up.
 *
 * Rule (pure; findStaleReplicas): node N's replica of group G is stale when the report of G's leader (the
 * highest term among the reports that lead G) lists a configuration without N. The driver then asks N to
 * destroy it, with `appliedMax` = the leader's applied index. N destroys only if its own replica applied at
 * most appliedMax and does not lead (NodeHost.destroyStaleReplica). Why that is safe: the leader's
 * configuration is the one of its applied index A; any later re-addition of N is a configuration entry
 * after A, and a replica of N that holds it (a legitimate member again) has applied more than A, so it is
 * never destroyed by this rule. A replica that applied at most A has not applied its re-addition: whatever
 * it holds, it counts in no quorum of any configuration from A on; destroying it is what applying its
 * removal would have done, and if it is added again it starts empty and gets a snapshot.
 */
import type { NodeId, ShardId } from '../base';
import type { NodeReport, ReportedGroup } from './wire';

export interface StaleReplica {
  readonly node: NodeId;
  readonly shard: ShardId;
  /** The leader's applied index: destroy only a replica that applied at most this. */
  readonly appliedMax: number;
}

/** The stale replicas the reports show (see the header), in a stable order (shard, then node). */
export function findStaleReplicas(reports: ReadonlyMap<NodeId, NodeReport>): StaleReplica[] {
  const leaders = new Map<number, ReportedGroup>();
  for (const r of reports.values())
    for (const g of r.groups) {
      if (!g.isLeader || (g.applied ?? 0) === 0) continue;
      const known = leaders.get(g.id);
      if (known === undefined || g.term > known.term) leaders.set(g.id, g);
    }
  const out: StaleReplica[] = [];
  for (const [node, r] of reports)
    for (const g of r.groups) {
      const leader = leaders.get(g.id);
      if (leader === undefined || g.isLeader || g.term > leader.term) continue;
      if (leader.members.some((m) => m.node === node)) continue;
      out.push({ node, shard: g.id, appliedMax: leader.applied ?? 0 });
    }
  return out.sort((a, b) => a.shard - b.shard || a.node - b.node);
}
