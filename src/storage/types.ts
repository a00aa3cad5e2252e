/**
 * The durable Raft storage of one node (DESIGN.md section 4): one LevelDB for all groups of the node.
 * Layout (big-endian fixed-width indexes so LevelDB order is numeric order):
 *   r/<group u32>/e/<index u64>  log entry           r/<group>/h  hard state
 *   r/<group>/s                  snapshot metadata   d/<user key> user data (all shards share it)
 *   m/<group>/applied            applied index       m/<group>/sessions/<clientId>  session results
 * Every record is a codec/ record: version byte, CRC32C, msgpackr body.
 */
import type { GroupId } from '../base';
import type { Level } from 'level';
import type { Entry, HardState, SnapshotMeta } from '../raft';

/** The node's LevelDB: Buffer keys and values. */
export type StoreDb = Level<Buffer, Buffer>;

/** What one group's Ready asks to persist. Entries overwrite any stored suffix from entries[0].index. */
export interface GroupWrite {
  groupId: GroupId;
  hardState: HardState | null;
  entries: Entry[];
  snapshot: SnapshotMeta | null;
  /**
   * Optional, with `snapshot` of a snapshot received from the leader: the staging id of its data
   * (StateMachine.beginSnapshotStaging). Persisted atomically with the meta as the group's "install
   * pending" marker, so a crash before StateMachine.installStaged finishes resumes the install in
   * StateMachine.open.
   */
  installStagingId?: string | null;
}

export interface GroupDurableState {
  hardState: HardState;
  snapshot: SnapshotMeta | null;
  entries: Entry[];
  applied: number;
}
