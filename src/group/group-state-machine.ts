/**
 * GroupStateMachine: what the node's host (src/node: the ready loop, snapshot transfer, compaction, the
 * admin digest) needs from the state machine of one Raft group, whatever that group replicates. The KV
 * state machine (src/kv, user data of one shard) and the meta shard's state machine (src/meta: descriptors,
 * node registry) both satisfy it structurally, so NodeHost can run any group behind it (issue 10).
 *
 * Contract (both implementations keep it; the host relies on it):
 * - apply(entries) applies committed entries in order; entries at or below `applied` are skipped, the rest
 *   continue at applied + 1. Application is deterministic (state + entries only; time only from the log).
 *   A normal entry that does not decode is applied as a no-op, never a crash. `onResults` gets the results
 *   of the normal entries by index before the batch is durable-in-LevelDB-order; `applied` moves after it.
 * - apply, installStaged and openSnapshot never overlap (the group's serial runner calls them); an overlap
 *   is an InvariantError. After a failed write the machine refuses every later call (restart to recover).
 * - openSnapshot() is a consistent chunked read at exactly `applied` (the chunks' format is the
 *   implementation's own); beginSnapshotStaging / stageChunk / installStaged / discardStaged receive one
 *   (chunks in order, validated as hostile input, staged on disk) and install it crash-safely with the
 *   m/<g>/install marker that NodeStore.persist writes with a received snapshot's meta.
 * - digest() is of one applied index; two replicas at the same applied index have equal digests.
 * Opening (a static factory) is each implementation's own: its options differ.
 */
import type { Entry, SnapshotMeta } from '../raft';

/** A chunked, consistent snapshot of a group's state at `applied`; iterate once, close when stopping early. */
export interface GroupSnapshotSource extends AsyncIterable<Buffer> {
  readonly applied: number;
  close(): Promise<void>;
}

/** A replica's digest of its group's state, for comparing replicas (Admin.Digest, jepsen-lite). */
export interface GroupDigest {
  groupId: number;
  appliedIndex: number;
  /** Records hashed (user keys for KV; descriptors, nodes and the cluster record for meta). */
  keyCount: number;
  /** Lowercase hex SHA-256. */
  sha256: string;
}

/** `R`: the result of one applied normal entry (what a proposal's waiter receives). */
export interface GroupStateMachine<R> {
  readonly groupId: number;
  /** The highest log index applied. */
  readonly applied: number;
  /** Committed entries applied as no-ops since open because their data did not decode. */
  readonly undecodableEntries: number;
  apply(entries: readonly Entry[], onResults?: (results: Map<number, R>) => void): Promise<Map<number, R>>;
  openSnapshot(opts?: { chunkBytes?: number }): GroupSnapshotSource;
  beginSnapshotStaging(snapshotId: string): Promise<void>;
  stageChunk(snapshotId: string, chunk: Uint8Array): Promise<{ done: boolean; applied: number }>;
  installStaged(snapshotId: string, meta: SnapshotMeta): Promise<void>;
  discardStaged(snapshotId: string): Promise<void>;
  digest(): Promise<GroupDigest>;
}
