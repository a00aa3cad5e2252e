/** L0 base: assertions, typed errors, ids, seeded randomness, time capabilities. Imports nothing. */
export { InvariantError, assert, unreachable } from './assert';
export { TesseraError, isTesseraError } from './errors';
export type { ErrorCode, ErrorDetails } from './errors';
export { Random } from './random';
export { NO_NODE, epochOf, isEpoch, isNodeId, isShardId, shardIdOf } from './ids';
export type { Epoch, GroupId, NodeId, ShardId } from './ids';
export { systemClock, systemScheduler } from './clock';
export type { Clock, Scheduler } from './clock';
