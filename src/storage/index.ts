/** L2 storage: the node's LevelDB with the durable Raft state of all its groups (group commit). */
export { NodeStore } from './node-store';
export { asLevelCorruption, classifyLevelError } from './level-failure';
export type { LevelFailure } from './level-failure';
export type { VerifyReport } from './node-store';
export type { GroupWrite, GroupDurableState, StoreDb } from './types';
export { writeBatch } from './write-batch';
export { levelMemoryOptions } from './level-options';
export type { LevelMemoryOptions } from './level-options';
export type { BatchOp } from './write-batch';
export { deriveClusterId, loadIdentity, saveIdentity } from './identity';
export type { NodeIdentity } from './identity';
