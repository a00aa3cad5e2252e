/**
 * L1 shard: the pure sharding core (DESIGN.md section 5, issue 10): byte keys and ranges, descriptors with
 * epochs, the shard map (locate, apply, staleness, range iteration), split planning and the placement
 * planner. Imports nothing but src/base; not yet wired into the node (a later change does that).
 */
export { KEYSPACE_START, compareEnds, compareKeys, isBeforeEnd, keysEqual, printableKey, rangesOverlap } from './key';
export type { Key, KeyEnd } from './key';
export {
  containsKey,
  describeShard,
  learners,
  makeDescriptor,
  replicaOn,
  sameDescriptor,
  validateDescriptor,
  voters,
} from './descriptor';
export type { DescriptorInput, DescriptorRule, Replica, ReplicaRole, ShardDescriptor } from './descriptor';
export {
  SHARD_TRAILER,
  SHARD_WIRE_CHARS_MAX,
  SHARD_WIRE_REPLICAS_MAX,
  decodeShardWire,
  encodeShardWire,
  wrongShardDetails,
} from './descriptor-wire';
export type { ShardWireDecoded } from './descriptor-wire';
export { addLearner, promoteLearner, removeReplica } from './replica-change';
export { ShardMap } from './shard-map';
export type { ApplyOutcome, KeyCheck, KeyRange, Staleness } from './shard-map';
export { defaultSplitLimits, planSplit, splitDescriptor, validateSplitInputs } from './split';
export type { ShardStats, SplitLimits, SplitPlan, SplitSample } from './split';
export * from './placement';
