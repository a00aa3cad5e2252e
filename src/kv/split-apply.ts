/**
 * Applying a split command in the parent group's log (issue 10, "Split"; DESIGN.md sections 4 and 5).
 * All user data of all groups lives in one d/ keyspace, so a split moves no data: it only changes which
 * group owns the keys [splitKey, end).
 *
 * At the split's log index, on every replica of the parent alike (deterministic: state + entry only):
 * - refused (splitRefused, nothing changed, applied moves) unless the split was planned against the
 *   parent's current epoch ('epoch-mismatch': an older or newer plan, or a retry of a split that applied)
 *   and start < splitKey < end and the right-hand group id is not the parent's ('bad-split');
 * - else, in the apply call's ONE LevelDB batch with the parent's applied index: the parent's shard record
 *   becomes [start, splitKey) at newEpoch; and, unless the right-hand group already has state (below), the
 *   right-hand group's initial state: its shard record [splitKey, end) at newEpoch, its applied index
 *   SPLIT_INITIAL_INDEX and a verbatim copy of the parent's session records (m/<right>/sessions/...), so a
 *   write retried on the right-hand side after the split is answered from its session, not applied twice,
 *   and both sides derive the same log clock (the records carry lastSeenMs).
 * Entries after the split in the parent's log see the narrowed range (the state machine checks keys against
 * it at apply): a write for [splitKey, end) applied after the split index is wrongShard, never applied on
 * the parent's side.
 *
 * The right-hand group's Raft log starts after SPLIT_INITIAL_INDEX (like TiKV's RAFT_INIT_LOG_INDEX): the
 * host gives it a snapshot meta at (SPLIT_INITIAL_INDEX, term SPLIT_INITIAL_INDEX) with the parent's
 * members, so no leader ever sends it entries 1..5: a replica without that state gets a snapshot.
 *
 * The split/snapshot race (TiKV's and CockroachDB's "snapshot overlaps an existing replica"): a replica may
 * learn of the right-hand group from a peer (message, then snapshot) before its own copy of the parent
 * applied the split. Two rules keep either from overwriting the other:
 * 1. Here (state level): the split writes NOTHING of the right-hand group if that group already has state
 *    on this node: an applied index above SPLIT_INITIAL_INDEX (it installed a snapshot, which is newer than
 *    the split: the right-hand group's state at any index > SPLIT_INITIAL_INDEX includes the split) or a
 *    snapshot install pending (m/<right>/install). The result says rightState 'kept' instead of 'created'.
 *    An applied index <= SPLIT_INITIAL_INDEX is the split's own state (written by this very split before,
 *    the same bytes), so writing it again changes nothing.
 * 2. For the host (node/, to wire): a snapshot for a group whose range overlaps the range of another group
 *    initialized on this node (its published `shard`, which narrows only once the split's batch is written)
 *    is refused until that group has applied the split (or is removed); otherwise the parent's entries
 *    before its split index would write into the right-hand group's keys of the shared d/ keyspace. Because
 *    the parent's published range only narrows, the check cannot go stale.
 * The data is never touched by the split in either case. A replica of the parent that skips the split
 * entry by installing a snapshot taken after it narrows too: snapshots carry the shard record, and the
 * install clears and fills only the snapshot's range (snapshot-staging.ts).
 */
import { TesseraError } from '../base';
import {
  appliedKey,
  encodeIndex,
  encodeSessionRecord,
  encodeShardRecord,
  formatBytes,
  installMarkerKey,
  decodeIndex,
  formatKey,
  sessionKey,
  shardRecordKey,
} from '../codec';
import type { Command, CommandResult, GroupShard } from '../codec';
import type { StoreDb } from '../storage';
import type { ApplyBatch } from './apply-batch';
import { shardContains } from './group-shard';

/** The applied index (and Raft snapshot index and term) a right-hand group starts at. */
export const SPLIT_INITIAL_INDEX = 5;

type SplitCommand = Extract<Command, { type: 'split' }>;
type SplitRefused = Extract<CommandResult, { type: 'splitRefused' }>;
type SplitDone = Extract<CommandResult, { type: 'split' }>;

/** Why the split cannot apply to a group at `shard`, or null when it can. */
export function refuseSplit(groupId: number, shard: GroupShard, cmd: SplitCommand): SplitRefused | null {
  const refused = (rule: SplitRefused['rule'], message: string): SplitRefused => ({
    type: 'splitRefused',
    rule,
    message: `split of group ${groupId} at ${formatBytes(cmd.splitKey)}: ${message}`,
    epoch: shard.epoch,
  });
  if (cmd.epoch !== shard.epoch)
    return refused('epoch-mismatch', `planned against epoch ${cmd.epoch}, the group is at epoch ${shard.epoch}`);
  if (Buffer.compare(cmd.splitKey, shard.start) <= 0 || !shardContains(shard, cmd.splitKey))
    return refused('bad-split', 'the key is not strictly inside the range');
  if (cmd.rightGroupId === groupId) return refused('bad-split', 'the right-hand group needs an id of its own');
  if (cmd.newEpoch <= shard.epoch) return refused('bad-split', `new epoch ${cmd.newEpoch} is not after the epoch`);
  return null;
}

/** True when the right-hand group already has state of its own on this node (rule 1 of the header). */
async function rightHasState(db: StoreDb, rightGroupId: number): Promise<boolean> {
  if ((await db.get(installMarkerKey(rightGroupId))) !== undefined) return true;
  const key = appliedKey(rightGroupId);
  const buf = await db.get(key);
  return buf !== undefined && decodeIndex(buf, formatKey(key)) > SPLIT_INITIAL_INDEX;
}

/**
 * Adds the split's writes to `batch` (the parent's apply batch) for a split refuseSplit accepted; `clientIds`
 * are the parent's sessions as of the split (after the entry's expiry). Returns the result; the caller
 * narrows its range to `result.left` for the entries after it.
 */
export async function splitIntoBatch(
  db: StoreDb,
  groupId: number,
  shard: GroupShard,
  cmd: SplitCommand,
  clientIds: readonly string[],
  batch: ApplyBatch,
): Promise<SplitDone> {
  const left: GroupShard = { start: shard.start, end: cmd.splitKey, epoch: cmd.newEpoch };
  const right = { groupId: cmd.rightGroupId, start: cmd.splitKey, end: shard.end, epoch: cmd.newEpoch };
  batch.ops.push({ type: 'put', key: shardRecordKey(groupId), value: encodeShardRecord(left) });
  if (await rightHasState(db, right.groupId)) return { type: 'split', left, right, rightState: 'kept' };
  const r = right.groupId;
  batch.ops.push({ type: 'put', key: shardRecordKey(r), value: encodeShardRecord(right) });
  batch.ops.push({ type: 'put', key: appliedKey(r), value: encodeIndex(SPLIT_INITIAL_INDEX) });
  for (const clientId of clientIds) {
    const record = await batch.sessionRecord(clientId);
    batch.ops.push({ type: 'put', key: sessionKey(r, clientId), value: encodeSessionRecord(record) });
  }
  return { type: 'split', left, right, rightState: 'created' };
}

/** The error a host answers for a refused split (WRONG_SHARD with the epoch, or INVALID_ARGUMENT). */
export function splitRefusalError(r: SplitRefused): TesseraError {
  if (r.rule === 'epoch-mismatch') return new TesseraError('WRONG_SHARD', r.message, { epoch: r.epoch });
  return new TesseraError('INVALID_ARGUMENT', r.message);
}
