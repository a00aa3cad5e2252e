/**
 * The SDK's public types: options, results and status shapes. Keys and values come in as strings or bytes
 * (see Bytes) and always come back as Buffers.
 */
import type { ChannelOptions } from '@grpc/grpc-js';
import type { TesseraError } from '../base';
import type { Bytes } from './bytes';
import type { FaultInjection } from './endpoint';

export type { Bytes } from './bytes';
export type { FaultInjection } from './endpoint';

export interface ClientOptions {
  /** host:port of one or more nodes; leaders learned from NOT_LEADER hints are added automatically. */
  endpoints: readonly string[];
  /** Per-call deadline, retries included. Default 5000. */
  deadlineMs?: number;
  /** Timeout of one attempt (doubled on retries to a node that is alive but slow). Default 400. */
  attemptTimeoutMs?: number;
  /** How long an endpoint that timed out or refused a connection is avoided. Default 1000. */
  unhealthyMs?: number;
  /** Retry backoff: equal-jitter exponential from backoffBaseMs up to backoffMaxMs. Defaults 10 and 50 (short: after a leader dies the survivors are re-probed promptly). */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  /** Upper bound of concurrent writes (one session each); more writers wait. Default 1024. */
  sessionsMax?: number;
  /** Upper bound of endpoints (configured plus learned). Default 64. */
  endpointsMax?: number;
  /**
   * Whether leader addresses named in NOT_LEADER hints may be added as new endpoints. Default true.
   * Set false when the client must only use its configured addresses (e.g. behind proxies); hints are
   * then resolved by node id to the configured endpoint that answers as that node.
   */
  learnEndpoints?: boolean;
  /** Ask every endpoint for its Status once at construction (node ids, current leader). Default true. */
  discover?: boolean;
  /**
   * TLS for every channel to the nodes (their --tls-cert/--tls-key; with --tls-ca the nodes also require a
   * client certificate). Default: plaintext.
   */
  tls?: ClientTlsOptions;
  /**
   * Access control (a cluster started with --auth-file): the client logs in as this user on its first call
   * (Auth.Login), sends the token with every call, and logs in again when it expires. With password.
   */
  user?: string;
  password?: string;
  /** Extra grpc-js channel options (merged over the SDK's defaults). */
  channelOptions?: ChannelOptions;
  /** TEST ONLY: fault injection at the transport boundary (e.g. drop a reply after the server applied it). */
  faultInjection?: FaultInjection;
}

/** PEM material as strings or Buffers (e.g. readFileSync(path)). */
export interface ClientTlsOptions {
  /** CA certificate(s) that signed the nodes' certificates; only servers it signed are trusted. */
  ca: string | Buffer;
  /** Client certificate and its private key, for nodes that require one (mutual TLS); both or neither. */
  cert?: string | Buffer;
  key?: string | Buffer;
  /** Name checked against the node's certificate instead of the endpoint's host (SNI too). */
  serverName?: string;
}

export type Consistency = 'linearizable' | 'stale';

export interface CallOptions {
  /** Overrides ClientOptions.deadlineMs for this call. */
  deadlineMs?: number;
}

export interface GetOptions extends CallOptions {
  /** 'linearizable' (default): ReadIndex on the leader. 'stale': any replica, no round trip to the leader. */
  consistency?: Consistency;
}

export interface CasResult {
  succeeded: boolean;
  /** When failed: the current value (null = absent). When succeeded: the value now stored (null = deleted). */
  current: Buffer | null;
}

export interface KeyValue {
  key: Buffer;
  value: Buffer;
}

export interface ScanPage {
  items: KeyValue[];
}

export interface ScanOptions extends GetOptions {
  /** Items per page requested from the server. Default 256. */
  pageLimit?: number;
  /** Bytes (keys + values) per page requested from the server. Default 1 MiB. */
  pageBytesMax?: number;
  /** Stop after this many items in total. Default: no limit. */
  limit?: number;
}

export type BatchOp =
  | { op: 'put'; key: Bytes; value: Bytes }
  | { op: 'delete'; key: Bytes }
  /** Reads the value as it was before the batch's writes. */
  | { op: 'get'; key: Bytes };

export interface BatchCompare {
  key: Bytes;
  /** null: the key must be absent. */
  expected: Bytes | null;
}

export interface BatchRequest {
  compares?: readonly BatchCompare[];
  ops: readonly BatchOp[];
}

export interface BatchResult {
  /** False when a compare failed; then nothing was applied and results is empty. */
  succeeded: boolean;
  /** One per op: the value for a 'get' (null when absent), null for 'put' and 'delete'. */
  results: (Buffer | null)[];
}

export interface Member {
  id: number;
  address: string;
  voter: boolean;
  /** The leader's view of the member's replicated index (0 when unknown or not reported by a leader). */
  match: number;
}

export interface GroupStatus {
  groupId: number;
  /** Node id of the leader as this node sees it, 0 when unknown. */
  leader: number;
  term: number;
  /** This node's role in the group (e.g. leader, follower, candidate, learner). */
  role: string;
  commit: number;
  applied: number;
  firstIndex: number;
  lastIndex: number;
  members: Member[];
  start: Buffer;
  end: Buffer;
  /** 'data' (a shard of user data) or 'meta' (the meta shard); absent from a node of an older version. */
  kind?: string;
}

/** One node of the registry (Client.listNodes). */
export interface NodeInfo {
  id: number;
  address: string;
  state: 'up' | 'down' | 'draining' | 'removed';
  /** Shards with a replica on the node, and those it leads, among the shards the answering node hosts. */
  replicas: number;
  leaders: number;
}

export interface NodeStatus {
  nodeId: number;
  address: string;
  /** The address peers dial the node at (its --peer-listen's); '' from a node of a version without it. */
  peerAddress: string;
  version: string;
  groups: GroupStatus[];
}

/** One shard as a node reports it (Client.listShards). */
export interface ShardInfo {
  id: number;
  /** The shard owns [start, end); end null: unbounded (the last shard). */
  start: Buffer;
  end: Buffer | null;
  /** Bumped by every split and replica change. */
  epoch: number;
  /** voter false: a learner. */
  replicas: { id: number; voter: boolean }[];
  /** Node id of the leader as the reporting node sees it, 0 when unknown. */
  leader: number;
  /** Keys and bytes (keys and values) held: only with { withStats: true }, else 0. */
  keys: number;
  bytes: number;
  /** The reporting replica's applied index. */
  applied: number;
}

export interface ListShardsOptions {
  /** Adds keys and bytes per shard (the node reads each range: slower). */
  withStats?: boolean;
  /** Ask this node (one attempt); else any reachable node, with retries. */
  endpoint?: string;
  /** Default: the client's deadlineMs. */
  timeoutMs?: number;
}

/** The two halves of a split: left is the parent narrowed to [start, key), right the new shard [key, end). */
export interface SplitResult {
  left: ShardInfo;
  right: ShardInfo;
}

export type EndpointStatus =
  { endpoint: string; ok: true; status: NodeStatus } | { endpoint: string; ok: false; error: TesseraError };
