/**
 * The host's side of a split (issue 10, "Split"; the state machine's side is kv/split-apply.ts): which KV
 * groups a node opens at start, and the Raft state a right-hand group starts with.
 *
 * How a split keeps safety (the invariants this module and NodeHost.createSplitGroup protect):
 * - The split is one entry of the parent's log, so every replica cuts the range at the same index. Its
 *   state-machine batch (parent narrowed, right-hand group's range, applied index SPLIT_INITIAL_INDEX and a
 *   copy of the sessions) is one LevelDB write; the right-hand group's Raft state is written right after it.
 * - Every replica gives the right-hand group the same Raft start: a snapshot meta at (SPLIT_INITIAL_INDEX,
 *   term SPLIT_INITIAL_INDEX) with the parent's configuration and a hard state at that term, no vote, commit
 *   at that index. Its leader's log therefore starts after that index, and a replica that never applied the
 *   split can only get the group's state by a snapshot (never entries 1..5 that nobody has).
 * - A crash between the two writes leaves a shard record without Raft state: at start the host finds it
 *   (NodeStore.groupsWithShardRecord) and writes the same start, with the configuration of the group's left
 *   neighbour (its parent, unless that split again since; a replica with a stale configuration still
 *   follows the group's leader, core.acceptsPeer, and learns the configuration from it).
 * - A group with Raft state but no shard record, other than the bootstrap data shard (whose range is the
 *   whole keyspace), is an uninitialized replica: created from a leader's message for a group this node
 *   never opened (its parent caught up by a snapshot taken after the split, so it never applied the split),
 *   waiting for a snapshot. It starts with no configuration, owns no keys (it is not routable) until a
 *   snapshot gives it its range, and a snapshot whose range overlaps another initialized group on this node
 *   is refused until that group narrowed (rule 2 of kv/split-apply.ts; NodeHost.onSnapshot).
 */
import type { GroupId } from '../base';
import { SPLIT_INITIAL_INDEX } from '../kv';
import { configAfterEntry, type ConfigState, type Entry, type HardState } from '../raft';
import type { GroupWrite } from '../storage';

/**
 * The Raft state every replica gives the right-hand group of a split (see the header). `stored`: the hard
 * state of an uninitialized replica of the group this node held before the split applied here; a term past
 * the start's is kept with its vote (a vote given must never be given again in that term).
 */
export function splitGroupRaftStart(
  groupId: GroupId,
  config: ConfigState,
  stored: HardState | null = null,
): GroupWrite {
  const keep = stored !== null && stored.term > SPLIT_INITIAL_INDEX;
  return {
    groupId,
    hardState: {
      term: keep ? stored.term : SPLIT_INITIAL_INDEX,
      vote: keep ? stored.vote : 0,
      commit: SPLIT_INITIAL_INDEX,
    },
    entries: [],
    snapshot: {
      index: SPLIT_INITIAL_INDEX,
      term: SPLIT_INITIAL_INDEX,
      config: {
        voters: [...config.voters],
        learners: [...config.learners],
        votersOutgoing: [...config.votersOutgoing],
      },
    },
  };
}

/**
 * The KV groups to open at start, ascending: the bootstrap shard, every group with Raft state and every
 * group with a shard record, except `metaGroupId`. `withoutRaftState`: split groups whose Raft start a
 * crash kept from being written; `uninitialized`: groups with Raft state but no shard record other than the
 * bootstrap shard (see the header).
 */
export function kvGroupsToOpen(
  bootstrapGroupId: GroupId,
  metaGroupId: GroupId,
  withRaftState: readonly number[],
  withShardRecord: readonly number[],
): { open: GroupId[]; withoutRaftState: GroupId[]; uninitialized: GroupId[] } {
  const records = new Set(withShardRecord);
  const raft = new Set(withRaftState);
  const open = new Set<GroupId>([bootstrapGroupId, ...raft, ...records]);
  open.delete(metaGroupId);
  const sorted = (xs: Iterable<GroupId>): GroupId[] => [...xs].sort((a, b) => a - b);
  return {
    open: sorted(open),
    withoutRaftState: sorted([...records].filter((g) => !raft.has(g) && g !== bootstrapGroupId)),
    uninitialized: sorted([...raft].filter((g) => g !== bootstrapGroupId && g !== metaGroupId && !records.has(g))),
  };
}

/**
 * The parent's configuration at the split entry `splitIndex` of a batch being applied: configuration
 * changes take effect when applied (raft/membership.ts), and the core has taken those of earlier batches
 * only (`current`), so the batch's config entries before the split are added here. Every replica thus
 * starts the right-hand group with the same members, whatever its batches looked like.
 */
export function configAtSplit(current: ConfigState, batch: readonly Entry[], splitIndex: number): ConfigState {
  let config = current;
  for (const e of batch) {
    if (e.index >= splitIndex) break;
    if (e.kind === 'config') config = configAfterEntry(config, e);
  }
  return config;
}
