/**
 * L3 node: the NodeHost that runs the node's Raft groups (multi-raft) over one NodeStore and one
 * Transport: group commit, proposals and batched linearizable reads, snapshots and compaction.
 */
export { NodeHost, WHOLE_KEYSPACE_GROUP } from './node-host';
export type {
  GroupStatusInfo,
  LocalShardInfo,
  MemberInfo,
  NodeHostOptions,
  ReadConsistency,
  ResponseHeader,
} from './types';
export { AddressBook } from './address-book';
export { peersContradiction, readStoredMembership } from './stored-membership';
export type { StoredMembership } from './stored-membership';
export { decodeResult as decodeForwardedMetaResult } from './meta-host';
export { DRAIN_CONCURRENCY, drainLeaders, ledGroups, pickLeaderTarget, refusesLeadership } from './leader-drain';
export type { LeaderDrainHost, LeaderDrainOptions, LeaderDrainResult } from './leader-drain';
