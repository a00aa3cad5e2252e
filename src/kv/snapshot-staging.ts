/**
 * Receiving side of snapshots: chunks are written under t/<g>/<id>/ as they arrive (bounded memory), then
 * runInstall() replaces the group's d/ range and session table with the staged content. runInstall is
 * idempotent: it is re-run from the start by StateMachine.open while the install marker m/<g>/install
 * exists, and the marker is deleted in the same batch that sets the applied index.
 * A snapshot that carries its shard (snapshot-chunk.ts: range and epoch, e.g. taken after a split) must lie
 * within the receiver's range; its keys are checked against it, and the install clears and fills only that
 * range and writes it as the group's shard record (m/<g>/shard) with the applied index: a replica that
 * skips a split by this snapshot narrows like one that applied it, and never deletes the keys beyond the
 * new range (they may already belong to the right-hand group on this node; if not, they are left to the
 * install of that group, which replaces its range).
 */
import { TesseraError, assert } from '../base';
import {
  appliedKey,
  dataKey,
  dataRange,
  decodeRecord,
  decodeSessionRecord,
  decodeValueRecord,
  encodeIndex,
  encodeRecord,
  encodeShardRecord,
  formatKey,
  groupShardTuple,
  installMarkerKey,
  sessionKey,
  sessionRange,
  shardRecordKey,
  shapeArray,
  shapeUint,
  stagingDataKey,
  stagingDataRange,
  stagingEndKey,
  stagingGroupRange,
  stagingPrefix,
  stagingSessionKey,
  stagingSessionRange,
  toGroupShard,
} from '../codec';
import type { GroupShard } from '../codec';
import type { StoreDb } from '../storage';
import { shardContains } from './group-shard';
import { ITEM_DATA, decodeChunk } from './snapshot-chunk';
import type { KeyRangeOfGroup } from './snapshot-reader';

type BatchOp = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };

/** Flush a copy batch at this many bytes. */
const COPY_BATCH_BYTES = 4 << 20;

interface StagingState {
  id: string;
  prefix: Buffer;
  nextSeq: number;
  applied: number;
  itemCount: number;
  done: boolean;
  /** The shard the snapshot carries (first chunk), or null (a sender of an older version). */
  shard: GroupShard | null;
}

export class SnapshotStaging {
  private current: StagingState | null = null;

  constructor(
    private readonly db: StoreDb,
    private readonly groupId: number,
    private readonly range: KeyRangeOfGroup,
  ) {}

  static async discardAll(db: StoreDb, groupId: number): Promise<void> {
    await db.clear({ ...stagingGroupRange(groupId) });
  }

  async begin(id: string): Promise<void> {
    this.current = null;
    const prefix = stagingPrefix(this.groupId, id);
    await SnapshotStaging.discardAll(this.db, this.groupId);
    this.current = { id, prefix, nextSeq: 0, applied: 0, itemCount: 0, done: false, shard: null };
  }

  private expect(id: string): StagingState {
    const st = this.current;
    if (st === null || st.id !== id) {
      throw new TesseraError('INVALID_ARGUMENT', `group ${this.groupId}: no snapshot staging with id ${id}`);
    }
    return st;
  }

  async stage(id: string, chunkBytes: Uint8Array): Promise<{ done: boolean; applied: number }> {
    const st = this.expect(id);
    if (st.done) throw new TesseraError('INVALID_ARGUMENT', `snapshot ${id}: a chunk after the last one`);
    const chunk = decodeChunk(chunkBytes);
    if (chunk.seq !== st.nextSeq)
      throw new TesseraError('INVALID_ARGUMENT', `snapshot ${id}: chunk ${chunk.seq}, expected ${st.nextSeq}`);
    if (chunk.seq > 0 && chunk.applied !== st.applied) {
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `snapshot ${id}: chunk ${chunk.seq} is of index ${chunk.applied}, not ${st.applied}`,
      );
    }
    if (chunk.shard !== undefined) st.shard = this.checkedShard(id, chunk.shard);
    const ops: BatchOp[] = [];
    for (const it of chunk.items) {
      if (it.kind === ITEM_DATA) {
        if (!shardContains(st.shard ?? this.range, it.key))
          throw new TesseraError('INVALID_ARGUMENT', `snapshot ${id}: a key outside group ${this.groupId}'s range`);
        decodeValueRecord(it.value, it.key, `snapshot ${id}: ${formatKey(dataKey(it.key))}`);
        ops.push({ type: 'put', key: stagingDataKey(st.prefix, it.key), value: it.value });
      } else {
        const clientId = it.key.toString('utf8');
        decodeSessionRecord(it.value, `snapshot ${id} session ${clientId}`);
        ops.push({ type: 'put', key: stagingSessionKey(st.prefix, clientId), value: it.value });
      }
    }
    const itemCount = st.itemCount + chunk.items.length;
    if (chunk.done) {
      if (chunk.itemCount !== itemCount) {
        throw new TesseraError(
          'INVALID_ARGUMENT',
          `snapshot ${id}: ${itemCount} items received, the sender sent ${chunk.itemCount}`,
        );
      }
      const end = [chunk.applied, itemCount, ...(st.shard === null ? [] : [groupShardTuple(st.shard)])];
      ops.push({ type: 'put', key: stagingEndKey(st.prefix), value: encodeRecord(end) });
    }
    if (ops.length > 0) await this.db.batch(ops);
    st.nextSeq++;
    st.applied = chunk.applied;
    st.itemCount = itemCount;
    st.done = chunk.done;
    return { done: st.done, applied: st.applied };
  }

  /** A snapshot's shard, if its range lies within the receiver's; else INVALID_ARGUMENT. */
  private checkedShard(id: string, shard: GroupShard): GroupShard {
    const within =
      Buffer.compare(shard.start, this.range.start) >= 0 &&
      (this.range.end === null || (shard.end !== null && Buffer.compare(shard.end, this.range.end) <= 0));
    if (!within)
      throw new TesseraError('INVALID_ARGUMENT', `snapshot ${id}: its range is not within group ${this.groupId}'s`);
    return shard;
  }

  /** The completed staging `id`; throws INVALID_ARGUMENT if it is unknown or incomplete. */
  completed(id: string): StagingState {
    const st = this.expect(id);
    if (!st.done)
      throw new TesseraError('INVALID_ARGUMENT', `snapshot ${id} is incomplete (${st.nextSeq} chunks staged)`);
    return st;
  }

  /** Forgets the in-memory staging after an install (its data was deleted by runInstall). */
  forget(): void {
    this.current = null;
  }

  async discard(id: string): Promise<void> {
    if (this.current !== null && this.current.id !== id) return;
    this.current = null;
    await SnapshotStaging.discardAll(this.db, this.groupId);
  }
}

/**
 * Replaces the group's data range and sessions with staging `stagingId` and sets applied = index, deleting
 * the install marker; then deletes the group's staging data. Idempotent (safe to re-run after a crash).
 */
export async function runInstall(
  db: StoreDb,
  groupId: number,
  range: KeyRangeOfGroup,
  stagingId: string,
  index: number,
): Promise<void> {
  const prefix = stagingPrefix(groupId, stagingId);
  const endKey = stagingEndKey(prefix);
  const end = await db.get(endKey);
  if (end === undefined) {
    throw new TesseraError(
      'CORRUPTION',
      `group ${groupId}: a snapshot install of ${stagingId} at index ${index} is pending but its staged data is incomplete`,
      { key: formatKey(installMarkerKey(groupId)) },
    );
  }
  const endTuple = shapeArray(decodeRecord(end, formatKey(endKey)), 'staging end');
  const stagedApplied = shapeUint(endTuple[0], 'applied');
  const shard = endTuple[2] === undefined ? null : toGroupShard(endTuple[2]);
  const target = shard ?? range;
  assert(
    stagedApplied === index,
    () => `group ${groupId}: staged snapshot reflects ${stagedApplied}, install marker says ${index}`,
  );
  await db.clear({ ...dataRange(target.start, target.end) });
  await db.clear({ ...sessionRange(groupId) });
  let ops: BatchOp[] = [];
  let bytes = 0;
  const flush = async (): Promise<void> => {
    if (ops.length > 0) await db.batch(ops);
    ops = [];
    bytes = 0;
  };
  const copy = async (from: { gte: Buffer; lt: Buffer }, target: (suffix: Buffer) => Buffer): Promise<void> => {
    for await (const [key, value] of db.iterator({ ...from })) {
      ops.push({ type: 'put', key: target(key.subarray(prefix.length + 1)), value });
      bytes += key.length + value.length;
      if (bytes >= COPY_BATCH_BYTES) await flush();
    }
  };
  await copy(stagingDataRange(prefix), (userKey) => dataKey(userKey));
  await copy(stagingSessionRange(prefix), (clientId) => sessionKey(groupId, clientId.toString('utf8')));
  ops.push({ type: 'put', key: appliedKey(groupId), value: encodeIndex(index) });
  if (shard !== null) ops.push({ type: 'put', key: shardRecordKey(groupId), value: encodeShardRecord(shard) });
  ops.push({ type: 'del', key: installMarkerKey(groupId) });
  await flush();
  await SnapshotStaging.discardAll(db, groupId);
}
