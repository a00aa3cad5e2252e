/**
 * L2 codec: checksummed msgpackr records, the LevelDB key layout, Raft records, state machine commands
 * and the peer message wire format. Imports only base/ and raft/ types.
 */
export { crc32c } from './crc32c';
export {
  RECORD_PACKED,
  RECORD_RAW,
  RECORD_VALUE_KEYED,
  RECORD_HEADER_BYTES,
  encodeRecord,
  decodeRecord,
  encodeValueRecord,
  decodeValueRecord,
} from './record';
export {
  encodeEntry,
  decodeEntry,
  encodeHardState,
  decodeHardState,
  encodeSnapshotMeta,
  decodeSnapshotMeta,
  encodeIndex,
  decodeIndex,
  encodeInstallMarker,
  decodeInstallMarker,
  decodeShaped,
} from './raft-records';
export type { InstallMarker } from './raft-records';
export {
  encodeCommand,
  decodeCommand,
  encodeSessionRecord,
  decodeSessionRecord,
  commandFingerprint,
  withFingerprint,
} from './command';
export type { SessionRecord } from './command';
export {
  SPLIT_KEY_BYTES_MAX,
  encodeShardRecord,
  decodeShardRecord,
  groupShardTuple,
  toGroupShard,
} from './command-split';
export type {
  SessionTag,
  WriteOp,
  Compare,
  Command,
  CommandResult,
  KeyValue,
  ScanPage,
  GroupShard,
  SplitRefusal,
} from './command-types';
export { encodeRaftMessage, decodeRaftMessage, encodeRaftMessageBatch, decodeRaftMessageBatch } from './raft-message';
export type { RaftEnvelope } from './raft-message';
export {
  DATA_PREFIX,
  RAFT_RANGE,
  META_RANGE,
  entryKey,
  entryRange,
  hardStateKey,
  snapshotMetaKey,
  raftGroupRange,
  appliedKey,
  installMarkerKey,
  shardRecordKey,
  sessionKey,
  sessionRange,
  sessionClientId,
  stagingPrefix,
  stagingDataKey,
  stagingSessionKey,
  stagingEndKey,
  stagingDataRange,
  stagingSessionRange,
  stagingGroupRange,
  dataKey,
  userKeyOf,
  dataRange,
  parseKey,
  formatKey,
  formatBytes,
} from './keys';
export type { KeyRange, ParsedKey } from './keys';
export { ShapeError } from './shape';
export {
  arr as shapeArray,
  uint as shapeUint,
  bytes as shapeBytes,
  bool as shapeBool,
  str as shapeString,
  fail as shapeFail,
} from './shape';
