/**
 * The placement planner (issue 10, "The placement driver"): a pure function from a cluster snapshot to a
 * bounded list of actions. The driver on the meta shard's leader (src/placement, later) runs it on every
 * round, issues the actions (conditional on each shard's epoch), reports them as in flight in the next
 * snapshot, logs each `reason` and counts each `cause`.
 *
 * Order of work, within planActionsMax actions and shardActionsInFlightMax per shard (in flight included):
 * 1. repair (repair.ts), most urgent shard first (fewest healthy voters, then id): replicas of dead,
 *    removed and draining nodes are re-created, learners promoted, surplus voters removed;
 * 2. replica balancing (rebalance.ts), on steady shards only;
 * 3. leadership: off draining nodes, then balanced by count, on shards with nothing else planned.
 * Balancing (2, and 3's balance moves) needs the whole picture: while any shard has no known leader (its
 * leader's report did not come this round, an election), the counts may come from a stale descriptor, and
 * moves planned on them are undone later (a soak moved half the replicas for a join so), so only repair
 * and leadership off draining nodes run.
 * Deterministic: the same snapshot, in any order of its lists, gives the same plan (ties go to lower ids).
 * `blocked` lists the shards that need something that cannot be done now, and why.
 */
import { NO_NODE, TesseraError, isNodeId } from '../../base';
import { makeDescriptor } from '../descriptor';
import { isHealthyVoter, leaderCounts, readCluster, replicaCounts } from './cluster-view';
import type { ShardView } from './cluster-view';
import { planLeaderMoves, planReplicaMoves, projectedCounts } from './rebalance';
import { repairShard } from './repair';
import { defaultPlacementConfig } from './types';
import type { Blocked, ClusterSnapshot, PlacementAction, PlacementConfig, PlacementPlan } from './types';

function invalid(message: string): never {
  throw new TesseraError('INVALID_ARGUMENT', `placement: ${message}`, { rule: 'bad-snapshot' });
}

/** Throws TesseraError(INVALID_ARGUMENT) on a configuration or snapshot the planner cannot reason about. */
export function validatePlacementInput(snapshot: ClusterSnapshot, config: PlacementConfig): void {
  const positive = (n: number): boolean => Number.isSafeInteger(n) && n >= 1;
  if (!positive(config.replicas)) invalid(`replicas ${config.replicas}`);
  if (!positive(config.shardActionsInFlightMax)) invalid(`shardActionsInFlightMax ${config.shardActionsInFlightMax}`);
  if (!positive(config.planActionsMax)) invalid(`planActionsMax ${config.planActionsMax}`);
  if (!Number.isSafeInteger(config.rebalanceMovesMax) || config.rebalanceMovesMax < 0) invalid('rebalanceMovesMax');
  if (!Number.isSafeInteger(config.caughtUpLagEntriesMax) || config.caughtUpLagEntriesMax < 0)
    invalid('caughtUpLagEntriesMax');
  if (!(config.deadNodeTimeoutMs > 0)) invalid(`deadNodeTimeoutMs ${config.deadNodeTimeoutMs}`);
  if (!(config.suspectAfterMs > 0 && config.suspectAfterMs <= config.deadNodeTimeoutMs))
    invalid(`suspectAfterMs ${config.suspectAfterMs} (0 < suspectAfterMs <= deadNodeTimeoutMs)`);
  if (!Number.isFinite(snapshot.nowMs)) invalid(`nowMs ${snapshot.nowMs}`);
  const nodes = new Set<number>();
  for (const n of snapshot.nodes) {
    if (!isNodeId(n.id) || nodes.has(n.id)) invalid(`node id ${n.id} invalid or repeated`);
    if (!Number.isFinite(n.lastHeartbeatMs)) invalid(`node ${n.id} lastHeartbeatMs ${n.lastHeartbeatMs}`);
    nodes.add(n.id);
  }
  const shards = new Set<number>();
  for (const d of snapshot.shards) {
    makeDescriptor(d);
    if (shards.has(d.id)) invalid(`shard ${d.id} repeated`);
    shards.add(d.id);
  }
  validateStatus(snapshot);
}

/** Leaders' reports: one per known shard, indexes non-negative safe integers, the leader a node id or 0. */
function validateStatus(snapshot: ClusterSnapshot): void {
  const index = (n: unknown): boolean => Number.isSafeInteger(n) && (n as number) >= 0;
  const seen = new Set<number>();
  const known = new Set(snapshot.shards.map((d) => d.id as number));
  for (const st of snapshot.status) {
    if (!known.has(st.shard) || seen.has(st.shard)) invalid(`status of shard ${st.shard} unknown or repeated`);
    seen.add(st.shard);
    if (st.leader !== 0 && !isNodeId(st.leader)) invalid(`shard ${st.shard} leader ${st.leader}`);
    if (!index(st.commitIndex)) invalid(`shard ${st.shard} commitIndex ${st.commitIndex}`);
    for (const [node, match] of st.match)
      if (!index(match)) invalid(`shard ${st.shard} match ${match} of node ${node}`);
  }
}

/** Shards with a removal in this plan: `counts` already has its effect. */
const removing = (actions: readonly PlacementAction[]): number[] =>
  actions.filter((a) => a.kind === 'removeReplica').map((a) => a.shard);

export function planPlacement(
  snapshot: ClusterSnapshot,
  config: PlacementConfig = defaultPlacementConfig,
): PlacementPlan {
  validatePlacementInput(snapshot, config);
  const view = readCluster(snapshot, config);
  const counts = replicaCounts(view);
  const ignored = new Set(config.leaderBalanceIgnores ?? []);
  const leaders = leaderCounts(view, ignored);
  const actions: PlacementAction[] = [];
  const blocked: Blocked[] = [];
  const slots = new Map(view.shards.map((s) => [s.d.id as number, config.shardActionsInFlightMax - s.inFlight.length]));
  const steady: ShardView[] = [];
  const urgency = (s: ShardView): number => s.replicas.filter(isHealthyVoter).length;
  for (const s of [...view.shards].sort((a, b) => urgency(a) - urgency(b) || a.d.id - b.d.id)) {
    const r = repairShard(s, view, counts, leaders);
    if (r.kind === 'blocked') blocked.push({ shard: s.d.id, reason: r.reason });
    if (r.kind === 'steady' && (slots.get(s.d.id) ?? 0) > 0) steady.push(s);
    if (r.kind !== 'act' || (slots.get(s.d.id) ?? 0) <= 0 || actions.length >= config.planActionsMax) continue;
    actions.push(r.action);
    slots.set(s.d.id, (slots.get(s.d.id) ?? 0) - 1);
    // Later decisions of this plan see the counts this action leads to (as the next plan will).
    if (r.action.kind === 'addLearner') counts.set(r.action.node, (counts.get(r.action.node) ?? 0) + 1);
    if (r.action.kind === 'removeReplica') counts.set(r.action.node, (counts.get(r.action.node) ?? 0) - 1);
  }
  steady.sort((a, b) => a.d.id - b.d.id);
  const complete = view.shards.every((s) => s.leader !== NO_NODE);
  const moves = planReplicaMoves(
    view,
    steady,
    projectedCounts(view, counts, new Set([...blocked.map((b) => b.shard), ...removing(actions)])),
    complete ? config.planActionsMax - actions.length : 0,
  );
  actions.push(...moves);
  const acted = new Set(actions.map((a) => a.shard as number));
  const balanced = complete ? steady.map((s) => s.d.id as number).filter((id) => !ignored.has(id)) : [];
  const isSteady = new Set(balanced);
  // Leadership: every shard with nothing planned may move its leader off a draining node; steady ones
  // may also move it for balance (not shards under repair, whose voters are about to change).
  const free = view.shards.filter(
    (s) => !acted.has(s.d.id) && (slots.get(s.d.id) ?? 0) > 0 && !s.inFlight.some((a) => a.kind === 'transferLeader'),
  );
  actions.push(...planLeaderMoves(view, free, isSteady, leaders, config.planActionsMax - actions.length));
  return { actions, blocked };
}
