/**
 * Learners that never catch up (a snapshot that never lands on their node, for whatever reason) would keep
 * their shard waiting for good: the planner promotes a learner only once it is up to date and adds no other
 * replica while one is catching up. The driver tracks, in memory, since when each learner it sees has been
 * behind; past the stall limit it marks it stalled in the shard's status (the planner then removes it), and
 * for a while after that removal the node is an avoided target for that shard (the planner places the
 * replacement elsewhere when it can). A new meta leader starts fresh: at worst a stall is noticed a limit
 * later.
 * Invariants: entries exist only for learners seen in the last round (others are dropped each round); the
 * avoided targets are bounded (AVOIDED_MAX, oldest dropped) and expire after avoidMs.
 */
import type { NodeId } from '../base';
import type { ClusterSnapshot, ShardStatus } from '../shard';

/** A learner behind for longer than this is stalled. A promotion's own budget is ACTION_TIMEOUT_MS. */
export const LEARNER_STALL_MS = 2 * 60_000;
/** How long a node where a learner of a shard stalled is avoided as that shard's target. */
export const AVOID_TARGET_MS = 10 * 60_000;
export const AVOIDED_MAX = 4096;

export class LearnerStalls {
  /** "shard@node" -> since when (monotonic ms) the learner has been behind. */
  private readonly behindSince = new Map<string, number>();
  /** "shard@node" -> until when (monotonic ms) the node is avoided as the shard's target. */
  private readonly avoided = new Map<string, number>();

  constructor(
    private readonly stallMs: number = LEARNER_STALL_MS,
    private readonly avoidMs: number = AVOID_TARGET_MS,
  ) {}

  /**
   * The snapshot with each shard's stalled learners and avoided targets (types.ts ShardStatus). A learner is
   * behind on the planner's rule: it acknowledged nothing, or its match is more than `lagEntriesMax` behind.
   */
  mark(snapshot: ClusterSnapshot, nowMs: number, lagEntriesMax: number): ClusterSnapshot {
    for (const [key, until] of this.avoided) if (until <= nowMs) this.avoided.delete(key);
    const learners = new Map<number, NodeId[]>();
    for (const d of snapshot.shards)
      learners.set(
        d.id,
        d.replicas.filter((r) => r.role === 'learner').map((r) => r.node),
      );
    const seen = new Set<string>();
    const status = snapshot.status.map((st): ShardStatus => {
      const stalled: NodeId[] = [];
      for (const node of learners.get(st.shard) ?? []) {
        const match = st.match.get(node) ?? 0;
        if (match > 0 && match >= st.commitIndex - lagEntriesMax) continue;
        const key = `${st.shard}@${node}`;
        seen.add(key);
        const since = this.behindSince.get(key) ?? nowMs;
        this.behindSince.set(key, since);
        if (nowMs - since > this.stallMs) stalled.push(node);
      }
      const avoid: NodeId[] = [];
      for (const key of this.avoided.keys()) {
        const [shard, node] = key.split('@').map(Number);
        if (shard === st.shard) avoid.push(node as NodeId);
      }
      return stalled.length === 0 && avoid.length === 0 ? st : { ...st, stalledLearners: stalled, avoidTargets: avoid };
    });
    for (const key of this.behindSince.keys()) if (!seen.has(key)) this.behindSince.delete(key);
    return { ...snapshot, status };
  }

  /** A stalled learner on `node` is being removed from `shard`: avoid the node for that shard a while. */
  noteRemoved(shard: number, node: NodeId, nowMs: number): void {
    const key = `${shard}@${node}`;
    this.avoided.delete(key);
    if (this.avoided.size >= AVOIDED_MAX) {
      const oldest = this.avoided.keys().next().value;
      if (oldest !== undefined) this.avoided.delete(oldest);
    }
    this.avoided.set(key, nowMs + this.avoidMs);
    this.behindSince.delete(key);
  }

  get tracked(): number {
    return this.behindSince.size;
  }
}
