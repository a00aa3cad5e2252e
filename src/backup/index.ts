/**
 * Backup and restore (issue 11): `tessera backup` copies every shard at one read index per shard into a
 * checksummed file (format.ts, take-backup.ts; the node side is server/admin-backup.ts) and `tessera
 * restore` verifies such a file and seeds the data dir of one node of a new cluster from it (restore.ts).
 */
export {
  BACKUP_MAGIC,
  BACKUP_VERSION,
  PREAMBLE_BYTES,
  TRAILER_BYTES,
  encodeHeader,
  encodePreamble,
  encodeTrailer,
  tilingProblem,
} from './format';
export type { BackupHeader, BackupShard } from './format';
export { verifyBackup, scanBackup } from './backup-reader';
export type { ChunkVisitor, VerifiedBackup } from './backup-reader';
export { BackupWriter } from './backup-writer';
export type { ShardStart } from './backup-writer';
export { AdminStreams } from './shard-stream';
export type { BackupShardMessage, CopyFailure, CopyOutcome } from './shard-stream';
export { takeBackup, shardView } from './take-backup';
export type { BackupSummary, TakeBackupOptions } from './take-backup';
export { restoreBackup, restoredClusterId, RESTORE_INDEX, RESTORE_TERM } from './restore';
export type { RestoreOptions, RestoreReport, RestoredShard } from './restore';
