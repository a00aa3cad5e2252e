/**
 * A replica removed from its group destroys itself (issue 10, placement): once this node applied the config
 * entry that removed it from group G, it stops the group, deletes its Raft records (r/G), its state-machine
 * records (m/G, and the meta shard's c/G), its snapshot staging (t/G) and the user data of its range (d/),
 * and writes a tombstone (tombstones.ts), all in one synced LevelDB batch (NodeStore.destroyGroup).
 *
 * When (destroyDecision):
 *   - the removal applied here and this node is still not a member (re-added meanwhile: nothing to do);
 *   - not while this node leads the group, within LEADER_GRACE_ELECTIONS: a leader that removed itself hands
 *     leadership over first (raft/leader.ts handOver); past that it is destroyed anyway (its removal is
 *     committed on a quorum; a successor is elected once its heartbeats stop);
 *   - not while a snapshot is being received or sent for the group;
 *   - only GRACE_ELECTIONS election timeouts after the removal applied: the other members may not have
 *     applied it yet (a follower learns the commit index one round later), and while they still count this
 *     node as a voter a new election may need its vote; the replica keeps answering meanwhile.
 * The user data is deleted only for an initialized KV replica (an uninitialized one owns no keys and its
 * nominal range is the whole keyspace), and only where no other initialized group of this node owns keys
 * (rule 2 of kv/split-apply.ts makes that impossible; asserted, and the data is kept if it ever happens).
 *
 * Known gap: a replica that never applies its own removal (partitioned away while removed, then its group's
 * log compacted past the removal, or the group gone) is never destroyed by this path; it stays an idle
 * replica until garbage collection against the meta shard's descriptors exists.
 */
import type { NodeId } from '../base';
import { dataRange, raftGroupRange, stagingGroupRange } from '../codec';
import type { ConfigState, Entry } from '../raft';
import type { Group } from './group';

/** Election timeouts between applying the removal and destroying the replica (see the header). */
export const GRACE_ELECTIONS = 2;
/** Election timeouts a removed leader waits for its hand-over before it is destroyed anyway. */
export const LEADER_GRACE_ELECTIONS = 5;

export interface PendingDestroy {
  /** The index of the config entry that removed this node. */
  index: number;
  /** When the removal was applied here (performance.now()). */
  sinceMs: number;
  /**
   * Set for a stale replica the placement driver found (placement/stale-replicas.ts): it never applied its
   * removal, so its own configuration still names it; it is destroyed only while it applied at most this
   * (the leader's applied index whose configuration excludes it), never while it leads or stages.
   */
  staleAppliedMax?: number;
}

export function isMemberOf(config: ConfigState, id: NodeId): boolean {
  return config.voters.includes(id) || config.learners.includes(id) || config.votersOutgoing.includes(id);
}

/**
 * The index of the last committed config entry in `entries` that removed `self` (a removeNode of it, or a
 * whole configuration without it), or null.
 */
export function removalOfSelf(entries: readonly Entry[], self: NodeId): number | null {
  let index: number | null = null;
  for (const e of entries) {
    if (e.kind !== 'config') continue;
    if (e.config !== undefined && e.config !== null) {
      if (!isMemberOf(e.config, self)) index = e.index;
    } else if (e.change.type === 'removeNode' && e.change.node === self) {
      index = e.index;
    }
  }
  return index;
}

/**
 * At start: did this replica apply its own removal (and crash before destroying itself)? Its applied
 * configuration has members but not this node, it applied something, and its log holds nothing unapplied
 * (an entry after the removal may add it again). A replica still catching up from a --join start whose
 * log has not reached its own addition looks the same: it is a learner then (a voter's log always holds
 * its own addition, promotion waits for it), so destroying it costs a new snapshot, never an acknowledged
 * entry.
 */
export function removedAtOpen(config: ConfigState, self: NodeId, applied: number, lastIndex: number): boolean {
  const hasMembers = config.voters.length > 0 || config.learners.length > 0;
  return hasMembers && !isMemberOf(config, self) && applied > 0 && lastIndex <= applied;
}

export type DestroyDecision = 'now' | 'wait' | 'cancel';

export function destroyDecision(
  g: Group,
  pending: PendingDestroy,
  self: NodeId,
  nowMs: number,
  electionMs: number,
): DestroyDecision {
  const st = g.core.status();
  if (pending.staleAppliedMax !== undefined) {
    if (g.sm.applied > pending.staleAppliedMax || st.lastIndex > pending.staleAppliedMax) return 'cancel';
    return st.role === 'leader' || g.staging !== null || g.snapshotSends.size > 0 ? 'wait' : 'now';
  }
  if (isMemberOf(st.config, self)) return 'cancel';
  if (g.sm.applied < pending.index) return 'wait';
  if (g.staging !== null || g.snapshotSends.size > 0) return 'wait';
  const elapsedMs = nowMs - pending.sinceMs;
  if (elapsedMs < GRACE_ELECTIONS * electionMs) return 'wait';
  // A leader that removed itself waits for its hand-over, though not forever: its successor never writes to
  // it, so it may learn of it only from a follower's answer to its own heartbeats (if it sends any).
  if (st.role === 'leader' && elapsedMs < LEADER_GRACE_ELECTIONS * electionMs) return 'wait';
  return 'now';
}

/** The meta shard's records of group `groupId`: c/G/ (meta/meta-keys.ts; same shape as r/G/). */
function metaRecordRange(groupId: number): { gte: Buffer; lt: Buffer } {
  const r = raftGroupRange(groupId);
  const gte = Buffer.from(r.gte);
  const lt = Buffer.from(r.lt);
  gte[0] = 0x63; // 'c'
  lt[0] = 0x63;
  return { gte, lt };
}

/**
 * The key ranges to delete besides r/G and m/G (NodeStore.destroyGroup adds those): the snapshot staging,
 * the meta records of the meta group, and the user data of an initialized KV replica's range when
 * `dataOwnedElsewhere` is false.
 */
export function destroyRanges(
  g: Group,
  initialized: boolean,
  dataOwnedElsewhere: boolean,
): { gte: Buffer; lt: Buffer }[] {
  const ranges = [stagingGroupRange(g.id)];
  if (g.meta !== null) ranges.push(metaRecordRange(g.id));
  if (g.kv !== null && initialized && !dataOwnedElsewhere) ranges.push(dataRange(g.kv.shard.start, g.kv.shard.end));
  return ranges;
}
