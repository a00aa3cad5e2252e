/**
 * The node's typed configuration: every field explicit and validated once at start (validate.ts).
 * Nothing below this object reads flags, environment variables or files.
 * Invariants (checked by validateNodeConfig): peers contains this node unless `join` is set;
 * heartbeatTicks >= 1; electionTicks > 2 * heartbeatTicks; every limit and queue bound is positive;
 * sessionTtlMs >= SESSION_TTL_MS_MIN and > requestTimeoutMs.
 */
import type { NodeId } from '../base';

export interface HostPort {
  host: string;
  port: number;
}

export type ProfileName = 'default' | 'low-latency';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

export interface TimingConfig {
  /** Leader heartbeat interval. */
  heartbeatMs: number;
  /** Minimum election timeout; the core randomizes it in [electionMs, 2 * electionMs). */
  electionMs: number;
  /** Period of core.tick(); heartbeatMs and electionMs are rounded to whole ticks. */
  tickMs: number;
  heartbeatTicks: number;
  electionTicks: number;
}

export interface LimitsConfig {
  keyBytesMax: number;
  valueBytesMax: number;
  batchOpsMax: number;
  batchBytesMax: number;
  /** Upper bound on a Scan page (items and bytes), whatever the request asks. */
  scanItemsMax: number;
  scanBytesMax: number;
}

export interface QueuesConfig {
  /** Proposals waiting for commit per group; beyond it RESOURCE_EXHAUSTED. */
  proposalsMax: number;
  /** Linearizable reads waiting for their read index per group; beyond it RESOURCE_EXHAUSTED. */
  readsMax: number;
  /** Encoded Raft messages queued per peer; beyond it new messages are dropped and counted. */
  outboxMessagesMax: number;
}

export interface RaftTuning {
  preVote: boolean;
  checkQuorum: boolean;
  /** Followers learn a new commit index from the next append or heartbeat (RaftConfig.lazyCommit). */
  lazyCommit: boolean;
  inflightMessagesMax: number;
  /** Entry bytes of the AppendEntries in flight per follower (default memory budget / 16). */
  inflightBytesMax: number;
  appendBytesMax: number;
  uncommittedBytesMax: number;
}

/** PEM file paths. For the client listener `ca` is optional (set: clients need a certificate it signed). */
export interface TlsFiles {
  cert: string;
  key: string;
  ca: string | null;
}

export interface NodeConfig {
  id: NodeId;
  /** Where the gRPC server for clients (KV, Admin; and the Raft peer service unless peerListen) listens. */
  listen: HostPort;
  /**
   * A separate listener for the Raft peer service only (firewall it from clients); null: peers use
   * `listen`. With it set, the client listener does not serve the Raft service, and --peers names
   * peer-listener addresses.
   */
  peerListen: HostPort | null;
  /** Secret shared by the bootstrap members; the cluster id is derived from it (null: from --peers). */
  clusterToken: string | null;
  /** TLS for the client listener (null: plaintext). */
  tls: TlsFiles | null;
  /** Mutual TLS for peer traffic (null: plaintext). */
  peerTls: TlsFiles | null;
  /**
   * The auth file (--auth-file): users, roles, key-prefix grants and the token secret; every client call
   * then needs a token (server/auth-guard.ts). Null: access control is off. Read and validated at start.
   */
  authFile: string | null;
  /** The address other nodes and clients use for this node (peers[id] when given, else listen). */
  advertiseAddress: string;
  /** Every initial member, this node included, as id -> "host:port". */
  peers: Map<NodeId, string>;
  dataDir: string;
  /** HTTP server for /metrics and /healthz; null disables it. */
  http: HostPort | null;
  /** Join an existing cluster (wait to be added with Admin.AddNode) instead of bootstrapping one. */
  join: boolean;
  profile: ProfileName;
  timing: TimingConfig;
  limits: LimitsConfig;
  queues: QueuesConfig;
  raft: RaftTuning;
  /** Compact the log (and so send snapshots to lagging followers) once it holds more entries than this. */
  snapshotEntries: number;
  /** Entries kept behind the applied index at compaction, so briefly lagging followers need no snapshot. */
  logRetainEntries: number;
  /**
   * Compact the log also once its applied entries hold more bytes than this (default memory budget / 8);
   * the entries kept behind the applied index then hold at most a quarter of it (node/compaction.ts).
   */
  snapshotBytes: number;
  /** Leader moves for balance by the placement driver (src/placement/driver.ts); drains move leaders anyway. */
  balanceLeaders: boolean;
  /** Whether this node runs the placement driver (it acts only while it leads the meta shard). */
  placement: boolean;
  /** Voters per shard the placement driver keeps on distinct live nodes (--replicas). */
  replicas: number;
  /** A node silent for longer is dead: its replicas are re-created elsewhere (--dead-node-timeout-ms). */
  deadNodeTimeoutMs: number;
  /** The placement driver's round (poll, plan, act) on the meta leader. */
  placementIntervalMs: number;
  /** Automatic splits (node/auto-split.ts): a shard past either bound splits near its middle; 0 turns one off. */
  splitMaxKeys: number;
  splitMaxBytes: number;
  /** Target size of one InstallSnapshot chunk. */
  snapshotChunkBytes: number;
  /** Client sessions remembered per group (exactly-once writes). */
  sessionsMax: number;
  /** New sessions one client address may open per second (token bucket, burst 10x); RESOURCE_EXHAUSTED past it. */
  sessionsNewPerClientPerSecond: number;
  /**
   * A client session unused for longer than this (ms) is forgotten. Measured in log time (the proposing
   * leader's clock stamped into each command), so every replica expires the same sessions. Must exceed
   * requestTimeoutMs and SESSION_TTL_MS_MIN.
   */
  sessionTtlMs: number;
  /** Upper bound on how long a request waits for commit or a read index when the client sets no deadline. */
  requestTimeoutMs: number;
  /** SIGTERM: budget of the leader drain before the node stops (--shutdown-drain-ms; 0: none). */
  shutdownDrainMs: number;
  /**
   * TEST ONLY, UNSAFE: serve linearizable reads from the local replica without ReadIndex. Breaks
   * linearizability under partitions; exists so jepsen-lite can prove it detects stale reads.
   */
  unsafeStaleReads: boolean;
  /**
   * The node's memory budget in bytes (--memory-budget-mib). The overload bounds derive from it
   * (server/memory-budget.ts): bytes of client requests and responses in flight, bytes queued per stream,
   * HTTP/2 session memory per connection, Scan pages in flight.
   */
  memoryBudgetBytes: number;
  /** Open client connections on the gRPC listener (--connections-max); past it new ones are refused. */
  connectionsMax: number;
  logLevel: LogLevel;
}
