/**
 * A tiny pure simulator for the placement planner: a cluster (nodes, descriptors, leaders, commit and
 * match indexes) that planned actions are applied to, one round at a time, until the planner has nothing
 * left to do. It checks every action against rules of its own (not the planner's code):
 * - an added learner lands on a live `up` node that holds no replica of the shard;
 * - only a caught-up learner on a live node is promoted;
 * - a removal never takes the leader, never lowers the count of up-to-date voters below `replicas` (nor
 *   at all when it is already below), and never leaves the new configuration without a reachable quorum
 *   when the old one had it;
 * - leadership only goes to an up-to-date voter; at most one membership change per shard per round.
 * Each round: plan, check and apply, then replication (reachable replicas catch up to the commit index,
 * which grows) and elections (a shard without a reachable leader elects its lowest up-to-date voter).
 */
import { NO_NODE, epochOf, shardIdOf } from '../../../src/base';
import type { NodeId } from '../../../src/base';
import { addLearner, makeDescriptor, planPlacement, promoteLearner, removeReplica } from '../../../src/shard';
import type {
  ClusterSnapshot,
  NodeInfo,
  NodeState,
  PlacementAction,
  PlacementConfig,
  PlacementPlan,
  ShardDescriptor,
} from '../../../src/shard';

export interface SimNode {
  id: NodeId;
  state: NodeState;
  /** A dead node stops heartbeating: its lastHeartbeatMs stays where it was. */
  silent: boolean;
  lastHeartbeatMs: number;
}

export interface SimShard {
  d: ShardDescriptor;
  leader: NodeId;
  commit: number;
  match: Map<NodeId, number>;
}

export class PlacementSim {
  nowMs = 1_000_000;
  readonly nodes = new Map<NodeId, SimNode>();
  readonly shards = new Map<number, SimShard>();
  readonly log: PlacementAction[] = [];
  rounds = 0;
  /** Also plan the snapshot with its lists reversed and require the same plan (determinism). */
  checkOrder = false;

  constructor(readonly config: PlacementConfig) {}

  addNode(id: NodeId, state: NodeState = 'up'): void {
    this.nodes.set(id, { id, state, silent: false, lastHeartbeatMs: this.nowMs });
  }

  addShard(d: ShardDescriptor, leader: NodeId): void {
    const match = new Map(d.replicas.map((r) => [r.node, 100]));
    this.shards.set(d.id, { d, leader, commit: 100, match });
  }

  node(id: NodeId): SimNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`sim: no node ${id}`);
    return n;
  }

  /** Time passes without a planning round; nodes that are not silent keep heartbeating. */
  advance(ms: number): void {
    this.nowMs += ms;
    for (const n of this.nodes.values()) if (!n.silent) n.lastHeartbeatMs = this.nowMs;
  }

  /** The node stops heartbeating; its registry state becomes down. */
  kill(id: NodeId): void {
    Object.assign(this.node(id), { silent: true, state: 'down' });
  }

  private dead(id: NodeId): boolean {
    const n = this.nodes.get(id);
    return !n || n.state === 'removed' || this.nowMs - n.lastHeartbeatMs > this.config.deadNodeTimeoutMs;
  }

  /** Reachable: alive and up or draining (a down or dead node is not). */
  reachable(id: NodeId): boolean {
    const n = this.nodes.get(id);
    return !!n && !n.silent && (n.state === 'up' || n.state === 'draining') && !this.dead(id);
  }

  upToDate(s: SimShard, id: NodeId): boolean {
    return this.reachable(id) && (s.match.get(id) ?? 0) >= s.commit - this.config.caughtUpLagEntriesMax;
  }

  voters(s: SimShard): NodeId[] {
    return s.d.replicas.filter((r) => r.role === 'voter').map((r) => r.node);
  }

  hasQuorum(s: SimShard, voters: readonly NodeId[]): boolean {
    return voters.filter((v) => this.reachable(v)).length >= Math.floor(voters.length / 2) + 1;
  }

  snapshot(): ClusterSnapshot {
    return {
      nowMs: this.nowMs,
      nodes: [...this.nodes.values()].map((n): NodeInfo => ({
        id: n.id,
        state: n.state,
        lastHeartbeatMs: n.lastHeartbeatMs,
      })),
      shards: [...this.shards.values()].map((s) => s.d),
      status: [...this.shards.values()].map((s) => ({
        shard: s.d.id,
        leader: s.leader,
        commitIndex: s.commit,
        match: new Map(s.match),
        inFlight: [],
      })),
    };
  }

  /** One round: plan, check and apply every action, replicate, elect. Returns the plan. */
  round(): PlacementPlan {
    const snapshot = this.snapshot();
    const plan = planPlacement(snapshot, this.config);
    if (this.checkOrder) {
      const reversed = { ...snapshot, nodes: [...snapshot.nodes].reverse(), shards: [...snapshot.shards].reverse() };
      if (JSON.stringify(planPlacement(reversed, this.config)) !== JSON.stringify(plan))
        throw new Error('the plan depends on the order of the snapshot lists');
    }
    if (plan.actions.length > this.config.planActionsMax) throw new Error(`plan of ${plan.actions.length} actions`);
    const membership = new Set<number>();
    for (const a of plan.actions) {
      if (a.kind !== 'transferLeader') {
        if (membership.has(a.shard)) throw new Error(`two membership changes for shard ${a.shard} in one plan`);
        membership.add(a.shard);
      }
      this.apply(a);
      this.log.push(a);
    }
    this.tick();
    this.rounds++;
    return plan;
  }

  /** Rounds until a plan has no action; throws past roundsMax. */
  runToFixedPoint(roundsMax = 500): PlacementPlan {
    for (let i = 0; i < roundsMax; i++) {
      const plan = this.round();
      if (plan.actions.length === 0) return plan;
    }
    throw new Error(`no fixed point after ${roundsMax} rounds`);
  }

  apply(a: PlacementAction): void {
    const s = this.shards.get(a.shard);
    if (!s) throw new Error(`action on unknown shard ${a.shard}`);
    if (a.epoch !== s.d.epoch) throw new Error(`action at epoch ${a.epoch} on ${s.d.epoch}: ${a.reason}`);
    const fail = (why: string): never => {
      throw new Error(`unsafe ${a.kind}: ${why} (${a.reason})`);
    };
    if (a.kind === 'addLearner') {
      const n = this.nodes.get(a.node);
      if (!n || n.state !== 'up' || !this.reachable(a.node)) fail(`node ${a.node} is not live`);
      if (!this.hasQuorum(s, this.voters(s))) fail('no quorum to commit it');
      s.d = addLearner(s.d, a.node);
      s.match.set(a.node, 0);
    } else if (a.kind === 'promoteLearner') {
      if (!this.upToDate(s, a.node) || this.node(a.node).state !== 'up') fail(`learner ${a.node} not caught up/live`);
      s.d = promoteLearner(s.d, a.node);
    } else if (a.kind === 'removeReplica') {
      this.checkRemoval(s, a.node, fail);
      s.d = removeReplica(s.d, a.node);
      s.match.delete(a.node);
    } else {
      if (s.leader !== a.from) fail(`leader is ${s.leader}, not ${a.from}`);
      if (!this.voters(s).includes(a.to) || !this.upToDate(s, a.to)) fail(`node ${a.to} is no up-to-date voter`);
      s.leader = a.to;
    }
  }

  private checkRemoval(s: SimShard, node: NodeId, fail: (why: string) => never): void {
    if (node === s.leader) fail('removes the leader');
    const before = this.voters(s);
    if (!before.includes(node)) return; // a learner: no quorum effect
    if (!this.hasQuorum(s, before)) fail('no quorum to commit it');
    const after = before.filter((v) => v !== node);
    if (!this.hasQuorum(s, after)) fail('the new configuration has no reachable quorum');
    const upBefore = before.filter((v) => this.upToDate(s, v)).length;
    const upAfter = after.filter((v) => this.upToDate(s, v)).length;
    if (upAfter < Math.min(upBefore, this.config.replicas)) fail(`up-to-date voters ${upBefore} -> ${upAfter}`);
    if (after.length < this.config.replicas) fail(`${after.length} voters left`);
  }

  /** Time passes; live nodes heartbeat; writes commit; reachable replicas catch up; leaderless shards elect. */
  tick(): void {
    this.nowMs += 1000;
    for (const n of this.nodes.values()) if (!n.silent) n.lastHeartbeatMs = this.nowMs;
    for (const s of this.shards.values()) {
      const voters = this.voters(s);
      if (!this.hasQuorum(s, voters)) continue;
      s.commit += 10;
      for (const r of s.d.replicas) if (this.reachable(r.node)) s.match.set(r.node, s.commit);
      if (!voters.includes(s.leader) || !this.reachable(s.leader)) {
        s.leader = voters.filter((v) => this.upToDate(s, v)).sort((a, b) => a - b)[0] ?? NO_NODE;
      }
    }
  }

  /** Replicas (all roles) and leaderships per node. */
  counts(): { replicas: Map<NodeId, number>; leaders: Map<NodeId, number> } {
    const replicas = new Map<NodeId, number>();
    const leaders = new Map<NodeId, number>();
    for (const id of this.nodes.keys()) {
      replicas.set(id, 0);
      leaders.set(id, 0);
    }
    for (const s of this.shards.values()) {
      for (const r of s.d.replicas) replicas.set(r.node, (replicas.get(r.node) ?? 0) + 1);
      if (s.leader !== NO_NODE) leaders.set(s.leader, (leaders.get(s.leader) ?? 0) + 1);
    }
    return { replicas, leaders };
  }
}

/** `count` shards over `nodes` (each on `replicas` consecutive nodes, round robin), leaders spread. */
export function evenShards(sim: PlacementSim, count: number, nodes: readonly NodeId[], replicas: number): void {
  for (let i = 0; i < count; i++) {
    const on = Array.from({ length: replicas }, (_, j) => nodes[(i + j) % nodes.length] as NodeId);
    const start = i === 0 ? '' : `k${String(i).padStart(4, '0')}`;
    const end = i === count - 1 ? null : `k${String(i + 1).padStart(4, '0')}`;
    const enc = (x: string): Uint8Array => new TextEncoder().encode(x);
    const d = makeDescriptor({
      id: shardIdOf(i + 1),
      start: enc(start),
      end: end === null ? null : enc(end),
      replicas: on.map((node) => ({ node, role: 'voter' as const })),
      epoch: epochOf(1),
    });
    sim.addShard(d, on[i % replicas] as NodeId);
  }
}
