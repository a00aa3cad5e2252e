/**
 * L2 group (the lowest L2 folder; imports only base/ and raft/ types): the contract between the node's
 * host and the state machine of one Raft group, which kv/ and meta/ implement.
 */
export type { GroupDigest, GroupSnapshotSource, GroupStateMachine } from './group-state-machine';
