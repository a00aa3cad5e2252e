/** L2 kv: the replicated key-value state machine of a group (apply, sessions, reads, snapshots). */
export { StateMachine, SESSION_TTL_MS_DEFAULT } from './state-machine';
export type { KeyRange, StateMachineOptions } from './state-machine';
export { EPOCH_UNRECORDED, loadGroupShard } from './group-shard';
export { SPLIT_INITIAL_INDEX, splitRefusalError } from './split-apply';
export { SnapshotReader, SNAPSHOT_CHUNK_BYTES_DEFAULT } from './snapshot-reader';
export { decodeChunk } from './snapshot-chunk';
export type { ReplicaDigest } from './digest';
export type { SnapshotChunk, ChunkItem } from './snapshot-chunk';
export type { SessionTag, WriteOp, Compare, Command, CommandResult, KeyValue, ScanPage } from './types';
