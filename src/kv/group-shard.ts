/**
 * The range and epoch of a KV group as persisted in m/<g>/shard (codec/command-split.ts). The record is
 * written by a split (kv/split-apply.ts: the parent's narrowed range and the right-hand group's range) and
 * by every configuration entry applied (state-machine.ts: the epoch + 1), in the same LevelDB batch as the
 * applied index it belongs to, so the record read from one LevelDB snapshot is the range and epoch of the
 * applied index read from the same snapshot.
 *
 * A group without a record (a data dir of a version before splits, or a group never split, created by a
 * split nor changed in membership) is the range it is opened with at the epoch it is opened with; the
 * default epoch is EPOCH_UNRECORDED = 1, the epoch the meta shard gives the bootstrap data shard (meta INITIAL_EPOCH), the
 * only KV group an older data dir can hold. A stored record wins over the range given at open: after a split
 * the host may reopen the parent with the range it was created with and still sees the narrowed one.
 */
import { decodeShardRecord, formatKey, shardRecordKey } from '../codec';
import type { GroupShard } from '../codec';
import type { StoreDb } from '../storage';

/** The epoch of a group that has no shard record (meta's INITIAL_EPOCH of the bootstrap data shard). */
export const EPOCH_UNRECORDED = 1;

type DbSnapshot = ReturnType<StoreDb['snapshot']>;

/** The stored shard record of `groupId` (as of `snapshot` when given), or `fallback` when there is none. */
export async function loadGroupShard(
  db: StoreDb,
  groupId: number,
  fallback: GroupShard,
  snapshot?: DbSnapshot,
): Promise<GroupShard> {
  const key = shardRecordKey(groupId);
  const buf = await db.get(key, snapshot === undefined ? {} : { snapshot });
  if (buf === undefined) return { start: fallback.start, end: fallback.end, epoch: fallback.epoch };
  return decodeShardRecord(buf, formatKey(key));
}

/** True when `key` lies in [start, end) (end null: unbounded). */
export function shardContains(shard: { start: Buffer; end: Buffer | null }, key: Buffer): boolean {
  return Buffer.compare(key, shard.start) >= 0 && (shard.end === null || Buffer.compare(key, shard.end) < 0);
}
