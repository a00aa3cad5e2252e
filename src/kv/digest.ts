/**
 * A replica's digest of one group's user data: the applied index it reflects, the number of keys, and a
 * SHA-256 over every (key, value) pair in key order. Two replicas of a group at the same applied index
 * must have equal digests (a replicated state machine is deterministic); jepsen-lite compares them at the
 * end of every run (Admin.Digest).
 *
 * Invariants: computed from one explicit LevelDB snapshot, so the applied index (m/<g>/applied, written in
 * the same batch as the data it covers) and the data are of the same instant; the caller takes that
 * snapshot under the state machine's read fence, never in the middle of a snapshot install; the snapshot
 * is closed whatever happens. Values are hashed as the user sees them (decoded and checked), so a record's
 * on-disk format does not matter, and a damaged record throws CORRUPTION instead of hashing garbage.
 * Memory is bounded by one key and value at a time.
 */
import { createHash } from 'node:crypto';
import { appliedKey, dataRange, decodeIndex, decodeValueRecord, formatKey, userKeyOf } from '../codec';
import type { StoreDb } from '../storage';

export interface ReplicaDigest {
  groupId: number;
  appliedIndex: number;
  keyCount: number;
  /** Lowercase hex SHA-256 of the (key, value) pairs in key order, each length-prefixed. */
  sha256: string;
}

type DbSnapshot = ReturnType<StoreDb['snapshot']>;

const lengthPrefix = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

/**
 * Hashes the group's range [start, end) as of `snapshot`, then closes it. The applied index is read from
 * the same snapshot.
 */
export async function digestFromSnapshot(
  db: StoreDb,
  snapshot: DbSnapshot,
  groupId: number,
  range: { start: Buffer; end: Buffer | null },
): Promise<ReplicaDigest> {
  try {
    const appliedBuf = await db.get(appliedKey(groupId), { snapshot });
    const appliedIndex = appliedBuf === undefined ? 0 : decodeIndex(appliedBuf, formatKey(appliedKey(groupId)));
    const hash = createHash('sha256');
    let keyCount = 0;
    const it = db.iterator({ ...dataRange(range.start, range.end), snapshot });
    try {
      for await (const [k, v] of it) {
        const key = userKeyOf(k);
        const value = decodeValueRecord(v, key, formatKey(k));
        hash.update(lengthPrefix(key.length)).update(key).update(lengthPrefix(value.length)).update(value);
        keyCount++;
      }
    } finally {
      await it.close();
    }
    return { groupId, appliedIndex, keyCount, sha256: hash.digest('hex') };
  } finally {
    await snapshot.close();
  }
}
