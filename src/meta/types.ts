/**
 * The meta shard's commands, results and records (issue 10, "The model"): the cluster record, the
 * descriptors (the meta group's own and the data shards', which tile the user keyspace) and the node
 * registry. Commands are what the meta group's normal Raft entries carry (command-codec.ts encodes and
 * validates them); results are what a proposer's waiter receives.
 *
 * Refusals are results, not exceptions: applying a refused command changes nothing and gives the same
 * refusal on every replica (deterministic); the proposer turns one into a typed error (refusalError).
 */
import type { Epoch, NodeId, ShardId } from '../base';
import type { Key, NodeState, ShardDescriptor } from '../shard';

export type { NodeState };

/** Bounds on what the meta state holds and what one command may carry. */
export const META_LIMITS = Object.freeze({
  /** Registry records, removed ones included (they keep their ids from ever being reused). */
  nodesMax: 1024,
  /** Data shards. */
  shardsMax: 100_000,
  addressBytesMax: 255,
  /** Split keys (the KV default keyBytesMax is 4 KiB; a node may be configured higher). */
  splitKeyBytesMax: 64 * 1024,
  /** Shard ids one reserveShardIds command may hand out. */
  reserveShardIdsMax: 1024,
});

/** The shard ids of a fresh cluster: shard 1 keeps the group id of the single-group layout (its data stays). */
export const FIRST_DATA_SHARD_ID = 1 as ShardId;
export const META_SHARD_ID = 2 as ShardId;
/** Epoch of the descriptors a bootstrap creates (0 stays "knows nothing" for clients). */
export const INITIAL_EPOCH = 1 as Epoch;

export interface NodeRecord {
  readonly id: NodeId;
  /** host:port clients dial (and nodes, when peerAddress is null). */
  readonly address: string;
  /** host:port nodes dial for Raft (its --peer-listen), when it differs from address; null: address. */
  readonly peerAddress: string | null;
  readonly state: NodeState;
  /** Log time (the proposer's clock, from the command) of the registration; null if none was carried. */
  readonly registeredAtMs: number | null;
  /** Log time of the last state change (registration included). */
  readonly stateSinceMs: number | null;
}

export interface ClusterRecord {
  /** 32 lowercase hex digits (storage/identity.ts). */
  readonly clusterId: string;
  /** The next shard id reserveShardIds hands out; every id below it is used or reserved, never reused. */
  readonly nextShardId: number;
  readonly bootstrappedAtMs: number | null;
}

export type ReplicaChangeKind = 'addLearner' | 'promoteLearner' | 'removeReplica';

export type MetaCommand =
  /** Creates the cluster: its id, the bootstrap nodes (registered up), the meta group and one data shard. */
  | {
      type: 'bootstrap';
      clusterId: string;
      nodes: readonly { readonly id: NodeId; readonly address: string }[];
      metaShardId: ShardId;
      dataShardId: ShardId;
      atMs?: number;
    }
  /** A node joining (--join): refused on a cluster id mismatch or an id another node holds. */
  | {
      type: 'registerNode';
      clusterId: string;
      nodeId: NodeId;
      address: string;
      atMs?: number;
      /** Its --peer-listen address, when it has one (members dial it there, not at `address`). */
      peerAddress?: string;
    }
  | { type: 'setNodeState'; nodeId: NodeId; state: NodeState; atMs?: number }
  /** Hands out `count` fresh shard ids (the right-hand halves of splits), like TiKV PD's AllocID. */
  | { type: 'reserveShardIds'; count: number }
  /** Records the split of `shard`, planned against `epoch`, at `key`; `rightId` must be reserved and unused. */
  | { type: 'split'; shard: ShardId; epoch: Epoch; key: Key; rightId: ShardId }
  /** Records a one-step replica change of `shard` (a data shard or the meta group) planned against `epoch`. */
  | { type: 'changeReplicas'; shard: ShardId; epoch: Epoch; change: ReplicaChangeKind; node: NodeId }
  /**
   * Records `shard`'s replicas and epoch as its leader reports them (the placement driver's catch-up, when
   * the meta copy cannot follow step by step), planned against `epoch`; `newEpoch` must be later and the
   * range is kept.
   */
  | {
      type: 'setReplicas';
      shard: ShardId;
      epoch: Epoch;
      newEpoch: Epoch;
      replicas: readonly { readonly node: NodeId; readonly role: 'voter' | 'learner' }[];
    };

export type RefusalReason =
  | 'not-bootstrapped'
  | 'already-bootstrapped'
  | 'cluster-mismatch'
  | 'node-id-taken'
  | 'address-taken'
  | 'unknown-node'
  | 'node-removed'
  | 'illegal-transition'
  | 'unknown-shard'
  | 'epoch-mismatch'
  | 'shard-id-not-reserved'
  | 'bad-split'
  | 'bad-replica-change'
  | 'limit';

export type MetaResult =
  | { type: 'bootstrapped'; meta: ShardDescriptor; data: ShardDescriptor }
  /** created false: the same node registered again with the same address (a retried join). */
  | { type: 'registered'; node: NodeRecord; created: boolean }
  | { type: 'nodeState'; node: NodeRecord; previous: NodeState }
  | { type: 'shardIdsReserved'; first: ShardId; count: number }
  | { type: 'split'; left: ShardDescriptor; right: ShardDescriptor }
  | { type: 'replicasChanged'; descriptor: ShardDescriptor }
  /** Nothing changed. `current`: the shard's descriptor now, for epoch refusals and shard errors. */
  | { type: 'refused'; reason: RefusalReason; message: string; current?: ShardDescriptor }
  /** A committed entry whose data is not a meta command: applied as a no-op on every replica. */
  | { type: 'undecodable'; message: string };
