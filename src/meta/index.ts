/**
 * L2 meta: the meta shard's state machine (issue 10): the cluster record, the descriptors (the meta
 * group's and the data shards' that tile the user keyspace), the node registry, and the meta leader's
 * in-memory liveness table. Imports base, codec, group, raft (types), shard and storage; nothing below L3
 * imports it. See state-machine.ts for how the node will run it.
 */
export { MetaStateMachine } from './state-machine';
export type { MetaStateMachineOptions } from './state-machine';
export { encodeMetaCommand, decodeMetaCommand } from './command-codec';
export { LivenessTable, checkHeartbeat } from './liveness';
export type { Heartbeat, NodeLiveness, Registry } from './liveness';
export { clusterSnapshot, clusterView, nodeSummaries } from './cluster-view';
export type { MetaReads, NodeSummary } from './cluster-view';
export { refusalError } from './refusal-error';
export { isLegalTransition } from './node-transitions';
export { decodeMetaChunk } from './snapshot-chunk';
export type { MetaChunk } from './snapshot-chunk';
export { FIRST_DATA_SHARD_ID, INITIAL_EPOCH, META_LIMITS, META_SHARD_ID } from './types';
export type {
  ClusterRecord,
  MetaCommand,
  MetaResult,
  NodeRecord,
  NodeState,
  RefusalReason,
  ReplicaChangeKind,
} from './types';
