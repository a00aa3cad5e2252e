/**
 * Count-based balancing over live nodes (what it balances: the number of replicas, voters and learners
 * alike, per node; and the number of leaderships per node; not bytes or load, which come later).
 *
 * Replicas: while the most loaded live node holds at least 2 more replicas than the least loaded one, a
 * steady shard (replicas voters, all live and up to date, no learner) with a voter on the former and
 * nothing on the latter gets a learner there; repair then promotes it and removes the voter on the most
 * loaded node. The counts used are projected: replicas already being shed by shards over their count are
 * subtracted where repair will take them (removalOrder), so moves in progress are not started twice. A
 * node that joins a balanced N-node cluster thus receives its share, floor or ceil of 1/(N+1) of the
 * replicas, and no replica moves between old nodes (placement.test.ts sweeps this). Moves in progress
 * plus new ones stay within rebalanceMovesMax.
 *
 * Leaders: while a live node leads at least 2 more shards than an up-to-date live voter of one of its
 * steady shards, leadership moves there (one transfer per shard).
 */
import type { NodeId } from '../../base';
import { describeShard } from '../descriptor';
import { leaderTarget, removalOrder } from './repair';
import type { ClusterView, ShardView } from './cluster-view';
import type { PlacementAction } from './types';

const get = (m: ReadonlyMap<NodeId, number>, n: NodeId): number => m.get(n) ?? 0;

/** A shard that is over its replica count (a move or repair under way). */
export function isMoving(s: ShardView, replicas: number): boolean {
  return s.replicas.length > replicas || s.replicas.some((r) => r.role === 'learner');
}

/**
 * Replica counts after the removals that shards over their replica count will make, except for the shards
 * in `skip`: blocked ones (a removal that cannot happen must not make a node look lighter than it stays,
 * or moves would loop) and those whose removal this plan already counted.
 */
export function projectedCounts(
  view: ClusterView,
  counts: ReadonlyMap<NodeId, number>,
  skip: ReadonlySet<number>,
): Map<NodeId, number> {
  const out = new Map(counts);
  for (const s of view.shards) {
    if (skip.has(s.d.id)) continue;
    const excess = s.replicas.length - view.config.replicas;
    for (const r of removalOrder(s, out).slice(0, Math.max(0, excess))) out.set(r.node, get(out, r.node) - 1);
  }
  return out;
}

function movable(s: ShardView, replicas: number): boolean {
  return (
    s.replicas.length === replicas && s.replicas.every((r) => r.role === 'voter' && r.liveness === 'live' && r.upToDate)
  );
}

/** Learners to add for rebalancing, at most `budget`; `counts` (projected) is updated as moves are planned. */
export function planReplicaMoves(
  view: ClusterView,
  eligible: readonly ShardView[],
  counts: Map<NodeId, number>,
  budget: number,
): PlacementAction[] {
  const replicas = view.config.replicas;
  const inProgress = view.shards.filter((s) => isMoving(s, replicas)).length;
  let left = Math.min(budget, view.config.rebalanceMovesMax - inProgress);
  const out: PlacementAction[] = [];
  const used = new Set<number>();
  while (left > 0) {
    const move = nextMove(
      view,
      eligible.filter((s) => !used.has(s.d.id) && movable(s, replicas)),
      counts,
    );
    if (move === null) break;
    used.add(move.shard);
    out.push(move);
    left--;
  }
  return out;
}

function nextMove(
  view: ClusterView,
  shards: readonly ShardView[],
  counts: Map<NodeId, number>,
): PlacementAction | null {
  const byLoad = [...view.liveNodes].sort((a, b) => get(counts, b) - get(counts, a) || a - b);
  for (const src of byLoad) {
    for (const dst of [...byLoad].reverse()) {
      if (get(counts, src) - get(counts, dst) < 2) break;
      const s = shards
        .filter(
          (x) =>
            x.replicas.some((r) => r.node === src) && !x.replicas.some((r) => r.node === dst) && !x.avoid.includes(dst),
        )
        .sort((a, b) => Number(a.leader === src) - Number(b.leader === src) || a.d.id - b.d.id)[0];
      if (s === undefined) continue;
      const reason = `${describeShard(s.d)}: rebalance: node ${src} holds ${get(counts, src)} replicas, node ${dst} ${get(counts, dst)}: add a learner on ${dst}`;
      counts.set(src, get(counts, src) - 1);
      counts.set(dst, get(counts, dst) + 1);
      return { kind: 'addLearner', shard: s.d.id, epoch: s.d.epoch, node: dst, cause: 'rebalance-replicas', reason };
    }
  }
  return null;
}

/**
 * Leadership off draining nodes (any eligible shard) and for balance (shards in `balance`), at most
 * `budget`; `leaders` is updated as transfers are planned.
 */
export function planLeaderMoves(
  view: ClusterView,
  eligible: readonly ShardView[],
  balance: ReadonlySet<number>,
  leaders: Map<NodeId, number>,
  budget: number,
): PlacementAction[] {
  const out: PlacementAction[] = [];
  for (const s of eligible) {
    if (out.length >= budget) break;
    const from = s.leader;
    if (from === 0) continue;
    const draining = view.liveness.get(from) === 'draining';
    const to = leaderTarget(s, from, leaders);
    if (to === null || (!draining && (!balance.has(s.d.id) || get(leaders, from) - get(leaders, to) < 2))) continue;
    const reason = draining
      ? `${describeShard(s.d)}: node ${from} is draining: move leadership to node ${to}`
      : `${describeShard(s.d)}: rebalance leaders: node ${from} leads ${get(leaders, from)} shards, node ${to} ${get(leaders, to)}`;
    leaders.set(from, get(leaders, from) - 1);
    leaders.set(to, get(leaders, to) + 1);
    out.push({
      kind: 'transferLeader',
      shard: s.d.id,
      epoch: s.d.epoch,
      from,
      to,
      cause: draining ? 'drain' : 'rebalance-leaders',
      reason,
    });
  }
  return out;
}
