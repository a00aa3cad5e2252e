/**
 * Leader balancing (issue 10, "The placement driver": spreads leaders evenly over nodes, count-based).
 * Every shard is hosted on every bootstrap node in this version (replica placement is not built yet), so
 * each node sees every shard and its leader. Each node runs the pure planner (shard/placement planPlacement)
 * on that view every `intervalMs` and carries out only the leadership transfers whose source is itself
 * (a transfer can only start at the leader), at most `transfersPerRoundMax` per round: all nodes plan from
 * nearly the same view, so the moves they make add up to the plan. The planner moves a leader only when its
 * node leads at least two shards more than the target, which makes the rounds converge (a stale view can
 * overshoot by one move, which the next round corrects). Nothing but leadership moves here: the replica
 * count given to the planner is each shard's own voter count, so it never asks to add or remove a replica.
 * Every transfer is logged and counted (tessera_placement_actions_total{kind,cause,outcome}).
 */
import type { NodeId, ShardId } from '../base';
import type { LocalShardInfo } from '../node';
import type { Logger, NodeMetrics } from '../obs';
import { defaultPlacementConfig, planPlacement, type ClusterSnapshot, type PlacementAction } from '../shard';

/** What the balancer needs of the node (NodeHost satisfies it). */
export interface BalancedNode {
  readonly nodeId: NodeId;
  listShards(): LocalShardInfo[];
  /** Commit index and each member's match index of a shard this node leads (else null). */
  leaderProgress(shardId: number): { commit: number; match: Map<NodeId, number> } | null;
  /** When each peer was last heard from (performance.now() ms), this node excluded. */
  peersHeardMs(): Map<NodeId, number>;
  transferLeader(shardId: number, to: NodeId, timeoutMs?: number): Promise<NodeId>;
}

export interface LeaderBalanceOptions {
  intervalMs: number;
  transfersPerRoundMax: number;
  /** A peer not heard from for longer is not given leadership (the planner's suspect threshold). */
  suspectAfterMs: number;
}

/** How long ago a peer never heard from counts as heard (a year: past any suspect or dead threshold). */
const NEVER_HEARD_AGO_MS = 365 * 24 * 3600 * 1000;

/** The planner's input from this node's view (see the header). Pure. */
export function snapshotOf(
  self: NodeId,
  shards: readonly LocalShardInfo[],
  progress: (shardId: number) => { commit: number; match: Map<NodeId, number> } | null,
  heardMs: ReadonlyMap<NodeId, number>,
  nowMs: number,
): ClusterSnapshot {
  const nodes = new Set<NodeId>([self]);
  for (const s of shards) for (const r of s.replicas) nodes.add(r.id);
  return {
    nowMs,
    nodes: [...nodes].map((id) => ({
      id,
      state: 'up' as const,
      lastHeartbeatMs: id === self ? nowMs : (heardMs.get(id) ?? nowMs - NEVER_HEARD_AGO_MS),
    })),
    shards: shards.map((s) => ({
      id: s.id as number as ShardId,
      start: s.start,
      end: s.end,
      epoch: s.epoch as never,
      replicas: s.replicas.map((r) => ({ node: r.id, role: r.voter ? ('voter' as const) : ('learner' as const) })),
    })),
    status: shards.map((s) => {
      // A shard led elsewhere: its leader's progress is not known here, and this node never acts on it.
      const p = s.leader === self ? progress(s.id) : null;
      return {
        shard: s.id as number as ShardId,
        leader: s.leader,
        commitIndex: p?.commit ?? 0,
        match: p?.match ?? new Map(),
        inFlight: [],
      };
    }),
  };
}

/** The transfers this node should start now: the plan's leadership moves away from `self`. Pure. */
export function ownTransfers(self: NodeId, snapshot: ClusterSnapshot, suspectAfterMs: number): PlacementAction[] {
  if (snapshot.shards.length === 0) return [];
  const replicas = Math.max(...snapshot.shards.map((d) => d.replicas.filter((r) => r.role === 'voter').length));
  const config = { ...defaultPlacementConfig, replicas, suspectAfterMs, deadNodeTimeoutMs: Number.MAX_SAFE_INTEGER };
  return planPlacement(snapshot, config).actions.filter(
    (a) => a.kind === 'transferLeader' && a.from === self && a.cause === 'rebalance-leaders',
  );
}

export class LeaderBalancer {
  private timer: NodeJS.Timeout | null = null;
  private running = false;

  constructor(
    private readonly node: BalancedNode,
    private readonly opts: LeaderBalanceOptions,
    private readonly logger: Logger,
    private readonly metrics: NodeMetrics,
  ) {}

  start(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => void this.round(), this.opts.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** One round (also for tests): plans and starts this node's transfers; resolves when they ended. */
  async round(): Promise<number> {
    if (this.running) return 0;
    this.running = true;
    try {
      const n = this.node;
      const snapshot = snapshotOf(
        n.nodeId,
        n.listShards(),
        (id) => n.leaderProgress(id),
        n.peersHeardMs(),
        performance.now(),
      );
      const moves = ownTransfers(n.nodeId, snapshot, this.opts.suspectAfterMs).slice(0, this.opts.transfersPerRoundMax);
      let done = 0;
      for (const a of moves) {
        if (a.kind !== 'transferLeader') continue;
        const counted = this.metrics.placementActions.labels({ kind: a.kind, cause: a.cause, outcome: 'ok' });
        try {
          await n.transferLeader(a.shard, a.to);
          counted.inc();
          done++;
          this.logger.info({ shard: a.shard, from: a.from, to: a.to, reason: a.reason }, 'placement: leader moved');
        } catch (e) {
          this.metrics.placementActions.inc({ kind: a.kind, cause: a.cause, outcome: 'failed' });
          this.logger.warn({ shard: a.shard, to: a.to, err: (e as Error).message }, 'placement: leader move failed');
        }
      }
      return done;
    } finally {
      this.running = false;
    }
  }
}
