/**
 * Repair of one shard: the next membership step (at most one) that brings it to `replicas` healthy voters
 * on distinct live nodes, or the reason it cannot move now.
 *
 * Steps, in order, each only when the previous ones have nothing to do:
 * 1. a learner on a draining, dead or removed node is removed (learners hold no quorum);
 * 2. a learner the driver reports stalled (catching up for too long) is removed; a learner on a live node
 *    that is caught up is promoted; one still catching up is waited for;
 * 3. with more voters than `replicas`, the first removable voter in this order is removed: on a removed,
 *    dead, draining or suspect node, then lagging, then on the node with the most replicas (ties: lower
 *    id). If it is the leader, leadership is transferred first (or, with no voter to take it, the next
 *    candidate is removed instead);
 * 4. with fewer healthy voters than `replicas`, a learner is added on the live node with the fewest
 *    replicas (ties: lower id) that holds none of this shard, not on a node where a learner of the shard
 *    stalled lately (ShardStatus.avoidTargets) unless no other node can take it.
 * Safety (checked on every step): the current voters have a reachable quorum (else the shard is blocked:
 * no change can commit, and an unsafe recovery is an operator's decision); a removal never leaves fewer
 * than `replicas` voters, never removes an up-to-date voter unless `replicas` others stay up to date, and
 * never leaves the new configuration without a reachable quorum. So a dead voter stays until its
 * replacement is a voter, and a move is add learner -> catch up -> promote -> remove.
 */
import type { NodeId } from '../../base';
import { describeShard } from '../descriptor';
import { isHealthyVoter, majority } from './cluster-view';
import type { ClusterView, ReplicaView, ShardView } from './cluster-view';
import type { ActionCause, PlacementAction } from './types';

export type Repair =
  | { readonly kind: 'act'; readonly action: PlacementAction }
  | { readonly kind: 'blocked'; readonly reason: string }
  /** A step is under way (a learner catching up, a change in flight). */
  | { readonly kind: 'waiting' }
  /** `replicas` healthy voters, no learner: free for rebalancing. */
  | { readonly kind: 'steady' };

const causeOf: Partial<Record<string, ActionCause>> = {
  removed: 'removed-node',
  dead: 'dead-node',
  draining: 'drain',
};

/** An action without its shard and epoch (a distributive Omit, so each kind keeps its own fields). */
type Step = PlacementAction extends infer A ? (A extends PlacementAction ? Omit<A, 'shard' | 'epoch'> : never) : never;

function act(s: ShardView, step: Step): Repair {
  return { kind: 'act', action: { ...step, shard: s.d.id, epoch: s.d.epoch } };
}

const removalRank = (r: ReplicaView): number =>
  ({ removed: 0, dead: 1, draining: 2, suspect: 3, live: r.upToDate ? 5 : 4 })[r.liveness];

/** Voters in the order a removal would take them (counts: replicas per node, for the tie-break). */
export function removalOrder(s: ShardView, counts: ReadonlyMap<NodeId, number>): ReplicaView[] {
  return s.replicas
    .filter((r) => r.role === 'voter')
    .sort(
      (a, b) =>
        removalRank(a) - removalRank(b) || (counts.get(b.node) ?? 0) - (counts.get(a.node) ?? 0) || a.node - b.node,
    );
}

/** Why removing voter `x` is unsafe, or null when it is safe. */
function removalHazard(s: ShardView, x: ReplicaView, replicas: number): string | null {
  const voters = s.replicas.filter((r) => r.role === 'voter');
  if (voters.length - 1 < replicas) return `only ${voters.length} voters`;
  const upToDate = voters.filter((r) => r.upToDate).length;
  if (x.upToDate && upToDate - 1 < replicas) return `only ${upToDate} voters are up to date`;
  const reachableAfter = voters.filter((r) => r.reachable && r.node !== x.node).length;
  if (reachableAfter < majority(voters.length - 1)) return `${reachableAfter} reachable voters would remain`;
  return null;
}

/** The up-to-date voter on a live node (not `except`) with the fewest leaders (ties: lower id). */
export function leaderTarget(s: ShardView, except: NodeId, leaders: ReadonlyMap<NodeId, number>): NodeId | null {
  const candidates = s.replicas
    .filter((r) => r.role === 'voter' && r.upToDate && r.liveness === 'live' && r.node !== except)
    .sort((a, b) => (leaders.get(a.node) ?? 0) - (leaders.get(b.node) ?? 0) || a.node - b.node);
  return candidates[0]?.node ?? null;
}

function removeVoter(
  s: ShardView,
  view: ClusterView,
  counts: ReadonlyMap<NodeId, number>,
  leaders: ReadonlyMap<NodeId, number>,
): Repair {
  const hazards: string[] = [];
  for (const x of removalOrder(s, counts)) {
    const hazard = removalHazard(s, x, view.config.replicas);
    if (hazard !== null) {
      hazards.push(`node ${x.node}: ${hazard}`);
      continue;
    }
    const cause = causeOf[x.liveness] ?? 'over-replicated';
    if (x.node !== s.leader)
      return act(s, {
        kind: 'removeReplica',
        node: x.node,
        cause,
        reason: `${describeShard(s.d)}: remove the voter on ${x.liveness} node ${x.node} (over ${view.config.replicas} voters)`,
      });
    const to = leaderTarget(s, x.node, leaders);
    if (to === null) {
      hazards.push(`node ${x.node}: leads, and no up-to-date live voter can take over`);
      continue;
    }
    return act(s, {
      kind: 'transferLeader',
      from: x.node,
      to,
      cause: 'leader-off-removed-replica',
      reason: `${describeShard(s.d)}: move leadership from node ${x.node} to ${to} before removing its replica`,
    });
  }
  return {
    kind: 'blocked',
    reason: `${describeShard(s.d)}: over-replicated but no voter can be removed safely (${hazards.join('; ')})`,
  };
}

function addLearner(s: ShardView, view: ClusterView, counts: ReadonlyMap<NodeId, number>, healthy: number): Repair {
  const holders = new Set(s.replicas.map((r) => r.node));
  const candidates = view.liveNodes.filter((n) => !holders.has(n));
  // A node where a learner of this shard stalled lately only when no other can take it.
  const preferred = candidates.filter((n) => !s.avoid.includes(n));
  const target = (preferred.length > 0 ? preferred : candidates).sort(
    (a, b) => (counts.get(a) ?? 0) - (counts.get(b) ?? 0) || a - b,
  )[0];
  const lost = s.replicas.find((r) => r.role === 'voter' && !isHealthyVoter(r));
  const cause: ActionCause = lost ? (causeOf[lost.liveness] ?? 'under-replicated') : 'under-replicated';
  const why = lost
    ? `replace the voter on ${lost.liveness} node ${lost.node}`
    : `${healthy} healthy voters < ${view.config.replicas}`;
  if (target === undefined)
    return { kind: 'blocked', reason: `${describeShard(s.d)}: ${why}, but no live node without a replica` };
  return act(s, {
    kind: 'addLearner',
    node: target,
    cause,
    reason: `${describeShard(s.d)}: ${why}: add a learner on node ${target}`,
  });
}

export function repairShard(
  s: ShardView,
  view: ClusterView,
  counts: ReadonlyMap<NodeId, number>,
  leaders: ReadonlyMap<NodeId, number>,
): Repair {
  if (s.inFlight.some((a) => a.kind !== 'transferLeader')) return { kind: 'waiting' };
  const voters = s.replicas.filter((r) => r.role === 'voter');
  const reachable = voters.filter((r) => r.reachable).length;
  if (reachable < majority(voters.length))
    return {
      kind: 'blocked',
      reason: `${describeShard(s.d)}: quorum lost (${reachable} of ${voters.length} voters reachable); no membership change can commit`,
    };
  const r = nextStep(s, view, counts, leaders, voters);
  if (r.kind === 'act' && s.leader === 0)
    return {
      kind: 'blocked',
      reason: `${describeShard(s.d)}: no known leader to make the change (${r.action.reason})`,
    };
  return r;
}

function nextStep(
  s: ShardView,
  view: ClusterView,
  counts: ReadonlyMap<NodeId, number>,
  leaders: ReadonlyMap<NodeId, number>,
  voters: readonly ReplicaView[],
): Repair {
  const learners = s.replicas.filter((r) => r.role === 'learner');
  const stranded = learners.find((r) => r.liveness !== 'live' && r.liveness !== 'suspect');
  if (stranded)
    return act(s, {
      kind: 'removeReplica',
      node: stranded.node,
      cause: causeOf[stranded.liveness] ?? 'dead-node',
      reason: `${describeShard(s.d)}: remove the learner on ${stranded.liveness} node ${stranded.node}`,
    });
  const stalled = learners.find((r) => r.stalled);
  if (stalled)
    return act(s, {
      kind: 'removeReplica',
      node: stalled.node,
      cause: 'stalled-learner',
      reason: `${describeShard(s.d)}: the learner on node ${stalled.node} has not caught up for too long: remove it`,
    });
  const ready = learners.find((r) => r.liveness === 'live' && r.upToDate);
  if (ready) {
    const reachableAfter = voters.filter((r) => r.reachable).length + 1;
    if (reachableAfter >= majority(voters.length + 1))
      return act(s, {
        kind: 'promoteLearner',
        node: ready.node,
        cause: 'caught-up',
        reason: `${describeShard(s.d)}: learner on node ${ready.node} caught up: promote it`,
      });
  }
  if (learners.some((r) => r.liveness === 'live')) return { kind: 'waiting' };
  if (voters.length > view.config.replicas) return removeVoter(s, view, counts, leaders);
  const healthy = voters.filter(isHealthyVoter).length;
  if (healthy < view.config.replicas) return addLearner(s, view, counts, healthy);
  return learners.length === 0 && voters.length === view.config.replicas ? { kind: 'steady' } : { kind: 'waiting' };
}
