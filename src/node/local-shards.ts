/**
 * The node's index of the KV groups it hosts, by range: which local group owns a key (binary search over
 * the groups' starts), and the public view of each (listShards). Rebuilt when a group opens or a split
 * narrows one; a lookup always confirms with the group's own range (sm.inRange, which also sees a split
 * applied but not yet written), so a stale index can only miss, never route a key to the wrong group.
 * Invariant: the hosted KV groups' ranges never overlap (splits only narrow; a right-hand group takes
 * exactly what its parent gave up).
 */
import type { Epoch, GroupId, NodeId, ShardId } from '../base';
import type { ShardDescriptor } from '../shard';
import type { Group } from './group';
import type { LocalShardInfo } from './types';

export class LocalShards {
  /** The KV groups ascending by start. */
  private sorted: Group[] = [];

  rebuild(groups: Iterable<Group>): void {
    const list: Group[] = [];
    for (const g of groups) list.push(g);
    list.sort((a, b) => Buffer.compare(a.kvSm.shard.start, b.kvSm.shard.start));
    this.sorted = list;
  }

  /** The local group whose range holds `key`, or null. */
  locate(key: Buffer): Group | null {
    let lo = 0;
    let hi = this.sorted.length - 1;
    let best = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (Buffer.compare((this.sorted[mid] as Group).kvSm.shard.start, key) <= 0) {
        best = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (best >= 0 && (this.sorted[best] as Group).kvSm.inRange(key)) return this.sorted[best] as Group;
    for (const g of this.sorted) if (g.kvSm.inRange(key)) return g; // the index is stale (a split just applied)
    return null;
  }

  groups(): readonly Group[] {
    return this.sorted;
  }

  get size(): number {
    return this.sorted.length;
  }
}

/**
 * The descriptor a WRONG_SHARD answer may carry for a hosted shard: null while its core knows no voter yet
 * (the catch-up window of describedShards; a descriptor without a voter is refused by every client, which
 * then re-lists the shards instead, as for a shard this node does not host).
 */
export function routableDescriptorOf(g: Group): ShardDescriptor | null {
  const d = descriptorOf(g);
  return d.replicas.some((r) => r.role === 'voter') ? d : null;
}

/** The descriptor of a hosted shard as this replica knows it. */
export function descriptorOf(g: Group): ShardDescriptor {
  const info = shardInfoOf(g);
  return {
    id: info.id as number as ShardId,
    start: info.start,
    end: info.end,
    epoch: info.epoch as Epoch,
    replicas: info.replicas.map((r) => ({ node: r.id, role: r.voter ? 'voter' : 'learner' })),
  };
}

/**
 * The public view of the hosted shards that can describe themselves: not a replica whose core knows no voter
 * yet (one catching up from the start of its group's log applies entries before its core applies their
 * configuration: for a moment it owns keys but has no members). A descriptor needs a voter; the meta leader
 * lists such a shard from the placement driver's view instead.
 */
export function describedShards(groups: Iterable<Group>): LocalShardInfo[] {
  const out: LocalShardInfo[] = [];
  for (const g of groups) {
    const info = shardInfoOf(g);
    if (info.replicas.some((r) => r.voter)) out.push(info);
  }
  return out;
}

/** The public view of one hosted shard. */
export function shardInfoOf(g: Group): LocalShardInfo {
  const st = g.core.status();
  const shard = g.kvSm.shard;
  const replicas: { id: NodeId; voter: boolean }[] = [
    ...st.config.voters.map((id) => ({ id, voter: true })),
    ...st.config.learners.map((id) => ({ id, voter: false })),
  ].sort((a, b) => a.id - b.id);
  return {
    id: g.id as GroupId,
    start: shard.start,
    end: shard.end,
    epoch: shard.epoch,
    replicas,
    leader: st.leader,
    applied: g.sm.applied,
  };
}

/** The first of `groups` other than `except` whose range overlaps `range`, or null (rule 2 of kv/split-apply.ts). */
export function overlappingShard(
  range: { start: Buffer; end: Buffer | null },
  groups: Iterable<Group>,
  except: Group,
): Group | null {
  for (const g of groups) {
    if (g === except) continue;
    if (rangesOverlap(range, g.kvSm.shard)) return g;
  }
  return null;
}

/**
 * Rule 2 against snapshots not installed yet: another group of `groups` (not `except`) holding a completely
 * staged snapshot whose range overlaps `range`, or null. Two groups new on a node (a replica moved here,
 * or added again after its destroy) may stage snapshots at once, the parent's from before a split and the
 * right-hand group's: neither is initialized yet, so the check against initialized groups passes both, and
 * both installs would give the same keys to two groups (the later one's older data over the other's). A
 * snapshot checks once it is staged completely; one still streaming checks itself when it completes, so of
 * two overlapping snapshots at most the first to check goes on (TiKV's check_snapshot does the same with its
 * pending snapshot regions). A staged snapshot stays pending until it is installed (then the group is
 * initialized and overlappingShard sees it) or discarded.
 */
export function overlappingStagedShard(
  range: { start: Buffer; end: Buffer | null },
  groups: Iterable<Group>,
  except: Group,
): Group | null {
  for (const g of groups) {
    if (g === except || g.staging === null || g.kv === null) continue;
    let staged: { start: Buffer; end: Buffer | null } | null;
    try {
      staged = g.kv.stagedShard(g.staging.id);
    } catch {
      continue; // still streaming: it checks against this one when it completes
    }
    if (staged !== null && rangesOverlap(range, staged)) return g;
  }
  return null;
}

function rangesOverlap(a: { start: Buffer; end: Buffer | null }, b: { start: Buffer; end: Buffer | null }): boolean {
  const startsBeforeItEnds = b.end === null || Buffer.compare(a.start, b.end) < 0;
  const endsAfterItStarts = a.end === null || Buffer.compare(b.start, a.end) < 0;
  return startsBeforeItEnds && endsAfterItStarts;
}
