/**
 * The node's Prometheus metrics (prom-client), one Registry per node so several nodes can live in one
 * process (tests). Units are in the metric names (Prometheus convention: seconds, bytes).
 * Components receive this object and only observe/increment: no metric is created on a hot path.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const latencyBucketsSeconds = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10];

export interface NodeMetrics {
  registry: Registry;
  raftTerm: Gauge<'group'>;
  raftRole: Gauge<'group'>;
  raftCommitIndex: Gauge<'group'>;
  raftAppliedIndex: Gauge<'group'>;
  raftLeaderChanges: Counter<'group'>;
  electionFastForwards: Counter<'group'>;
  proposals: Counter<'group' | 'outcome'>;
  reads: Counter<'group' | 'kind' | 'outcome'>;
  /** Propose to result (commit + apply) of one client write. */
  commitLatencySeconds: Histogram<'group'>;
  /** One StateMachine.apply batch. */
  applyLatencySeconds: Histogram<'group'>;
  /** One NodeStore.persist call (one fsync for all groups). */
  fsyncDurationSeconds: Histogram;
  persistEntries: Counter;
  queueDepth: Gauge<'queue'>;
  outboxDropped: Counter<'peer'>;
  peerMessagesSent: Counter<'peer'>;
  peerMessagesReceived: Counter;
  /** Peer stream messages (MessageBatch) written and received: Raft messages per batch = messages / batches. */
  peerBatchesSent: Counter<'peer'>;
  peerBatchesReceived: Counter;
  /**
   * KV.Pipeline stream messages: `in` (client requests, each carrying one or more ops) and `out` (responses,
   * each carrying the results completed in one turn); with pipelineOps, the batching a client gets.
   */
  pipelineMessages: Counter<'direction'>;
  /** Ops received on KV.Pipeline streams. */
  pipelineOps: Counter;
  peerConnected: Gauge<'peer'>;
  /**
   * Peer calls refused and peer batches dropped at the door (transport/handshake.ts), and peer messages the
   * node drops (sender not a member of the group, a snapshot on the message stream), by reason.
   */
  peerRejected: Counter<'reason'>;
  undecodableEntries: Counter<'group'>;
  /** Reads refused with DATA_LOSS: a stored record failed its check or the LevelDB files are damaged. */
  dataLoss: Counter<'group'>;
  /** Self-repairs of a replica whose stored data failed its check (node/self-repair.ts), by outcome. */
  selfRepairs: Counter<'group' | 'outcome'>;
  /** 1 while a group's replica on this node needs repair (its stored data failed a check), else 0. */
  needsRepair: Gauge<'group'>;
  /** Placement actions this node carried out (src/placement), by kind, cause and outcome. */
  placementActions: Counter<'kind' | 'cause' | 'outcome'>;
  /** Splits this node's shard leaders carried out (issue 10). */
  splits: Counter;
  /** Replica changes this node made as a group's leader (node/replica-change.ts), and replicas it destroyed. */
  replicaChanges: Counter<'kind' | 'outcome'>;
  replicasDestroyed: Counter;
  /** Shards (KV groups) this node hosts a replica of, and of those the ones it leads. */
  shards: Gauge;
  shardLeaders: Gauge;
  /** Groups on this node that are quiet (node/quiescence.ts: neither ticked nor heartbeating). */
  quiescentGroups: Gauge;
  snapshotsSent: Counter<'outcome'>;
  snapshotsReceived: Counter<'outcome'>;
  /** Bytes of snapshot data sent and received, by kind: InstallSnapshot chunks, or repair copies (FetchRepairSnapshot). */
  snapshotBytesSent: Counter<'kind'>;
  snapshotBytesReceived: Counter<'kind'>;
  /**
   * Keys and bytes (keys + values) of each shard this node leads, as its leader last measured them
   * (node/auto-split.ts: on becoming leader, after a quarter of a split bound was written, after a split);
   * only leaders report a shard, so a sum over nodes counts each shard once.
   */
  shardKeys: Gauge<'shard'>;
  shardBytes: Gauge<'shard'>;
  grpcLatencySeconds: Histogram<'method' | 'code'>;
  /** The node's memory budget (--memory-budget-mib) in bytes. */
  memoryBudgetBytes: Gauge;
  /** Where the in-flight gauges read their values at scrape time (set by the server; zeros until then). */
  inflightSource: { bytes: () => number; ops: () => number };
  /** Bytes of client requests and responses in flight (server/memory-budget.ts), and its bound. */
  inflightBytes: Gauge;
  inflightBytesMax: Gauge;
  /** Client ops being served. */
  inflightOps: Gauge;
  /** Requests refused because a budget was full, by reason (bytes, ops, scan). */
  overloadRefused: Counter<'reason'>;
  /** Client calls refused by access control (server/auth-guard.ts), by code (UNAUTHENTICATED, PERMISSION_DENIED). */
  authRefused: Counter<'code'>;
  /** Auth.Login answers, by result (ok, refused: wrong user or password, busy: too many logins at once). */
  logins: Counter<'result'>;
  /** Streams whose request side was paused because their responses were not drained. */
  streamPauses: Counter;
  /** Times the /metrics text was rendered (scrapes within one cache interval share a render). */
  metricsRenders: Counter;
  /** Event-loop delay (perf_hooks.monitorEventLoopDelay) over the last sample window. */
  eventLoopLagSeconds: Gauge<'quantile'>;
  /** Raft-tick-period timer firings later than the bound (obs/loop-monitor.ts). */
  raftTickLate: Counter;
}

export function createNodeMetrics(
  options: { defaultMetrics?: boolean; labels?: Record<string, string> } = {},
): NodeMetrics {
  const registry = new Registry();
  if (options.labels) registry.setDefaultLabels(options.labels);
  if (options.defaultMetrics) collectDefaultMetrics({ register: registry });
  const r = [registry];
  return {
    registry,
    ...raftMetrics(r),
    ...requestMetrics(r),
    ...storageMetrics(r),
    ...peerMetrics(r),
    ...overloadMetrics(r),
  };
}

/** Raft state per group: term, leadership, commit and applied indexes, elections. */
function raftMetrics(r: Registry[]) {
  return {
    raftTerm: new Gauge({ name: 'tessera_raft_term', help: 'Current Raft term', labelNames: ['group'], registers: r }),
    raftRole: new Gauge({
      name: 'tessera_raft_is_leader',
      help: '1 when this node leads the group',
      labelNames: ['group'],
      registers: r,
    }),
    raftCommitIndex: new Gauge({
      name: 'tessera_raft_commit_index',
      help: 'Commit index',
      labelNames: ['group'],
      registers: r,
    }),
    raftAppliedIndex: new Gauge({
      name: 'tessera_raft_applied_index',
      help: 'Applied index',
      labelNames: ['group'],
      registers: r,
    }),
    raftLeaderChanges: new Counter({
      name: 'tessera_raft_leader_changes_total',
      help: 'Leader changes seen',
      labelNames: ['group'],
      registers: r,
    }),
    electionFastForwards: new Counter({
      name: 'tessera_election_fast_forwards_total',
      help: 'Election clocks advanced because the stream to the leader broke',
      labelNames: ['group'],
      registers: r,
    }),
  };
}

/** Client requests: proposals, reads, their latencies and queues. */
function requestMetrics(r: Registry[]) {
  return {
    proposals: new Counter({
      name: 'tessera_proposals_total',
      help: 'Client write proposals by outcome',
      labelNames: ['group', 'outcome'],
      registers: r,
    }),
    reads: new Counter({
      name: 'tessera_reads_total',
      help: 'Reads by kind and outcome',
      labelNames: ['group', 'kind', 'outcome'],
      registers: r,
    }),
    commitLatencySeconds: new Histogram({
      name: 'tessera_commit_latency_seconds',
      help: 'Proposal to applied result',
      labelNames: ['group'],
      buckets: latencyBucketsSeconds,
      registers: r,
    }),
    applyLatencySeconds: new Histogram({
      name: 'tessera_apply_latency_seconds',
      help: 'One state machine apply batch',
      labelNames: ['group'],
      buckets: latencyBucketsSeconds,
      registers: r,
    }),
    queueDepth: new Gauge({
      name: 'tessera_queue_depth',
      help: 'Pending items per queue',
      labelNames: ['queue'],
      registers: r,
    }),
    grpcLatencySeconds: new Histogram({
      name: 'tessera_grpc_request_latency_seconds',
      help: 'gRPC request latency by method and status code',
      labelNames: ['method', 'code'],
      buckets: latencyBucketsSeconds,
      registers: r,
    }),
  };
}

/** Persistence and stored-data integrity. */
function storageMetrics(r: Registry[]) {
  return {
    fsyncDurationSeconds: new Histogram({
      name: 'tessera_fsync_duration_seconds',
      help: 'One synced persist of all groups',
      buckets: latencyBucketsSeconds,
      registers: r,
    }),
    persistEntries: new Counter({
      name: 'tessera_persisted_entries_total',
      help: 'Log entries persisted',
      registers: r,
    }),
    dataLoss: new Counter({
      name: 'tessera_data_loss_total',
      help: 'Reads refused with DATA_LOSS because stored data failed its check',
      labelNames: ['group'],
      registers: r,
    }),
    selfRepairs: new Counter({
      name: 'tessera_self_repairs_total',
      help: 'Repairs of this replica from a peer copy after stored data failed its check, by outcome',
      labelNames: ['group', 'outcome'],
      registers: r,
    }),
    needsRepair: new Gauge({
      name: 'tessera_replica_needs_repair',
      help: '1 while this replica of the group holds data that failed its check and waits for a repair',
      labelNames: ['group'],
      registers: r,
    }),
    placementActions: new Counter({
      name: 'tessera_placement_actions_total',
      help: 'Placement actions this node carried out (leader moves), by kind, cause and outcome',
      labelNames: ['kind', 'cause', 'outcome'],
      registers: r,
    }),
    replicaChanges: new Counter({
      name: 'tessera_replica_changes_total',
      help: 'Replica changes this node made as a group leader (addLearner, promoteLearner, removeReplica, move), by outcome (ok or an error code)',
      labelNames: ['kind', 'outcome'],
      registers: r,
    }),
    replicasDestroyed: new Counter({
      name: 'tessera_replicas_destroyed_total',
      help: 'Replicas this node destroyed after applying its own removal from their group (data, Raft log and records deleted)',
      registers: r,
    }),
    splits: new Counter({
      name: 'tessera_shard_splits_total',
      help: 'Shard splits this node proposed as the shard leader and saw applied',
      registers: r,
    }),
    shards: new Gauge({ name: 'tessera_shards', help: 'Shards this node hosts a replica of', registers: r }),
    shardKeys: new Gauge({
      name: 'tessera_shard_keys',
      help: 'Keys of each shard this node leads, as last measured by the leader (on becoming leader, after a quarter of a split bound was written, after a split)',
      labelNames: ['shard'],
      registers: r,
    }),
    shardBytes: new Gauge({
      name: 'tessera_shard_bytes',
      help: 'Bytes (keys and values) of each shard this node leads, as last measured by the leader (as tessera_shard_keys)',
      labelNames: ['shard'],
      registers: r,
    }),
    quiescentGroups: new Gauge({
      name: 'tessera_quiescent_groups',
      help: 'Groups on this node that are quiet: neither ticked nor heartbeating until a request or a suspected failure wakes them',
      registers: r,
    }),
    shardLeaders: new Gauge({
      name: 'tessera_shard_leaders',
      help: 'Shards whose replica on this node is the leader',
      registers: r,
    }),
    undecodableEntries: new Counter({
      name: 'tessera_undecodable_entries_total',
      help: 'Committed entries whose command did not decode, applied as no-ops',
      labelNames: ['group'],
      registers: r,
    }),
  };
}

/** Peer streams and snapshots. */
function peerMetrics(r: Registry[]) {
  return {
    outboxDropped: new Counter({
      name: 'tessera_outbox_dropped_total',
      help: 'Raft messages dropped because a peer outbox was full',
      labelNames: ['peer'],
      registers: r,
    }),
    peerMessagesSent: new Counter({
      name: 'tessera_peer_messages_sent_total',
      help: 'Raft messages written to peer streams',
      labelNames: ['peer'],
      registers: r,
    }),
    peerMessagesReceived: new Counter({
      name: 'tessera_peer_messages_received_total',
      help: 'Raft messages received',
      registers: r,
    }),
    peerBatchesSent: new Counter({
      name: 'tessera_peer_batches_sent_total',
      help: 'Peer stream messages (batches of Raft messages) written',
      labelNames: ['peer'],
      registers: r,
    }),
    peerBatchesReceived: new Counter({
      name: 'tessera_peer_batches_received_total',
      help: 'Peer stream messages (batches of Raft messages) received and accepted',
      registers: r,
    }),
    pipelineMessages: new Counter({
      name: 'tessera_pipeline_messages_total',
      help: 'KV.Pipeline stream messages: in = client requests (one or more ops each), out = responses',
      labelNames: ['direction'],
      registers: r,
    }),
    pipelineOps: new Counter({
      name: 'tessera_pipeline_ops_total',
      help: 'Ops received on KV.Pipeline streams',
      registers: r,
    }),
    peerConnected: new Gauge({
      name: 'tessera_peer_connected',
      help: '1 when the outgoing stream to the peer is up',
      labelNames: ['peer'],
      registers: r,
    }),
    peerRejected: new Counter({
      name: 'tessera_peer_rejected_total',
      help: 'Peer calls refused or messages dropped: handshake checks (transport), group membership and snapshot path (node)',
      labelNames: ['reason'],
      registers: r,
    }),
    snapshotsSent: new Counter({
      name: 'tessera_snapshots_sent_total',
      help: 'Snapshots streamed to followers',
      labelNames: ['outcome'],
      registers: r,
    }),
    snapshotsReceived: new Counter({
      name: 'tessera_snapshots_received_total',
      help: 'Snapshots received from leaders',
      labelNames: ['outcome'],
      registers: r,
    }),
    snapshotBytesSent: zeroed(
      new Counter({
        name: 'tessera_snapshot_bytes_sent_total',
        help: 'Bytes of snapshot data sent: kind="install" streamed to followers (InstallSnapshot), kind="repair" copies served to a member repairing its data (FetchRepairSnapshot)',
        labelNames: ['kind'],
        registers: r,
      }),
    ),
    snapshotBytesReceived: zeroed(
      new Counter({
        name: 'tessera_snapshot_bytes_received_total',
        help: 'Bytes of snapshot data received: kind="install" from leaders (accepted or not), kind="repair" copies read from a peer to repair this node',
        labelNames: ['kind'],
        registers: r,
      }),
    ),
  };
}

function overloadMetrics(r: Registry[]) {
  const inflightSource = { bytes: () => 0, ops: () => 0 };
  return {
    inflightSource,
    memoryBudgetBytes: new Gauge({
      name: 'tessera_memory_budget_bytes',
      help: 'The memory budget of the node (--memory-budget-mib)',
      registers: r,
    }),
    inflightBytes: new Gauge({
      name: 'tessera_inflight_bytes',
      help: 'Bytes of client requests and unflushed responses in flight',
      registers: r,
      collect() {
        this.set(inflightSource.bytes());
      },
    }),
    inflightBytesMax: new Gauge({
      name: 'tessera_inflight_bytes_max',
      help: 'Bound on tessera_inflight_bytes (memory budget / 8)',
      registers: r,
    }),
    inflightOps: new Gauge({
      name: 'tessera_inflight_ops',
      help: 'Client ops being served',
      registers: r,
      collect() {
        this.set(inflightSource.ops());
      },
    }),
    overloadRefused: new Counter({
      name: 'tessera_overload_refused_total',
      help: 'Requests refused with RESOURCE_EXHAUSTED because a node budget was full, by reason',
      labelNames: ['reason'],
      registers: r,
    }),
    authRefused: new Counter({
      name: 'tessera_auth_refused_total',
      help: 'Client calls refused by access control (--auth-file), by code (UNAUTHENTICATED, PERMISSION_DENIED)',
      labelNames: ['code'],
      registers: r,
    }),
    logins: new Counter({
      name: 'tessera_logins_total',
      help: 'Auth.Login answers, by result (ok, refused: wrong user or password, busy: too many logins at once)',
      labelNames: ['result'],
      registers: r,
    }),
    streamPauses: new Counter({
      name: 'tessera_stream_pauses_total',
      help: 'Times a stream stopped being read because its responses were not drained',
      registers: r,
    }),
    metricsRenders: new Counter({
      name: 'tessera_metrics_renders_total',
      help: 'Renders of the /metrics text (concurrent and repeated scrapes within the cache interval share one)',
      registers: r,
    }),
    eventLoopLagSeconds: new Gauge({
      name: 'tessera_event_loop_lag_seconds',
      help: 'Event-loop delay over the last window, by quantile (0.5, 0.99, 1 = max)',
      labelNames: ['quantile'],
      registers: r,
    }),
    raftTickLate: new Counter({
      name: 'tessera_raft_tick_late_total',
      help: 'Timer firings at the Raft tick period that came later than half an election timeout',
      registers: r,
    }),
  };
}

/** Sets (or, with null, removes) a shard's tessera_shard_keys and tessera_shard_bytes (node/auto-split.ts). */
export function shardStatsReporter(
  m: Pick<NodeMetrics, 'shardKeys' | 'shardBytes'>,
): (shard: number, stats: { keys: number; bytes: number } | null) => void {
  return (shard, stats) => {
    const labels = { shard: String(shard) };
    if (stats === null) {
      m.shardKeys.remove(labels);
      m.shardBytes.remove(labels);
    } else {
      m.shardKeys.set(labels, stats.keys);
      m.shardBytes.set(labels, stats.bytes);
    }
  };
}

/** Kinds of snapshot transfer counted in tessera_snapshot_bytes_{sent,received}_total. */
type SnapshotTransferKind = 'install' | 'repair';

/** A snapshot-bytes counter with both kinds present at 0, so a scrape shows them before any transfer. */
function zeroed(c: Counter<'kind'>): Counter<'kind'> {
  for (const kind of ['install', 'repair'] satisfies SnapshotTransferKind[]) c.inc({ kind }, 0);
  return c;
}
