/**
 * NodeHost: runs the node's replica groups (multi-raft; today group 1 spans the whole keyspace) over one
 * NodeStore and one Transport. The ready loop itself (group commit, early sends, snapshot install and
 * apply, compaction; the steps and their invariants) is ready-loop.ts, which the simulator runs too;
 * NodeHost wires it to LevelDB, gRPC and Node timers (makeIo) and owns what the loop does not:
 *   Proposals and reads that arrive in the same event-loop turn share one loop run (Scheduler.soon, i.e.
 *   setImmediate): the queued writes go to the core as one proposeBatch (one AppendEntries per follower)
 *   and the queued reads as one ReadIndex round. While a Ready is being persisted or applied, new
 *   proposals, reads and peer messages are still fed to the cores each turn, and the messages that never
 *   wait for persistence are sent at once (ReadyLoop.schedule).
 *   Snapshots: streamed to followers by snapshot-transfer.ts; received ones are staged
 *   (snapshot-staging.ts) and installed by the loop.
 *
 * Failure detection: besides Raft's own election timeout, a follower whose peer stream to its leader
 * breaks advances its election clock by one election timeout (once per term; see onUnreachable), so
 * a crashed leader is replaced after a random [0, election) ms instead of [election, 2 * election).
 *
 * Invariants: proposals wait for their (index, term) to be applied; a leadership loss fails every
 * pending proposal and read with a retryable error; queues are bounded (RESOURCE_EXHAUSTED); a failure
 * of persistence or apply is fatal (onFatal), never skipped.
 */
import {
  NO_NODE,
  TesseraError,
  isTesseraError,
  isShardId,
  InvariantError,
  systemClock,
  systemScheduler,
  type Clock,
  type GroupId,
  type NodeId,
  type Scheduler,
} from '../base';
import { decodeRaftMessage, encodeCommand, encodeRaftMessage, type Command, type CommandResult } from '../codec';
import type { NodeConfig } from '../config';
import type { KeyRange, StateMachine } from '../kv';
import type {
  ConfigState,
  DropReason,
  Entry,
  MembershipChange,
  Message,
  ProposeOutcome,
  Ready,
  Role,
  SnapshotMeta,
} from '../raft';
import { isValidAddress, type IncomingSnapshot, type RepairSource, type TransportHandler } from '../transport';
import { EPOCH_UNRECORDED, loadGroupShard, splitRefusalError } from '../kv';
import { META_SHARD_ID } from '../meta';
import { shardStatsReporter } from '../obs';
import type { MetaCommand, MetaResult, MetaStateMachine } from '../meta';
import { AddressBook } from './address-book';
import { EarlyMessages } from './early-messages';
import {
  LocalShards,
  describedShards,
  descriptorOf,
  overlappingShard,
  overlappingStagedShard,
  routableDescriptorOf,
  shardInfoOf,
} from './local-shards';
import { wrongShardDetails } from '../shard';
import { configAtSplit, kvGroupsToOpen, splitGroupRaftStart } from './split-groups';
import { compactAt, noteApplied, resetCompaction, takeCompactionPoint } from './compaction';
import { dropError, leadershipLostError, notLeaderError } from './errors';
import { Group, type QueuedProposal } from './group';
import { bootstrapConfigOf, openGroup, openMetaGroup } from './group-open';
import { MetaHost } from './meta-host';
import { AutoSplit, measureShard } from './auto-split';
import { LoopJoin, driveWithPromises, type LoopWait } from './loop-driver';
import {
  connectMembers,
  encodeMemberContext,
  learnFromConfigEntry,
  learnFromSnapshot,
  membersOf,
  withMemberAddresses,
} from './membership';
import { checkMembershipChange, type GuardDecision, type GuardedChange, type MemberProgress } from './membership-guard';
import {
  NODE_BEAT_GROUP,
  Quiescence,
  encodeNodeBeat,
  leaderMayQuiesce,
  quiesceHeartbeats,
  wakesQuietGroup,
} from './quiescence';
import { ReadyLoop, type PersistWrite, type ReadyLoopIo } from './ready-loop';
import { ReplicaChanges, type ReplicaChange } from './replica-change';
import { destroyDecision, destroyRanges, removalOfSelf, removedAtOpen, type PendingDestroy } from './replica-destroy';
import { Tombstones, reopenAllowed, type Tombstone } from './tombstones';
import { Farewells, type CatchUp } from './farewells';
import { SelfRepair } from './self-repair';
import { abandonStaging, beginStaging, stepStaged } from './snapshot-staging';
import { sendSnapshot, stageSnapshot, type SnapshotSendContext } from './snapshot-transfer';
import type {
  GroupStatusInfo,
  LocalShardInfo,
  MemberInfo,
  NodeHostOptions,
  ReadConsistency,
  ResponseHeader,
} from './types';

export const WHOLE_KEYSPACE_GROUP: GroupId = 1;
/** Uninitialized replicas (opened from a leader's message, waiting for a snapshot) a node holds at most. */
const UNINITIALIZED_GROUPS_MAX = 64;
/** Ticks between two checks that quiescence tracks every hosted group (checkTracked). */
const TRACK_CHECK_TICKS = 100;

type PeerRejection =
  | 'not_member'
  | 'snapshot_on_stream'
  | 'snapshot_not_member'
  | 'malformed'
  | 'invalid_message'
  | 'spoofed_message_from'
  | 'unknown_group';
/** Distinct senders logged per rejection reason; past it drops are only counted. */
const PEER_REJECTIONS_LOGGED_MAX = 256;
/** Distinct keys of corrupt records logged per group (every refused read is still counted). */
const CORRUPT_KEYS_LOGGED_MAX = 256;

export class NodeHost implements TransportHandler {
  private readonly groups = new Map<GroupId, Group>();
  /** The hosted KV groups by range (which one owns a key). */
  private readonly shards = new LocalShards();
  /** Splits shards this node leads once they pass --split-max-keys / --split-max-bytes (auto-split.ts). */
  private readonly autoSplit: AutoSplit;
  /** The meta shard as this node uses it (meta-host.ts). */
  private readonly meta: MetaHost;
  /** Groups being opened as uninitialized replicas (maybeOpenUninitialized). */
  private readonly opening = new Map<GroupId, Promise<void>>();
  /** When a leader's message for each unknown group was first heard (bounded; maybeOpenUninitialized). */
  private readonly unknownGroupsHeard = new Map<number, number>();
  /** Peer messages for groups not open yet (a split's right-hand group on a follower; early-messages.ts). */
  private readonly earlyMessages: EarlyMessages;
  private readonly cfg: NodeConfig;
  private tickTimer: { cancel(): void } | null = null;
  private readonly clock: Clock;
  private readonly scheduler: Scheduler;
  private readonly loop: ReadyLoop<Group>;
  private closed = false;
  private fatal: unknown = null;
  private stagingSeq = 0;
  private readonly snapshotContext: SnapshotSendContext;
  /** Repairs a replica whose stored data failed its check from a peer copy (self-repair.ts). */
  private readonly repair: SelfRepair;
  /** Queue-depth gauges bound to their labels once (set after every Ready). */
  private readonly queueDepth: Record<'proposals' | 'reads' | 'outbox', { set(v: number): void }>;
  /** Rejected-peer-message counters bound to their labels once (the drop path allocates nothing either). */
  private readonly peerRejected: Record<PeerRejection, { inc(): void }>;
  /** Senders already logged per rejection reason (log once per sender; bounded). */
  private readonly peerRejectedLogged = new Map<PeerRejection, Set<NodeId>>();
  /** When a message from each member was last stepped (ms, monotonic): liveness for the membership guard. */
  private readonly lastHeardMs = new Map<NodeId, number>();
  /** Groups with nothing to do go quiet: neither ticked nor heartbeating (quiescence.ts). */
  private readonly quiescence: Quiescence;
  /** Quiet groups stepped since the ready loop last found nothing to do for them (loopGroups). */
  private readonly touchedQuiet = new Set<GroupId>();
  /** Ticks since the last node beat (one per peer per heartbeat interval; quiescence.ts). */
  private ticksSinceBeat = 0;
  private ticksSinceTrackCheck = 0;
  /**
   * AddNode/RemoveNode calls still running, by node: a client whose attempt timed out retries while the
   * first call still waits for the node to catch up; the retry joins that call instead of racing it (two
   * promotions: the second was refused once the first applied). At most one entry per member id.
   */
  private readonly memberCallsInFlight = new Map<NodeId, { key: string; done: Promise<MemberInfo[]> }>();
  /** Per-shard replica changes on the groups this node leads (replica-change.ts). */
  private readonly replicaChanges: ReplicaChanges;
  /** Groups this node applied its own removal from, waiting to be destroyed (replica-destroy.ts; one per group). */
  private readonly pendingDestroys = new Map<GroupId, PendingDestroy>();
  /** Replicas this leader removed, to be told their removal committed (farewells.ts). */
  private readonly farewells = new Farewells();
  private metaHint: { node: NodeId; atMs: number } = { node: NO_NODE, atMs: -Infinity };

  private constructor(
    private readonly opts: NodeHostOptions,
    readonly addresses: AddressBook,
    /** Destroyed replicas (tombstones.ts). */
    private readonly tombstones: Tombstones,
  ) {
    this.cfg = opts.config;
    this.earlyMessages = new EarlyMessages(2 * opts.config.timing.electionMs);
    this.clock = opts.clock ?? systemClock;
    this.scheduler = opts.scheduler ?? systemScheduler;
    this.loop = new ReadyLoop(this.makeIo(), this.scheduler, driveWithPromises);
    const q = opts.metrics.queueDepth;
    this.queueDepth = {
      proposals: q.labels({ queue: 'proposals' }),
      reads: q.labels({ queue: 'reads' }),
      outbox: q.labels({ queue: 'outbox' }),
    };
    const r = opts.metrics.peerRejected; // shared with the transport's door checks (distinct reasons)
    this.peerRejected = {
      not_member: r.labels({ reason: 'not_member' }),
      snapshot_on_stream: r.labels({ reason: 'snapshot_on_stream' }),
      snapshot_not_member: r.labels({ reason: 'snapshot_not_member' }),
      malformed: r.labels({ reason: 'malformed' }),
      invalid_message: r.labels({ reason: 'invalid_message' }),
      spoofed_message_from: r.labels({ reason: 'spoofed_message_from' }),
      unknown_group: r.labels({ reason: 'unknown_group' }),
    };
    this.snapshotContext = {
      transport: opts.transport,
      logger: opts.logger,
      metrics: opts.metrics,
      chunkBytes: opts.config.snapshotChunkBytes,
      schedule: () => this.schedule(),
    };
    this.quiescence = new Quiescence({
      idleTicksToQuiesce: 2 * this.cfg.timing.heartbeatTicks + 2,
      suspectAfterMs: this.cfg.timing.electionMs,
    });
    this.autoSplit = new AutoSplit({
      splitMaxKeys: opts.config.splitMaxKeys,
      splitMaxBytes: opts.config.splitMaxBytes,
      leaders: () => this.ledKvGroups(),
      descriptor: descriptorOf,
      split: (key) => this.splitShard(key),
      logger: opts.logger,
      reportStats: shardStatsReporter(opts.metrics),
    });
    this.meta = new MetaHost({
      self: opts.config.id,
      clusterId: opts.clusterId ?? null,
      // A member's client address once its handshake taught it, else the address its peers dial.
      bootstrapNodes: () =>
        opts.config.join
          ? []
          : [...opts.config.peers.keys()].map((id) => ({
              id,
              address: addresses.get(id) ?? addresses.peer(id) ?? opts.config.peers.get(id) ?? '',
            })),
      group: () => this.groups.get(META_SHARD_ID),
      propose: (g, data, timeoutMs) => this.proposeData(g, data, timeoutMs),
      forward: (to, command, timeoutMs) => opts.transport.forwardMeta(to, command, timeoutMs),
      peers: () => addresses.peerIds(),
      logger: opts.logger,
      retryMs: opts.config.timing.tickMs * 5,
    });
    this.replicaChanges = this.makeReplicaChanges();
    this.repair = new SelfRepair({
      selfId: opts.config.id,
      fetch: (to, groupId, minIndex) => opts.transport.fetchRepairSnapshot(to, groupId, minIndex),
      db: opts.store.db,
      logger: opts.logger,
      metrics: opts.metrics,
      chunkBytes: opts.config.snapshotChunkBytes,
      schedule: () => this.schedule(),
    });
  }

  /** Opens the node's groups from the store (bootstrapping group 1 on an empty store) and starts ticking. */
  static async open(opts: NodeHostOptions): Promise<NodeHost> {
    const { config, store, transport } = opts;
    const addresses = await AddressBook.open(store.db, config.peers, {
      self: config.id,
      selfClientAddress: config.advertiseAddress,
      initialAreClientAddresses: config.peerListen === null,
    });
    const host = new NodeHost(opts, addresses, await Tombstones.open(store));
    for (const [id, address] of addresses.entries()) transport.setPeer(id, address);
    await host.openKvGroups();
    await host.openMeta();
    host.resumeDestroys();
    transport.setHandler(host);
    host.tickTimer = host.scheduler.setInterval(() => host.tick(), config.timing.tickMs);
    host.schedule();
    return host;
  }

  /**
   * Opens the bootstrap shard and every KV group a split created (split-groups.ts), finishing the Raft start
   * of a right-hand group that a crash kept from being written.
   */
  private async openKvGroups(): Promise<void> {
    const { store } = this.opts;
    const { open, withoutRaftState } = kvGroupsToOpen(
      WHOLE_KEYSPACE_GROUP,
      META_SHARD_ID,
      await store.listGroups(),
      store.groupsWithShardRecord(),
    );
    const whole: KeyRange = { start: Buffer.alloc(0), end: null };
    for (const id of open)
      if (!withoutRaftState.includes(id) && !this.tombstones.has(id)) await this.openGroup(id, whole);
    for (const id of withoutRaftState) {
      const shard = await loadGroupShard(store.db, id, { ...whole, epoch: EPOCH_UNRECORDED });
      const parent = [...this.groups.values()].find((g) => g.kvSm.shard.end?.equals(shard.start) ?? false);
      const config = parent?.core.status().config ?? bootstrapConfigOf(this.cfg);
      await store.persist([splitGroupRaftStart(id, config)]);
      this.opts.logger.warn({ group: id, parent: parent?.id ?? null }, 'finished the Raft start of a split group');
      await this.openGroup(id, whole);
    }
    this.rebuildShards();
  }

  /** Opens the meta shard's group (meta-host.ts). */
  private async openMeta(bootstrap = true, reopening = false): Promise<void> {
    // Destroyed here: reopened (fenced) only if added again.
    if (this.tombstones.has(META_SHARD_ID) && !reopening) return;
    const { group } = await openMetaGroup(
      META_SHARD_ID,
      this.cfg,
      this.opts.store,
      this.opts.metrics,
      this.opts.random.fork(),
      (info) => this.opts.logger.error(info, 'a committed meta entry does not decode: applied as a no-op'),
      bootstrap,
    );
    this.groups.set(META_SHARD_ID, group);
    this.quiescence.track(META_SHARD_ID);
  }

  private *kvGroups(): Iterable<Group> {
    for (const g of this.groups.values()) if (g.kv !== null) yield g;
  }

  /** The KV groups this node leads (auto-split's candidates; no array per tick). */
  private *ledKvGroups(): Iterable<Group> {
    for (const g of this.kvGroups()) if (g.isLeader) yield g;
  }

  /**
   * The KV groups that own keys: all but uninitialized replicas (created from a leader's message, waiting
   * for their first snapshot; split-groups.ts), which own nothing until it gives them a range.
   */
  private *initializedKvGroups(): Iterable<Group> {
    for (const g of this.kvGroups()) if (this.isInitialized(g)) yield g;
  }

  /**
   * A KV replica owns keys once it applied anything; the first data shard also while it has members before
   * applying (bootstrapped from --peers). Not on a node started with --join that no leader contacted yet: that
   * one has no configuration and owns nothing (else it would claim the whole keyspace and refuse, by rule 2,
   * the snapshot of any shard added to the node).
   */
  private isInitialized(g: Group): boolean {
    if (g.kv === null) return false;
    if (g.kvSm.applied > 0) return true;
    if (g.id !== WHOLE_KEYSPACE_GROUP) return false;
    const c = g.core.status().config;
    return c.voters.length > 0 || c.learners.length > 0;
  }

  private rebuildShards(): void {
    this.shards.rebuild(this.initializedKvGroups());
    this.opts.metrics.shards.set(this.shards.size);
  }

  private async openGroup(
    groupId: GroupId,
    range: KeyRange,
    bootstrap = groupId === WHOLE_KEYSPACE_GROUP,
  ): Promise<void> {
    const { config, store } = this.opts;
    const undecodable = this.opts.metrics.undecodableEntries.labels({ group: String(groupId) });
    let undecodableLogged = false;
    const onUndecodable = (info: { groupId: number; index: number; message: string }): void => {
      undecodable.inc();
      if (undecodableLogged) return;
      undecodableLogged = true;
      this.opts.logger.error(
        info,
        'a committed entry does not decode as a command: applied as a no-op on every replica (logged once per group)',
      );
    };
    const dataLoss = this.opts.metrics.dataLoss.labels({ group: String(groupId) });
    const corruptKeysLogged = new Set<string>();
    const onCorruptRead = (info: { groupId: number; key: string; message: string }): void => {
      dataLoss.inc();
      this.repair.noteCorrupt(groupId, info.key);
      if (corruptKeysLogged.has(info.key) || corruptKeysLogged.size >= CORRUPT_KEYS_LOGGED_MAX) return;
      corruptKeysLogged.add(info.key);
      this.opts.logger.error(
        { ...info, dataDir: config.dataDir },
        'stored data failed its check: reads of it answer DATA_LOSS (logged once per key) until this replica repaired itself from a peer copy (self-repair); if it cannot (no peer holds a good copy), rebuild it: member remove, wipe the data dir, start with --join, member add',
      );
    };
    const { group: g, durable } = await openGroup(
      groupId,
      range,
      config,
      store,
      this.opts.metrics,
      this.opts.random.fork(),
      onUndecodable,
      onCorruptRead,
      bootstrap,
    );
    // Learn member addresses from config entries still in the log.
    for (const e of durable?.entries ?? [])
      // Links stay while replaying (a removed node may hold another group; sharesOtherGroup decides on apply).
      if (e.kind === 'config') learnFromConfigEntry(e, this.cfg.id, this.addresses, this.opts.transport, () => true);
    this.groups.set(groupId, g);
    this.quiescence.track(groupId);
    const st = g.core.status();
    this.opts.logger.info(
      {
        group: groupId,
        term: st.term,
        commit: st.commit,
        applied: g.sm.applied,
        firstIndex: st.firstIndex,
        lastIndex: st.lastIndex,
        voters: st.config.voters,
      },
      durable ? 'group restored from disk' : config.join ? 'group created, waiting to be added' : 'group bootstrapped',
    );
  }

  // ---------------------------------------------------------------- public API (server/)

  /** The local group owning a key; WRONG_SHARD when this node hosts no replica of its shard. */
  groupFor(key: Buffer): GroupId {
    const g = this.shards.locate(key);
    if (g !== null) return g.id;
    throw this.wrongShard(key);
  }

  /**
   * WRONG_SHARD for `key`: with the descriptor of the local shard that owns it now and its leader (the
   * SDK's new route), or only epoch 0 when this node hosts no replica of it.
   */
  wrongShard(key: Buffer): TesseraError {
    const g = this.shards.locate(key);
    if (g === null)
      return new TesseraError('WRONG_SHARD', `node ${this.cfg.id} hosts no replica of the shard that owns the key`, {
        epoch: 0,
      });
    const descriptor = routableDescriptorOf(g);
    if (descriptor === null)
      return new TesseraError('WRONG_SHARD', `node ${this.cfg.id} is still catching up on shard ${g.id}`, {
        epoch: 0,
      });
    const leader = g.leader === NO_NODE ? undefined : { id: g.leader, address: this.addresses.get(g.leader) ?? '' };
    return new TesseraError(
      'WRONG_SHARD',
      `the key belongs to shard ${g.id} (epoch ${g.kvSm.epoch})`,
      wrongShardDetails(descriptor, leader),
    );
  }

  /** The shards (KV groups) this node hosts, ascending by start. */
  listShards(): LocalShardInfo[] {
    return describedShards(this.shards.groups());
  }

  /** One hosted shard as listShards() lists it (a KV group whose core knows a voter), or null; no listing of all. */
  shardInfo(groupId: GroupId): LocalShardInfo | null {
    const g = this.shards.groups().find((x) => x.id === groupId); // the same index listShards reads
    return g === undefined ? null : (describedShards([g])[0] ?? null);
  }

  /**
   * The node registry of this node's meta replica (a stale read) with each node's replicas and leaderships
   * among the groups hosted here (the data shards and the meta group, as the placement driver's view counts
   * them); UNAVAILABLE until the meta shard was bootstrapped.
   */
  listNodes(): { id: NodeId; address: string; state: string; replicas: number; leaders: number }[] {
    const meta = this.groups.get(META_SHARD_ID)?.meta ?? null;
    const records = meta?.nodes() ?? [];
    if (records.length === 0)
      throw new TesseraError('UNAVAILABLE', 'the meta shard is not bootstrapped yet (no node registry); retry');
    const shards: { replicas: { id: NodeId }[]; leader: NodeId }[] = this.listShards();
    const metaGroup = this.groups.get(META_SHARD_ID);
    if (metaGroup !== undefined) {
      const st = this.groupStatus(META_SHARD_ID);
      shards.push({ replicas: st.members, leader: st.leader });
    }
    return records.map((n) => ({
      id: n.id,
      address: n.address,
      state: n.state,
      replicas: shards.filter((s) => s.replicas.some((r) => r.id === n.id)).length,
      leaders: shards.filter((s) => s.leader === n.id).length,
    }));
  }

  /**
   * This node's meta replica's state machine (registry and descriptors, a stale read), or null when it
   * hosts none: the placement driver reads the descriptors it keeps current (placement/meta-record.ts).
   */
  metaState(): MetaStateMachine | null {
    return this.groups.get(META_SHARD_ID)?.meta ?? null;
  }

  /** Applies a meta command on the meta shard's leader, here or forwarded; refusals are typed errors. */
  applyMetaCommand(command: MetaCommand, timeoutMs: number): Promise<MetaResult> {
    return this.meta.apply(command, timeoutMs);
  }

  /** Commit index and each member's match index of a shard this node leads, or null (placement/). */
  leaderProgress(groupId: number): { commit: number; match: Map<NodeId, number> } | null {
    const g = this.groups.get(groupId as GroupId);
    if (g === undefined || g.kv === null) return null;
    const st = g.core.status();
    if (st.role !== 'leader' || st.progress === null) return null;
    const match = new Map<NodeId, number>();
    for (const [id, pr] of st.progress) match.set(id, pr.match);
    return { commit: st.commit, match };
  }

  /** When each peer was last heard from (performance.now() ms): a message from it was stepped. */
  peersHeardMs(): Map<NodeId, number> {
    return new Map(this.lastHeardMs);
  }

  /** Keys and bytes (keys + values) of a hosted shard, read from this replica (pages of a stale scan). */
  shardStats(groupId: GroupId): Promise<{ keys: number; bytes: number }> {
    return measureShard(this.group(groupId).kvSm).then(({ keys, bytes }) => ({ keys, bytes }));
  }

  /**
   * Splits the shard owning `key` at `key` (issue 10, "Split"), on its leader: reserves the right-hand
   * shard's id in the meta shard, proposes the split in the parent's log, and resolves once the split
   * applied here and the right-hand group runs (split-groups.ts, kv/split-apply.ts).
   */
  async splitShard(
    key: Buffer,
    timeoutMs = this.cfg.requestTimeoutMs,
  ): Promise<{ left: LocalShardInfo; right: LocalShardInfo }> {
    const deadline = Date.now() + timeoutMs;
    const g = this.group(this.groupFor(key));
    if (!g.isLeader) throw this.dropError(g, g.leader === NO_NODE ? 'noLeader' : 'notLeader', g.leader);
    const shard = g.kvSm.shard;
    if (shard.start.equals(key))
      throw new TesseraError('INVALID_ARGUMENT', `the key already starts shard ${g.id}: nothing to split`);
    const rightGroupId = await this.meta.reserveShardId(Math.max(1, deadline - Date.now()));
    const command: Command = {
      type: 'split',
      splitKey: key,
      epoch: shard.epoch,
      rightGroupId,
      newEpoch: shard.epoch + 1,
      session: null,
    };
    const { result } = await this.propose(g.id, command, Math.max(1, deadline - Date.now()));
    if (result.type === 'splitRefused') throw splitRefusalError(result);
    if (result.type !== 'split') throw new TesseraError('INTERNAL', `split answered ${result.type}`);
    const right = await this.whenGroupOpen(result.right.groupId, deadline);
    this.opts.metrics.splits.inc();
    this.opts.logger.info({ shard: g.id, right: rightGroupId, epoch: command.newEpoch }, 'shard split');
    await this.meta
      .recordSplit(g.id, shard.epoch, key, rightGroupId, Math.max(1, deadline - Date.now()))
      .catch((e: unknown) =>
        // An epoch mismatch: the driver recorded the split from the reports first, or the meta copy is
        // behind and the driver catches it up (placement/meta-record.ts); anything else may be worth a look.
        isTesseraError(e) && e.details.rule === 'epoch-mismatch'
          ? this.opts.logger.debug({ shard: g.id, err: e.message }, 'split record refused; the driver records it')
          : this.opts.logger.warn(
              { shard: g.id, err: (e as Error).message },
              'split not recorded in the meta shard yet',
            ),
      );
    return { left: shardInfoOf(g), right: shardInfoOf(right) };
  }

  /** Resolves with the hosted group once it is open (a split's right-hand group opens just after the apply). */
  private async whenGroupOpen(groupId: GroupId, deadline: number): Promise<Group> {
    for (;;) {
      this.checkOpen();
      const g = this.groups.get(groupId);
      if (g !== undefined) return g;
      if (Date.now() >= deadline)
        throw new TesseraError('DEADLINE_EXCEEDED', `the split applied but group ${groupId} did not open in time`);
      await new Promise((r) => setTimeout(r, this.cfg.timing.tickMs));
    }
  }

  /**
   * Proposes a command and resolves with its result once applied on this node (the leader). Writes that
   * arrive in the same event-loop turn are proposed together (one core.proposeBatch, so one
   * AppendEntries per follower instead of one per write).
   */
  async propose(
    groupId: GroupId,
    command: Command,
    timeoutMs = this.cfg.requestTimeoutMs,
  ): Promise<{ result: CommandResult; header: ResponseHeader }> {
    const g = this.group(groupId);
    if (g.kv === null) throw new TesseraError('INVALID_ARGUMENT', `group ${groupId} holds no user data`);
    // Stamp this node's wall clock: the state machine's only time source (session expiry, kv/session-table.ts).
    const done = await this.proposeData(g, encodeCommand({ ...command, atMs: Date.now() }), timeoutMs);
    const result = done.result as CommandResult;
    // The key moved to another shard (a split) between routing and applying: answer with its new owner.
    const key = commandKey(command);
    if (result.type === 'wrongShard' && key !== null) throw this.wrongShard(key);
    return { result, header: { groupId, term: done.term, leaderId: this.cfg.id, index: done.index } };
  }

  /** Queues an encoded command of group `g` for the next batch proposal; resolves once applied here. */
  private async proposeData(
    g: Group,
    data: Uint8Array,
    timeoutMs: number,
  ): Promise<{ result: unknown; index: number; term: number }> {
    this.checkOpen();
    if (g.waiters.size + g.proposalQueue.length >= this.cfg.queues.proposalsMax) {
      this.opts.metrics.proposals.inc({ group: g.label, outcome: 'queue_full' });
      throw new TesseraError(
        'RESOURCE_EXHAUSTED',
        `too many pending writes (${this.cfg.queues.proposalsMax}); retry later`,
      );
    }
    const done = await new Promise<{ result: unknown; index: number; term: number }>((resolve, reject) => {
      g.proposalQueue.push({ data, timeoutMs, resolve, reject });
      this.wake(g);
      this.schedule();
    });
    g.m.proposalsOk.inc();
    return done;
  }

  /** Proposes every queued write of the group in one batch and registers their waiters. */
  private flushProposals(g: Group): void {
    const queued = g.proposalQueue;
    g.proposalQueue = [];
    const outcomes = g.core.proposeBatch(queued.map((p) => p.data));
    for (let i = 0; i < queued.length; i++) {
      const p = queued[i] as QueuedProposal;
      const outcome = outcomes[i] as ProposeOutcome;
      if (!outcome.ok) {
        this.opts.metrics.proposals.inc({ group: g.label, outcome: outcome.reason });
        p.reject(this.dropError(g, outcome.reason, outcome.leader));
        continue;
      }
      const { index, term } = outcome;
      g.waiters.register(index, term, p.timeoutMs, (result) => p.resolve({ result, index, term }), p.reject);
    }
  }

  private failQueuedProposals(g: Group, error: () => TesseraError): void {
    const queued = g.proposalQueue;
    g.proposalQueue = [];
    for (const p of queued) p.reject(error());
  }

  /**
   * Runs `fn` against the state machine: linearizable (ReadIndex, batched; leader only) or stale (any
   * replica, no round). With --unsafe-stale-reads, linearizable reads are served like stale ones.
   */
  async read<T>(
    groupId: GroupId,
    consistency: ReadConsistency,
    fn: (sm: StateMachine) => Promise<T>,
    timeoutMs = this.cfg.requestTimeoutMs,
  ): Promise<{ value: T; header: ResponseHeader }> {
    const g = this.group(groupId);
    this.checkOpen();
    const kind = consistency === 'stale' ? 'stale' : this.cfg.unsafeStaleReads ? 'unsafe_stale' : 'linearizable';
    if (kind !== 'linearizable') {
      const value = await fn(g.kvSm);
      if (kind === 'stale') g.m.staleReadsOk.inc();
      else this.opts.metrics.reads.inc({ group: g.label, kind, outcome: 'ok' });
      return { value, header: { groupId, term: g.term, leaderId: g.leader, index: g.sm.applied } };
    }
    const readIndex = await this.readBarrier(groupId, timeoutMs);
    const value = await fn(g.kvSm);
    g.m.linearizableReadsOk.inc();
    return { value, header: { groupId, term: g.term, leaderId: this.cfg.id, index: readIndex } };
  }

  /**
   * A linearizable read barrier on any group this node leads (the meta group included): resolves with the
   * read index once it is applied here, so what the caller reads of the state machine next reflects every
   * write committed before the call. NOT_LEADER / UNAVAILABLE on a replica that does not lead.
   */
  async readBarrier(groupId: GroupId, timeoutMs = this.cfg.requestTimeoutMs): Promise<number> {
    const g = this.group(groupId);
    this.checkOpen();
    const kind = 'linearizable';
    if (!g.isLeader) throw this.dropError(g, g.leader === NO_NODE ? 'noLeader' : 'notLeader', g.leader);
    if (g.reads.size >= this.cfg.queues.readsMax) {
      this.opts.metrics.reads.inc({ group: g.label, kind, outcome: 'queue_full' });
      throw new TesseraError('RESOURCE_EXHAUSTED', `too many pending reads (${this.cfg.queues.readsMax}); retry later`);
    }
    const readIndex = await new Promise<number>((resolve, reject) => {
      const read = {
        live: true,
        run: (index: number) => {
          clearTimeout(timer);
          resolve(index);
        },
        fail: (e: TesseraError) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        read.live = false;
        reject(new TesseraError('DEADLINE_EXCEEDED', `no read index within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref?.();
      g.reads.enqueue(read);
      this.wake(g);
      this.schedule();
    }).catch((e: unknown) => {
      this.opts.metrics.reads.inc({ group: g.label, kind, outcome: 'failed' });
      throw e;
    });
    return readIndex;
  }

  /**
   * Adds a member to group `groupId` (default: the first data shard), which this node must lead; resolves
   * with the new members. The safeguards of membership-guard.ts hold for every caller: a new node always
   * joins as a learner; as a voter it is promoted only once it replicated the log up to the leader's
   * commit index as of the promotion attempt (within timeoutMs; otherwise UNAVAILABLE naming the node, and
   * it stays a learner, which counts toward no quorum), and only if enough voters stay live for the new
   * quorum (else INVALID_ARGUMENT). Calling it again for a learner retries the promotion.
   */
  addNode(
    id: NodeId,
    address: string,
    learner: boolean,
    timeoutMs = this.cfg.requestTimeoutMs,
    peerAddress = address,
    groupId: GroupId = WHOLE_KEYSPACE_GROUP,
  ): Promise<MemberInfo[]> {
    return this.oneMemberCallAtATime(id, `add ${groupId} ${address} ${peerAddress} ${learner}`, () =>
      this.addNodeNow(groupId, id, address, learner, timeoutMs, peerAddress),
    );
  }

  /**
   * Removes a member of group `groupId` (default: the first data shard); refused (INVALID_ARGUMENT) when
   * the live voters left would be fewer than a quorum.
   */
  removeNode(
    id: NodeId,
    timeoutMs = this.cfg.requestTimeoutMs,
    groupId: GroupId = WHOLE_KEYSPACE_GROUP,
  ): Promise<MemberInfo[]> {
    return this.oneMemberCallAtATime(id, `remove ${groupId}`, () => this.removeNodeNow(groupId, id, timeoutMs));
  }

  /**
   * One replica change of any group this node leads (a data shard, the first one included, or the meta
   * shard): add a learner on a node whose addresses this node knows, promote it once caught up, or remove a
   * replica (this leader's own too: it hands leadership over). Idempotent; see replica-change.ts.
   */
  changeReplica(groupId: number, change: ReplicaChange, timeoutMs = this.cfg.requestTimeoutMs): Promise<MemberInfo[]> {
    return this.replicaChanges.change(groupId, change, timeoutMs);
  }

  /** Moves a replica of a group this node leads from one node to another, never below its voter count. */
  moveReplica(groupId: number, from: NodeId, to: NodeId, timeoutMs = this.cfg.requestTimeoutMs): Promise<MemberInfo[]> {
    return this.replicaChanges.move(groupId, from, to, timeoutMs);
  }

  /**
   * Teaches this node a node's addresses (persisted in the address book) and dials it: a node that joined
   * and was registered in the meta shard but shares no group with this one yet. Invalid addresses are
   * refused (INVALID_ARGUMENT); this node's own entry is never changed here.
   */
  learnNodeAddress(id: NodeId, client: string, peer: string): void {
    if (!Number.isSafeInteger(id) || id < 1 || id > 0xffff_ffff)
      throw new TesseraError('INVALID_ARGUMENT', `node id ${String(id)} is not a valid node id`);
    if (id === this.cfg.id) return;
    if (!isValidAddress(client) || !isValidAddress(peer))
      throw new TesseraError('INVALID_ARGUMENT', `node ${id}: invalid address (client ${client}, peer ${peer})`);
    this.addresses.setMember(id, peer, client);
    this.opts.transport.setPeer(id, peer);
  }

  private makeReplicaChanges(): ReplicaChanges {
    const changes = this.opts.metrics.replicaChanges;
    return new ReplicaChanges({
      self: this.cfg.id,
      addresses: this.addresses,
      group: (id) => this.group(id),
      notLeader: (g) => this.dropError(g, g.leader === NO_NODE ? 'noLeader' : 'notLeader', g.leader),
      guard: (g, change, catchUpIndex) => this.guard(g, change, catchUpIndex),
      awaitCaughtUp: (g, node, deadline, timeoutMs) => this.awaitCaughtUp(g, node, deadline, timeoutMs),
      changeMembership: (g, change, timeoutMs) => this.changeMembership(g, change, timeoutMs),
      count: (kind, outcome) => changes.inc({ kind, outcome }),
      log: (info, message) => this.opts.logger.info(info, message),
    });
  }

  /**
   * Runs `call` unless a call for the same node is running: the same request (`key`) joins it, another
   * one is refused (UNAVAILABLE, retryable: it may go ahead once the first one ended).
   */
  private oneMemberCallAtATime(id: NodeId, key: string, call: () => Promise<MemberInfo[]>): Promise<MemberInfo[]> {
    const running = this.memberCallsInFlight.get(id);
    if (running !== undefined) {
      if (running.key === key) return running.done;
      return Promise.reject(
        new TesseraError('UNAVAILABLE', `another membership change of node ${id} is in progress; retry`),
      );
    }
    const done = call().finally(() => {
      if (this.memberCallsInFlight.get(id)?.done === done) this.memberCallsInFlight.delete(id);
    });
    this.memberCallsInFlight.set(id, { key, done });
    return done;
  }

  private async addNodeNow(
    groupId: GroupId,
    id: NodeId,
    address: string,
    learner: boolean,
    timeoutMs: number,
    peerAddress: string,
  ): Promise<MemberInfo[]> {
    const deadline = Date.now() + timeoutMs;
    const g = this.group(groupId);
    const st = g.core.status();
    const isVoter = st.config.voters.includes(id);
    const isLearner = st.config.learners.includes(id);
    const known = this.addresses.get(id);
    // The member's client address may have been learned from its handshake since it was added: the address
    // it was added at (its peer address) names it as well.
    const sameAddress = address === known || address === this.addresses.peer(id);
    if ((isVoter && !learner) || (isLearner && learner)) {
      if (!sameAddress) throw new TesseraError('INVALID_ARGUMENT', `node ${id} is already a member at ${known}`);
      return membersOf(g, this.cfg.id, this.addresses);
    }
    if (isVoter && learner)
      throw new TesseraError('INVALID_ARGUMENT', `node ${id} is a voter; remove it before adding it as a learner`);
    if (isLearner && !sameAddress) {
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `node ${id} is a learner at ${known}; remove it first to add it at ${address}`,
      );
    }
    // The client address, and the peer address when the member's peers dial another listener (membership.ts).
    const context = encodeMemberContext(address, peerAddress);
    if (!isLearner) {
      this.guard(g, { type: 'addLearner', node: id }, 0);
      await this.changeMembership(g, { type: 'addLearner', node: id, context }, Math.max(1, deadline - Date.now()));
      if (learner) return membersOf(g, this.cfg.id, this.addresses);
    }
    await this.awaitCaughtUp(g, id, deadline, timeoutMs);
    await this.changeMembership(g, { type: 'addVoter', node: id, context }, Math.max(1, deadline - Date.now()));
    return membersOf(g, this.cfg.id, this.addresses);
  }

  private async removeNodeNow(groupId: GroupId, id: NodeId, timeoutMs: number): Promise<MemberInfo[]> {
    const g = this.group(groupId);
    const st = g.core.status();
    if (!st.config.voters.includes(id) && !st.config.learners.includes(id)) {
      throw new TesseraError('INVALID_ARGUMENT', `node ${id} is not a member of group ${g.id}`);
    }
    this.guard(g, { type: 'removeNode', node: id }, 0);
    await this.changeMembership(g, { type: 'removeNode', node: id }, timeoutMs);
    return membersOf(g, this.cfg.id, this.addresses);
  }

  /**
   * Waits until learner `id` has replicated the leader's commit index as of now, re-checking every tick,
   * and the guard allows its promotion. Gives up a little before the deadline, so the caller gets this
   * answer rather than its own deadline.
   */
  private async awaitCaughtUp(g: Group, id: NodeId, deadline: number, timeoutMs: number): Promise<void> {
    const catchUpIndex = g.core.status().commit;
    const giveUpAt = deadline - Math.min(500, Math.floor(timeoutMs / 10));
    for (;;) {
      const decision = this.guard(g, { type: 'addVoter', node: id }, catchUpIndex, true);
      if (decision.ok) return;
      if (Date.now() >= giveUpAt) {
        throw new TesseraError(
          'UNAVAILABLE',
          `node ${id} did not catch up within ${timeoutMs} ms and stays a learner (it counts toward no quorum): ${decision.message}. ` +
            'Start it (with --join) and call AddNode again to promote it, or remove it',
          { node: id },
        );
      }
      await new Promise((r) => setTimeout(r, this.cfg.timing.tickMs));
    }
  }

  /**
   * The membership guard on this leader's view (refusals other than a learner not caught up throw
   * INVALID_ARGUMENT). A member is active when a message from it was stepped within an election timeout;
   * the leader counts itself.
   */
  private guard(g: Group, change: GuardedChange, catchUpIndex: number, allowNotCaughtUp = false): GuardDecision {
    this.checkOpen();
    const st = g.core.status();
    if (st.role !== 'leader' || st.progress === null)
      throw this.dropError(g, st.leader === NO_NODE ? 'noLeader' : 'notLeader', st.leader);
    const now = performance.now();
    const progress = new Map<NodeId, MemberProgress>();
    for (const [id, pr] of st.progress) {
      const heard = this.lastHeardMs.get(id);
      progress.set(id, { match: pr.match, active: heard !== undefined && now - heard <= this.cfg.timing.electionMs });
    }
    const decision = checkMembershipChange({
      self: this.cfg.id,
      voters: st.config.voters,
      learners: st.config.learners,
      progress,
      change,
      catchUpIndex,
    });
    if (!decision.ok && !(allowNotCaughtUp && decision.reason === 'notCaughtUp')) {
      this.opts.logger.warn({ group: g.id, change, reason: decision.reason }, decision.message);
      throw new TesseraError('INVALID_ARGUMENT', decision.message, {
        limit: decision.reason === 'quorumAtRisk' ? 'strictReconfigCheck' : decision.reason,
      });
    }
    return decision;
  }

  private async changeMembership(g: Group, change: MembershipChange, timeoutMs: number): Promise<void> {
    this.checkOpen();
    this.wake(g);
    const outcome = g.core.proposeMembership(change);
    if (!outcome.ok) throw this.dropError(g, outcome.reason, outcome.leader);
    const waiting = g.memberWaiters.add(outcome.index, outcome.term, timeoutMs);
    this.schedule();
    await waiting;
    this.opts.logger.info(
      { group: g.id, change: { type: change.type, node: change.node }, index: outcome.index },
      'membership changed',
    );
  }

  /** Moves leadership of a group to `to`; resolves with the leader once it changed (or the timeout). */
  async transferLeader(groupId: GroupId, to: NodeId, timeoutMs = this.cfg.timing.electionMs * 3): Promise<NodeId> {
    const g = this.group(groupId);
    this.checkOpen();
    if (g.leader === to) return to;
    this.wake(g);
    const outcome = g.core.transferLeader(to);
    if (!outcome.ok) {
      if (outcome.reason === 'notLeader') throw this.notLeader(g, outcome.leader);
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `cannot transfer leadership of group ${groupId} to node ${to}: ${outcome.reason}`,
      );
    }
    this.schedule();
    const start = Date.now();
    while (Date.now() - start < timeoutMs) {
      if (g.leader === to) return to;
      await new Promise((r) => setTimeout(r, this.cfg.timing.tickMs));
    }
    throw new TesseraError(
      'UNAVAILABLE',
      `leadership of group ${groupId} did not move to node ${to} within ${timeoutMs} ms (leader: ${g.leader})`,
    );
  }

  groupStatus(groupId: GroupId): GroupStatusInfo {
    const g = this.group(groupId);
    const st = g.core.status();
    return {
      groupId,
      leader: st.leader,
      term: st.term,
      role: st.role,
      commit: st.commit,
      applied: g.sm.applied,
      firstIndex: st.firstIndex,
      lastIndex: st.lastIndex,
      members: membersOf(g, this.cfg.id, this.addresses),
      range: g.kv !== null ? { start: g.kv.shard.start, end: g.kv.shard.end } : g.range,
      kind: g.kv !== null ? 'data' : 'meta',
    };
  }

  groupIds(): GroupId[] {
    return [...this.groups.keys()].sort((a, b) => a - b);
  }

  /** Leader id and address of a group, for NOT_LEADER hints. */
  /**
   * The placement driver of the meta leader polls every node: the poller is the meta leader as of then. A
   * node without a meta replica redirects meta requests there (server/admin-nodes.ts).
   */
  noteMetaLeaderHint(node: NodeId): void {
    this.metaHint = { node, atMs: performance.now() };
  }

  /** The node whose driver polled this one within maxAgeMs (NO_NODE: none). */
  metaLeaderHint(maxAgeMs = 10_000): NodeId {
    return performance.now() - this.metaHint.atMs <= maxAgeMs ? this.metaHint.node : NO_NODE;
  }

  leaderOf(groupId: GroupId): { leaderId: NodeId; leaderAddress: string | null } {
    const g = this.group(groupId);
    return { leaderId: g.leader, leaderAddress: g.leader === NO_NODE ? null : this.addresses.get(g.leader) };
  }

  get nodeId(): NodeId {
    return this.cfg.id;
  }

  /** The cluster's id as the meta shard records it (else as the node was opened with); null when unknown. */
  get clusterId(): string | null {
    return this.groups.get(META_SHARD_ID)?.meta?.clusterId ?? this.opts.clusterId ?? null;
  }

  /** Stops ticking, lets the running ready loop finish, fails everything pending. The store stays open. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.loop.close();
    this.tickTimer?.cancel();
    this.tickTimer = null;
    await this.loop.whenIdle();
    const closing = () => new TesseraError('UNAVAILABLE', 'the node is shutting down; retry on another node');
    for (const g of this.groups.values()) {
      this.failQueuedProposals(g, closing);
      g.waiters.failAll(closing);
      g.memberWaiters.failAll(closing);
      g.reads.failAll(closing());
    }
    await this.addresses.flush();
  }

  // ---------------------------------------------------------------- transport handler

  /**
   * Peer messages from `from` (the id the transport authenticated). A message is stepped only when its
   * sender is a member (voter or learner) of its group, or the group has no configuration yet (a node
   * started with --join that was not added yet), or it is a leader's append or heartbeat in a term at least
   * as new as ours (core.acceptsPeer: a member whose configuration is behind still follows the leader that
   * was added while it was away; votes, acks and TimeoutNow from non-members are always dropped). Snapshots
   * never arrive on this stream (they come through onSnapshot and its staging): a 'snapshot' message here
   * is dropped. Drops are counted and logged once per sender; the check allocates nothing per message.
   */
  onMessages(from: NodeId, messages: Buffer[]): void {
    if (this.closed) return;
    let stepped = false;
    for (const buf of messages) {
      let env;
      try {
        env = decodeRaftMessage(buf);
      } catch (e) {
        this.rejectPeer(null, from, 'malformed', (e as Error).message);
        continue;
      }
      if (env.groupId === NODE_BEAT_GROUP) {
        if (env.message.from === from) this.lastHeardMs.set(from, performance.now());
        continue;
      }
      const g = this.groups.get(env.groupId);
      if (!g) {
        // Perhaps a split's right-hand group this node opens in a moment (early-messages.ts), or one whose split
        // it skipped (then it opens an uninitialized replica).
        this.earlyMessages.add(env.groupId, from, buf, performance.now());
        if (env.message.from === from) this.maybeOpenUninitialized(env.groupId, env.message);
        this.rejectPeer(null, from, 'unknown_group', `group ${env.groupId}`);
        continue;
      }
      if (env.message.from !== from) {
        this.rejectPeer(g, from, 'spoofed_message_from', `message from ${env.message.from}`);
        continue;
      }
      if (this.farewells.size > 0) this.farewells.observe(g.id, env.message);
      if (env.message.type === 'snapshot') {
        this.rejectPeer(g, from, 'snapshot_on_stream');
        continue;
      }
      if (!g.core.acceptsPeer(env.message)) {
        this.rejectPeer(g, from, 'not_member');
        continue;
      }
      // A fenced replica (reopened from its tombstone, tombstones.ts) grants no vote: no answer at all.
      if (g.fenceIndex > 0 && (env.message.type === 'vote' || env.message.type === 'preVote')) continue;
      if (this.quiescence.isQuiet(g.id) && wakesQuietGroup(env.message)) this.wake(g);
      const outcome = g.core.step(env.message);
      if (!outcome.ok && outcome.reason === 'invalidMessage') {
        this.rejectPeer(g, from, 'invalid_message', outcome.detail);
        continue;
      }
      if (env.message.type === 'heartbeat' && (env.message.quiesce === true || this.quiescence.isQuiet(g.id)))
        this.followerQuiesce(g, env.message.from);
      if (this.quiescence.isQuiet(g.id)) this.touchedQuiet.add(g.id);
      stepped = true;
    }
    if (stepped) {
      this.lastHeardMs.set(from, performance.now());
      this.relink(from);
    }
    this.schedule();
  }

  /**
   * A group hosted here stepped a message of `peer`, to which this node may hold no link: dropped when they
   * last shared no group (learnFromConfigEntry, farewells), and a replica opened uninitialized for a leader
   * (maybeOpenUninitialized) has no configuration to connect to. Without a link every answer to that peer is
   * dropped: a learner added by such a leader never answered its probes, so the leader never sent the
   * snapshot that would have taught it the members (the placement soak's learner that never caught up).
   * Links again from the address book (--peers and configuration entries: addresses this node already
   * trusted), never from anything in the message.
   */
  private relink(peer: NodeId): void {
    if (this.opts.transport.peerAddress(peer) !== null) return;
    const address = this.addresses.peer(peer);
    if (address === null) return;
    this.opts.transport.setPeer(peer, address);
    this.opts.logger.info({ peer, address }, 'linked again to a peer a group here heard from');
  }

  /**
   * A quiesce heartbeat, or any heartbeat of a quiet group, was stepped: the group is quiet here (depending on
   * that leader's node) if it follows that leader and is caught up; a quiet one that is not wakes (quiescence.ts).
   */
  private followerQuiesce(g: Group, leader: NodeId): void {
    const st = g.core.status();
    if (st.role === 'follower' && st.leader === leader && st.commit === st.lastIndex)
      this.quiescence.quiesce(g.id, [leader]);
    else this.wake(g);
  }

  /** Counts a dropped peer message; logs the first drop per (reason, sender), bounded in senders. */
  private rejectPeer(g: Group | null, from: NodeId, reason: PeerRejection, detail?: string): void {
    this.peerRejected[reason].inc();
    let logged = this.peerRejectedLogged.get(reason);
    if (logged === undefined) {
      logged = new Set();
      this.peerRejectedLogged.set(reason, logged);
    }
    if (logged.has(from) || logged.size >= PEER_REJECTIONS_LOGGED_MAX) return;
    logged.add(from);
    const why =
      reason === 'snapshot_on_stream'
        ? 'dropping a snapshot message that came on the message stream (snapshots only come through InstallSnapshot)'
        : reason === 'snapshot_not_member'
          ? 'refusing a snapshot from a node that is not a member of the group'
          : reason === 'malformed'
            ? 'dropping a peer message that does not decode'
            : reason === 'invalid_message'
              ? 'dropping a peer message that breaks a Raft invariant'
              : reason === 'spoofed_message_from'
                ? 'dropping a peer message whose sender differs from the authenticated peer'
                : reason === 'unknown_group'
                  ? 'dropping a peer message for a group this node does not host'
                  : 'dropping messages from a node that is not a member of the group';
    this.opts.logger.warn(
      { group: g?.id ?? null, from, reason, detail },
      `${why}; further drops from this sender are only counted`,
    );
  }

  /** A peer's handshake named its client address (authenticated, bounded): what clients are told about it. */
  onPeerClientAddress(peer: NodeId, clientAddress: string): void {
    this.addresses.setClient(peer, clientAddress);
  }

  onUnreachable(peer: NodeId): void {
    let ticked = false;
    for (const g of this.groups.values()) {
      g.core.reportUnreachable(peer);
      // Fast failure detection: the stream to our leader broke (its process died, or its port closed).
      // Advance the election clock by one base election timeout, once per term, so the randomized
      // timeout fires after [0, election) ms instead of [election, 2 * election). Ticks are the host's
      // to give; safety never depends on timing, and PreVote + CheckQuorum keep a healthy leader in place
      // if the break was only a blip (the other followers still hold its lease and refuse the pre-vote).
      if (g.role === 'follower' && g.leader === peer && g.fastForwardTerm !== g.term) {
        g.fastForwardTerm = g.term;
        this.opts.metrics.electionFastForwards.inc({ group: g.label });
        for (let i = 0; i < this.cfg.timing.electionTicks; i++) g.core.tick();
        ticked = true;
      }
    }
    if (ticked) this.schedule();
  }

  async onSnapshot(s: IncomingSnapshot): Promise<void> {
    this.checkOpen();
    const env = decodeRaftMessage(s.header);
    const g = this.groups.get(s.groupId);
    if (!g || env.groupId !== s.groupId || env.message.type !== 'snapshot')
      throw new Error(`no group ${s.groupId} for this snapshot`);
    if (env.message.from !== s.from)
      throw new Error(`snapshot header names node ${env.message.from}, the sender is node ${s.from}`);
    if (!g.core.acceptsPeer(env.message)) {
      this.rejectPeer(g, s.from, 'snapshot_not_member');
      throw new Error(`node ${s.from} is not a member of group ${g.id}`);
    }
    this.wake(g);
    const message = env.message;
    if (g.fenceIndex > 0 && message.snapshot.meta.index <= g.fenceIndex)
      throw new Error(
        `group ${g.id} was reopened after its removal at index ${g.fenceIndex}; a snapshot at ${message.snapshot.meta.index} predates it`,
      );
    const id = `${this.cfg.id}-${Date.now()}-${++this.stagingSeq}`;
    if (!beginStaging(g, id, message.snapshot.meta)) throw new Error(`group ${g.id} is already receiving a snapshot`);
    try {
      await stageSnapshot(g, s, id, message.snapshot.meta.index);
      this.refuseOverlappingSnapshot(g, id);
      // The members' addresses the sender knows (config entries compacted away teach none), kept before the core sees it.
      await learnFromSnapshot(message.snapshot, this.cfg.id, this.addresses, g.sm.applied);
      if (g.fenceIndex > 0) {
        // A snapshot past the removal: the fence goes, durably before the replica can act on it (tombstones.ts).
        this.tombstones.remove(g.id);
        await this.tombstones.save();
        g.fenceIndex = 0;
      }
      this.checkOpen();
      const outcome = stepStaged(g, message, id);
      if (!outcome.ok) {
        this.discardStaging(g);
        throw new Error(`the core refused the snapshot: ${outcome.reason}`);
      }
      this.opts.logger.info(
        { group: g.id, from: s.from, index: message.snapshot.meta.index, term: message.snapshot.meta.term },
        'snapshot received',
      );
      this.schedule();
    } catch (e) {
      if (abandonStaging(g, id)) await g.sm.discardStaged(id).catch(() => undefined);
      throw e;
    }
  }

  /** ForwardMeta's serving side (meta-host.ts): a member asks this node, as the meta leader, to apply a command. */
  onForwardMeta(from: NodeId, command: Buffer, timeoutMs: number): Promise<Buffer> {
    this.checkOpen();
    return this.meta.onForward(from, command, timeoutMs);
  }

  /**
   * Rule 2 of the split/snapshot race (kv/split-apply.ts): a snapshot whose range overlaps another group
   * initialized on this node, or another group's snapshot staged here and not installed yet
   * (overlappingStagedShard), is refused (the sender retries later), until that group narrowed by applying
   * the split; otherwise installing it would give keys to two groups of this node at once.
   */
  private refuseOverlappingSnapshot(g: Group, stagingId: string): void {
    const shard = g.kv?.stagedShard(stagingId) ?? null;
    if (shard === null) return;
    const other = overlappingShard(shard, this.initializedKvGroups(), g);
    if (other !== null)
      throw new Error(
        `the snapshot of group ${g.id} overlaps group ${other.id} on node ${this.cfg.id}, which has not applied its split yet; retry later`,
      );
    const pending = overlappingStagedShard(shard, this.kvGroups(), g);
    if (pending !== null)
      throw new Error(
        `the snapshot of group ${g.id} overlaps the snapshot group ${pending.id} is installing on node ${this.cfg.id}; retry later`,
      );
  }

  /** Self-repair's serving side: a member asks for a copy of our state machine (self-repair.ts decides). */
  async onRepairRequest(from: NodeId, groupId: GroupId, minIndex: number): Promise<RepairSource> {
    this.checkOpen();
    const g = this.groups.get(groupId);
    if (!g || g.kv === null) throw new Error(`no KV group ${groupId} on this node`);
    return this.repair.serve(g, from, minIndex);
  }

  // ---------------------------------------------------------------- the ready loop (ready-loop.ts)

  private tick(): void {
    // A replica whose data failed its check repairs whether or not its group is quiet (the repair wakes it).
    for (const id of this.repair.repairIds()) {
      const g = this.groups.get(id);
      if (g !== undefined && this.quiescence.isQuiet(id)) this.wake(g);
    }
    if (++this.ticksSinceTrackCheck >= TRACK_CHECK_TICKS) this.checkTracked();
    // Quiet groups are not visited at all (quiescence.ts awakeIds): an idle node with 1,000 shards ticks none.
    for (const id of this.quiescence.awakeIds()) {
      const g = this.groups.get(id);
      if (g === undefined) continue;
      g.core.tick();
      this.repair.poll(g);
      if (g.isLeader && g.id !== META_SHARD_ID) this.maybeQuiesce(g);
    }
    this.beatPeers();
    const metaGroup = this.groups.get(META_SHARD_ID);
    if (metaGroup?.isLeader) this.meta.onLeader(metaGroup);
    this.autoSplit.poll();
    if (this.pendingDestroys.size > 0) this.pollDestroys();
    if (this.farewells.size > 0) this.sendFarewells();
    this.schedule();
  }

  private schedule(): void {
    this.loop.schedule();
  }

  /** Every hosted group is awake or quiet in quiescence.ts (else it would never tick): crash on a violation. */
  private checkTracked(): void {
    this.ticksSinceTrackCheck = 0;
    const tracked = this.quiescence.trackedCount;
    if (tracked !== this.groups.size)
      this.die(new InvariantError(`quiescence tracks ${tracked} groups, the node hosts ${this.groups.size}`));
  }

  /**
   * A leader's group goes quiet after enough idle ticks (quiescence.ts): its members get a quiesce heartbeat
   * and nobody ticks it until something wakes it. The meta group never goes quiet (its leader acts on ticks).
   */
  private maybeQuiesce(g: Group): void {
    const st = g.core.status();
    const now = performance.now();
    const heard = (id: NodeId): boolean => now - (this.lastHeardMs.get(id) ?? -Infinity) <= this.cfg.timing.electionMs;
    const pending =
      g.proposalQueue.length > 0 ||
      g.waiters.size > 0 ||
      g.memberWaiters.size > 0 ||
      g.reads.size > 0 ||
      g.staging !== null;
    if (!this.quiescence.leaderTicked(g.id, leaderMayQuiesce(st, { applied: g.sm.applied, pending }, heard))) return;
    this.sendMessages(g, quiesceHeartbeats(st), true);
    this.opts.transport.flush();
    this.touchedQuiet.add(g.id);
    this.quiescence.quiesce(
      g.id,
      [...st.progress!.keys()].filter((id) => id !== this.cfg.id),
    );
  }

  /** Groups on this node that are quiet now (quiescence.ts). */
  quietGroupCount(): number {
    return this.quiescence.quietCount;
  }

  isQuiet(groupId: number): boolean {
    return this.quiescence.isQuiet(groupId as GroupId);
  }

  /**
   * The groups the ready loop looks at: every awake group, and the quiet ones stepped since (a quiet
   * follower answers its quiesce heartbeat; a leader may have queued a heartbeat in the tick it went
   * quiet) until they have no Ready. Quiet groups cost the loop nothing otherwise: everything else that
   * gives one work (a proposal, a read, a membership change, a transfer, a waking message) wakes it first.
   */
  private *loopGroups(): Generator<Group> {
    for (const id of this.quiescence.awakeIds()) {
      const g = this.groups.get(id);
      if (g !== undefined) yield g;
    }
    for (const id of this.touchedQuiet) {
      const g = this.groups.get(id);
      if (g !== undefined && this.quiescence.isQuiet(id) && (g.core.hasReady() || g.staging !== null)) yield g;
      else this.touchedQuiet.delete(id);
    }
  }

  /** Wakes a quiet group (it ticks again); see quiescence.ts for who calls it. */
  private wake(g: Group): void {
    if (this.quiescence.wake(g.id)) this.schedule();
  }

  /**
   * Node liveness without group traffic: one node beat per known peer per heartbeat interval, and the
   * quiet groups that depend on a peer not heard for an election timeout wake (quiescence.ts).
   */
  private beatPeers(): void {
    this.opts.metrics.quiescentGroups.set(this.quiescence.quietCount);
    if (++this.ticksSinceBeat < this.cfg.timing.heartbeatTicks) return;
    this.ticksSinceBeat = 0;
    for (const peer of this.addresses.peerIds()) {
      if (peer === this.cfg.id) continue;
      this.opts.transport.send(peer, encodeNodeBeat(this.cfg.id, peer));
    }
    const woken = this.quiescence.wakeSuspected(performance.now(), (id) => this.lastHeardMs.get(id));
    for (const id of woken) this.prodLeader(id);
    if (woken.length > 0) this.schedule();
  }

  /**
   * A follower woken because its leader's node went silent asks that leader to wake (quiescence.ts): if the
   * leader lives (a stall, not a crash) it heartbeats again before this follower's election timer fires;
   * if it is gone, the timer runs out and the follower campaigns. The prod is an append response for the
   * follower's commit index: committed entries are the same on every replica, so it tells the leader
   * nothing it may not count, and (unlike a heartbeat response) it wakes a quiet group.
   */
  private prodLeader(groupId: GroupId): void {
    const g = this.groups.get(groupId);
    if (g === undefined) return;
    const st = g.core.status();
    if (st.role !== 'follower' || st.leader === NO_NODE) return;
    const message: Message = {
      type: 'appendResp',
      from: this.cfg.id,
      to: st.leader,
      term: st.term,
      reject: false,
      index: st.commit,
      rejectHint: 0,
      hintTerm: 0,
    };
    this.opts.transport.send(st.leader, encodeRaftMessage({ groupId, message }));
  }

  /** The ready loop's I/O: LevelDB (one synced batch per run), the transport, the state machine. */
  private makeIo(): ReadyLoopIo<Group> {
    return {
      groups: () => this.loopGroups(),
      feed: (g) => {
        if (g.proposalQueue.length > 0 || g.reads.size > 0) this.wake(g);
        if (g.proposalQueue.length > 0) this.flushProposals(g);
        if (g.isLeader) g.reads.startRound((ctx) => this.startReadIndex(g, ctx));
      },
      send: (g, messages, now) => this.sendMessages(g, messages, now),
      flush: () => this.opts.transport.flush(),
      // Let the socket writes (HTTP/2 writes are native immediates) leave before this turn's CPU work.
      yieldToIo: (_phase, count) => (count > 0 ? this.yieldToIo() : undefined),
      persist: (writes) => this.persist(writes),
      installSnapshot: (g, stagingId, meta) => this.installSnapshot(g, stagingId, meta),
      discardStaged: (g, stagingId) => void g.sm.discardStaged(stagingId).catch(() => undefined),
      observe: (g, rd) => this.observe(g, rd),
      apply: (g, entries) => this.apply(g, entries),
      advanced: (g, rd) => this.advanced(g, rd),
      // A staged self-repair copy is installed in the compaction slot (after apply; never during it).
      compact: (g) => this.repair.step(g) ?? this.compact(g),
      fail: (e) => this.die(e),
    };
  }

  /** Resolves in the next check phase, after the native immediates that write HTTP/2 frames to sockets. */
  private yieldToIo(): Promise<void> {
    return new Promise((resolve) => this.scheduler.soon(resolve));
  }

  private async persist(writes: PersistWrite[]): Promise<void> {
    const t0 = this.clock.nowMs();
    await this.opts.store.persist(writes);
    this.opts.metrics.fsyncDurationSeconds.observe((this.clock.nowMs() - t0) / 1000);
    let n = 0;
    for (const w of writes) n += w.entries.length;
    if (n > 0) this.opts.metrics.persistEntries.inc(n);
  }

  private startReadIndex(g: Group, ctx: number): { ok: true } | { ok: false; error: TesseraError } {
    const outcome = g.core.readIndex(ctx);
    return outcome.ok ? outcome : { ok: false, error: this.dropError(g, outcome.reason, outcome.leader) };
  }

  private discardStaging(g: Group): void {
    const staged = g.staging;
    if (!staged) return;
    g.staging = null;
    void g.sm.discardStaged(staged.id).catch(() => undefined);
  }

  private sendMessages(g: Group, messages: Message[], now: boolean): void {
    const { transport } = this.opts;
    for (const m of messages) {
      if (now && m.type === 'snapshot') {
        sendSnapshot(this.snapshotContext, g, withMemberAddresses(m, this.addresses));
        continue;
      }
      transport.send(m.to, encodeRaftMessage({ groupId: g.id, message: m }));
    }
  }

  /** Follower side: the state machine takes the staged data (its meta is durable already). */
  private async installSnapshot(g: Group, stagingId: string, meta: SnapshotMeta): Promise<void> {
    await g.sm.installStaged(stagingId, meta);
    if (g.kv !== null) this.rebuildShards(); // its range may have changed (or it was uninitialized)
    resetCompaction(g, meta.index);
    connectMembers(meta.config, this.addresses, this.opts.transport);
    this.opts.logger.info({ group: g.id, index: meta.index }, 'snapshot installed');
  }

  private observe(g: Group, rd: Ready): void {
    if (rd.hardState !== null) {
      g.term = rd.hardState.term;
      g.commit = rd.hardState.commit;
      g.m.raftTerm.set(rd.hardState.term);
      g.m.raftCommitIndex.set(rd.hardState.commit);
    }
    if (rd.softState !== null) this.onSoftState(g, rd.softState.leader, rd.softState.role);
    for (const rs of rd.readStates) g.reads.readState(rs.context, rs.index);
    for (const rf of rd.readsFailed) g.reads.readFailed(rf.context, this.dropError(g, rf.reason, g.leader));
  }

  private async apply(g: Group, entries: Entry[]): Promise<void> {
    const t0 = this.clock.nowMs();
    // Client writes are answered as soon as their results are known (the entries are committed); the
    // state machine's batch is written meanwhile, and reads still wait for sm.applied.
    const answerWrites = (results: Map<number, unknown>): void => {
      for (const e of entries) {
        if (e.kind !== 'normal') continue;
        const elapsedMs = g.waiters.applied(e.index, e.term, results.get(e.index));
        if (elapsedMs !== null) g.m.commitLatencySeconds.observe(elapsedMs / 1000);
      }
    };
    const wasInitialized = this.isInitialized(g);
    const results = await g.sm.apply(entries, answerWrites);
    g.m.applyLatencySeconds.observe((this.clock.nowMs() - t0) / 1000);
    if (!wasInitialized && this.isInitialized(g)) this.rebuildShards(); // a joined replica got its first entries
    if (g.isLeader) this.noteRemovals(g, entries);
    const removedAt = removalOfSelf(entries, this.cfg.id);
    if (removedAt !== null) {
      this.pendingDestroys.set(g.id, { index: removedAt, sinceMs: performance.now() });
      this.opts.logger.info(
        { group: g.id, index: removedAt },
        'this replica was removed from its group: destroying it soon',
      );
    }
    if (g.kv !== null) {
      let bytes = 0;
      for (const e of entries) if (e.kind === 'normal') bytes += e.data.length;
      this.autoSplit.noteApplied(g.id, results.size, bytes);
    }
    if (g.kv !== null)
      for (const [index, r] of results as Map<number, CommandResult>)
        if (r.type === 'split')
          await this.createSplitGroup(g, r.right, configAtSplit(g.core.status().config, entries, index));
    for (const e of entries) {
      if (e.kind === 'config') {
        learnFromConfigEntry(
          e,
          this.cfg.id,
          this.addresses,
          this.opts.transport,
          (n) => this.sharesOtherGroup(n, g) || this.farewells.isPendingFor(n),
        );
        g.memberWaiters.applied(e.index, e.term, true);
        g.waiters.applied(e.index, e.term, undefined);
        continue;
      }
      if (e.kind === 'empty') {
        g.waiters.applied(e.index, e.term, undefined);
        g.memberWaiters.applied(e.index, e.term, undefined);
      }
    }
    g.m.raftAppliedIndex.set(g.sm.applied);
  }

  /**
   * After the parent applied a split (split-groups.ts): writes the right-hand group's Raft start unless it
   * has Raft state already (a snapshot reached it first, rule 1 of kv/split-apply.ts), opens it, and on the
   * parent's leader makes it campaign at once instead of after an election timeout (the ticks are the
   * host's to give; safety never depends on them). Messages that arrived for it early are stepped now.
   */
  private async createSplitGroup(
    parent: Group,
    right: { groupId: number; start: Buffer; end: Buffer | null },
    config: ConfigState,
  ): Promise<void> {
    const id = right.groupId as GroupId;
    await this.opening.get(id); // an uninitialized replica being opened right now: let it finish first
    this.unknownGroupsHeard.delete(id);
    if (this.tombstones.has(id)) {
      // This node's replica of the right-hand group was created before its copy of the parent applied the
      // split (by a leader's message and a snapshot), then removed and destroyed. The split must not bring it
      // back: it would start from the split's configuration, which still names this node a voter, and from a
      // fresh term, forgetting the vote the tombstone keeps (two votes in one term). It comes back only when
      // it is added again (maybeOpenUninitialized, from the tombstone's term). The split's batch wrote the
      // right-hand group's state-machine records (its applied index: the split's start) here already: they go,
      // as a destroy's would. The parent's keys in the range stay behind unowned; a snapshot that installs the
      // range later clears them first. A replica reopened from the tombstone and still fenced (uninitialized)
      // goes back to its tombstone the same way; the reopen rule opens it again.
      const fenced = this.groups.get(id);
      if (fenced !== undefined) {
        this.groups.delete(id);
        this.retireGroup(fenced, 'was destroyed here before its split applied');
        this.quiescence.forget(id);
        this.tombstones.add({ ...this.tombstones.get(id)!, reopened: false, atMs: performance.now() });
        await this.tombstones.save();
      }
      await this.opts.store.destroyGroup(id, [], []);
      this.opts.logger.info({ group: id }, 'split applied: its right-hand group was destroyed here, not re-created');
      this.rebuildShards();
      return;
    }
    const existing = this.groups.get(id);
    if (existing !== undefined && existing.kvSm.applied === 0) {
      // An uninitialized replica (created from a leader's message before this split applied here): the split
      // just wrote its state, so it restarts from it, keeping the term and vote it may have given.
      this.groups.delete(id);
      this.quiescence.forget(id);
      this.retireGroup(existing);
    }
    if (!this.groups.has(id)) {
      const stored = this.opts.store.logBounds(id) === null ? null : await this.opts.store.loadGroup(id);
      if (stored === null || stored.snapshot === null)
        await this.opts.store.persist([splitGroupRaftStart(id, config, stored?.hardState ?? null)]);
      await this.openGroup(id, { start: right.start, end: right.end });
      const child = this.groups.get(id) as Group;
      if (parent.isLeader) for (let i = 0; i < 2 * this.cfg.timing.electionTicks; i++) child.core.tick();
      for (const m of this.earlyMessages.take(id, performance.now())) this.onMessages(m.from, [m.buf]);
    }
    this.rebuildShards();
    this.schedule();
  }

  /** Fails what waits on a group being replaced (its replica is reopened from the store). */
  private retireGroup(g: Group, why = 'is being reopened'): void {
    const gone = () => new TesseraError('UNAVAILABLE', `group ${g.id} ${why} on node ${this.cfg.id}; retry`);
    this.failQueuedProposals(g, gone);
    g.waiters.failAll(gone);
    g.memberWaiters.failAll(gone);
    g.reads.failAll(gone());
  }

  /**
   * On the leader, before the removals of `entries` take effect: each removed replica is told its removal
   * committed once it is known to hold it (farewells.ts), so it applies it and destroys itself.
   */
  private noteRemovals(g: Group, entries: Entry[]): void {
    const st = g.core.status();
    for (const e of entries) {
      if (e.kind !== 'config' || e.change.type !== 'removeNode' || e.change.node === this.cfg.id) continue;
      const match = st.progress?.get(e.change.node)?.match ?? 0;
      this.farewells.add({
        groupId: g.id,
        node: e.change.node,
        index: e.index,
        term: st.term,
        holds: match >= e.index,
        match,
        untilMs: performance.now() + 30 * this.cfg.timing.electionMs, // a few of its campaigns (farewells.ts)
      });
    }
  }

  private sendFarewells(): void {
    const heartbeatMs = this.cfg.timing.tickMs * this.cfg.timing.heartbeatTicks;
    let sent = false;
    for (const f of this.farewells.due(this.cfg.id, performance.now(), heartbeatMs)) {
      // In the term this node led the group in when it removed the node, even if it led no longer (a transfer
      // right after the removal): the removal committed in that term, and the node holds it (farewells.ts).
      if (!this.groups.has(f.groupId)) continue;
      this.opts.transport.send(f.message.to, encodeRaftMessage(f));
      sent = true;
    }
    for (const c of this.farewells.catchUpsDue(performance.now())) {
      const message = this.catchUpAppend(c);
      if (message === null) continue;
      this.opts.transport.send(c.node, encodeRaftMessage({ groupId: c.groupId, message }));
      sent = true;
    }
    if (sent) this.opts.transport.flush();
    // The links kept for farewells (farewells.ts): dropped once the last one to a node that is a member of
    // no group here any more is forgotten.
    for (const n of this.farewells.takeForgotten())
      if (!this.sharesOtherGroup(n, null)) this.opts.transport.removePeer(n);
  }

  /**
   * The append that hands a removed replica behind its removal the committed entries through it
   * (farewells.ts): after the candidate's last entry when this log has it with the same term, else after the
   * node's known match; null when neither is in this log any more (the driver's GC is the fallback).
   */
  private catchUpAppend(c: CatchUp): (Message & { type: 'append' }) | null {
    const g = this.groups.get(c.groupId);
    if (g === undefined) return null;
    const bytesMax = 1024 * 1024;
    let prevLogIndex = c.candidate.index;
    let slice = g.core.committedAfter(prevLogIndex, c.index, bytesMax);
    if (slice === null || slice.prevTerm !== c.candidate.term) {
      prevLogIndex = c.match;
      slice = g.core.committedAfter(prevLogIndex, c.index, bytesMax);
    }
    const last = slice?.entries[slice.entries.length - 1];
    if (slice === null || last === undefined) return null;
    const { prevTerm: prevLogTerm, entries } = slice;
    return {
      type: 'append',
      from: this.cfg.id,
      to: c.node,
      term: c.term,
      prevLogIndex,
      prevLogTerm,
      entries,
      commit: last.index,
    };
  }

  /** Is `node` a member of a group hosted here other than `except` (of any, when null)? */
  private sharesOtherGroup(node: NodeId, except: Group | null): boolean {
    for (const g of this.groups.values()) {
      if (g === except) continue;
      const c = g.core.status().config;
      if (c.voters.includes(node) || c.learners.includes(node) || c.votersOutgoing.includes(node)) return true;
    }
    return false;
  }

  /**
   * At start: a replica that applied its own removal but crashed before it was destroyed (the grace period
   * of replica-destroy.ts) is destroyed now (removedAtOpen).
   */
  private resumeDestroys(): void {
    for (const g of this.groups.values()) {
      const st = g.core.status();
      if (!removedAtOpen(st.config, this.cfg.id, g.sm.applied, st.lastIndex)) continue;
      this.pendingDestroys.set(g.id, { index: g.sm.applied, sinceMs: performance.now() });
      this.opts.logger.info({ group: g.id }, 'this replica applied its removal before a restart: destroying it soon');
    }
  }

  /**
   * The placement driver found this node's replica of `groupId` stale (placement/stale-replicas.ts): removed
   * from its group without knowing it. Destroys it (replica-destroy.ts) unless it applied or holds more than
   * `appliedMax`, leads, or is busy with a snapshot; says what it did (the driver logs it).
   */
  destroyStaleReplica(groupId: number, appliedMax: number): string {
    this.checkOpen();
    const g = this.groups.get(groupId as GroupId);
    if (g === undefined) return `no replica of group ${groupId} here`;
    const st = g.core.status();
    if (st.role === 'leader') return `this replica leads group ${groupId}`;
    if (g.sm.applied > appliedMax || st.lastIndex > appliedMax)
      return `this replica holds index ${st.lastIndex} > ${appliedMax}: not stale`;
    if (this.pendingDestroys.has(g.id)) return 'already being destroyed';
    this.pendingDestroys.set(g.id, { index: 0, sinceMs: performance.now(), staleAppliedMax: appliedMax });
    this.opts.logger.info({ group: g.id, appliedMax }, 'stale replica (removed without knowing it): destroying it');
    return 'destroying';
  }

  /** Destroys the removed replicas that are due (replica-destroy.ts), never while the ready loop runs. */
  private pollDestroys(): void {
    if (this.loop.isRunning || this.closed || this.fatal !== null) return;
    const now = performance.now();
    for (const [id, pending] of this.pendingDestroys) {
      const g = this.groups.get(id);
      if (g === undefined) {
        this.pendingDestroys.delete(id);
        continue;
      }
      // A removed replica keeps ticking until destroyed (a quiet one would never hear of its successor).
      if (this.quiescence.isQuiet(id)) this.wake(g);
      const decision = destroyDecision(g, pending, this.cfg.id, now, this.cfg.timing.electionMs);
      if (decision === 'wait') continue;
      this.pendingDestroys.delete(id);
      if (decision === 'cancel') {
        this.opts.logger.info({ group: id }, 'this replica was added to its group again: not destroyed');
        continue;
      }
      this.destroyReplica(g, pending);
    }
  }

  /**
   * Stops group `g` (this node applied its removal) and deletes its state with a tombstone in one batch
   * (replica-destroy.ts). The group leaves the host synchronously, between two loop runs; the tombstone is
   * in memory before the write, so a message arriving meanwhile does not reopen it.
   */
  private destroyReplica(g: Group, pending: PendingDestroy): void {
    const initialized = this.isInitialized(g);
    this.groups.delete(g.id);
    this.retireGroup(g, 'was removed');
    this.earlyMessages.take(g.id, performance.now());
    this.unknownGroupsHeard.delete(g.id);
    this.quiescence.forget(g.id);
    this.autoSplit.leaderChanged(g.id);
    this.rebuildShards();
    const owner = g.kv !== null && initialized ? overlappingShard(g.kv.shard, this.initializedKvGroups(), g) : null;
    if (owner !== null)
      this.opts.logger.error(
        { group: g.id, owner: owner.id },
        'a removed replica shares keys with another group of this node (rule 2 broken?): its data is kept',
      );
    const hs = g.syncedHardState;
    const tombstone = this.tombstones.add({
      groupId: g.id,
      // The fence of a reopen (tombstones.ts): the removal, or for a stale replica the leader's applied index
      // whose configuration left it out.
      index: pending.index > 0 ? pending.index : (pending.staleAppliedMax ?? 0),
      term: hs.term,
      vote: hs.vote,
      atMs: performance.now(),
    });
    const ranges = destroyRanges(g, initialized, owner !== null);
    this.opts.store
      .destroyGroup(g.id, ranges, [tombstone])
      .then((keys) => {
        this.opts.metrics.replicasDestroyed.inc();
        this.opts.logger.info({ group: g.id, index: pending.index, keys }, 'removed replica destroyed');
      })
      .catch((e: unknown) => this.die(e));
  }

  /**
   * A leader's message for a group this node does not host: a split's right-hand group whose split this
   * node skipped (its parent caught up by a snapshot taken after the split). Opens an uninitialized replica
   * (no configuration, no keys; split-groups.ts) that the leader then fills with a snapshot. Only KV groups,
   * only from a leader's append or heartbeat, at most UNINITIALIZED_GROUPS_MAX at a time.
   */
  private maybeOpenUninitialized(groupId: number, m: Message): void {
    const tombstone = this.tombstones.get(groupId);
    // The meta group is always open, unless this node's replica of it was destroyed (then like any group).
    if (groupId === META_SHARD_ID && tombstone === undefined) return;
    if (!isShardId(groupId) || this.opening.has(groupId as GroupId)) return;
    // A leader's append or heartbeat, or a candidate's (pre)vote request (as TiKV's is_initial_msg): when the
    // majority of a split's right-hand group skipped the split (their parents caught up by snapshots taken
    // after it), only the minority that applied it hosts the group, and its candidates need the others'
    // votes to elect the leader that then fills them (simulator seed 1002391, test/sim/FINDINGS.md). An
    // uninitialized replica's empty log grants a vote only to a candidate whose log is at least as long,
    // as any voter's does. A destroyed (tombstoned) replica is reopened by a leader only, never to vote.
    const request = m.type === 'vote' || m.type === 'preVote';
    if (m.type !== 'append' && m.type !== 'heartbeat' && !request) return;
    if (request && tombstone !== undefined) return;
    // Not while this node may still apply the split itself (it usually does within milliseconds): only once
    // the group's leader has been heard for an election timeout.
    const now = performance.now();
    const firstHeard = this.unknownGroupsHeard.get(groupId);
    if (firstHeard === undefined) {
      if (this.unknownGroupsHeard.size >= UNINITIALIZED_GROUPS_MAX) this.unknownGroupsHeard.clear();
      this.unknownGroupsHeard.set(groupId, now);
      return;
    }
    if (now - firstHeard < this.cfg.timing.electionMs) return;
    if (tombstone !== undefined && !reopenAllowed(tombstone, firstHeard, now, this.cfg.timing.electionMs)) return;
    let uninitialized = 0;
    for (const g of this.kvGroups()) if (g.id !== WHOLE_KEYSPACE_GROUP && g.kvSm.applied === 0) uninitialized++;
    if (uninitialized + this.opening.size >= UNINITIALIZED_GROUPS_MAX) return;
    const id = groupId as GroupId;
    this.unknownGroupsHeard.delete(groupId);
    const opened = this.openReplica(id, tombstone)
      .then(() => {
        this.opts.logger.info(
          { group: id, from: m.from },
          'opened an uninitialized replica for a leader or candidate that contacted it',
        );
        for (const e of this.earlyMessages.take(id, performance.now())) this.onMessages(e.from, [e.buf]);
      })
      .catch((e: unknown) =>
        this.opts.logger.warn({ group: id, err: (e as Error).message }, 'could not open a replica'),
      )
      .finally(() => this.opening.delete(id));
    this.opening.set(id, opened);
  }

  /**
   * Opens an uninitialized replica of `id`; one destroyed here before (a tombstone: this node was added
   * again) restarts from the tombstone's term and vote, fenced until a snapshot past its removal arrives
   * (tombstones.ts: the tombstone stays, marked reopened, and goes in onSnapshot).
   */
  private async openReplica(id: GroupId, tombstone: Tombstone | undefined): Promise<void> {
    if (tombstone !== undefined) {
      // Whatever of the group is still stored goes first (the records a skipped split wrote, should a crash
      // have come before createSplitGroup cleared them, or a fenced replica's before a restart): the replica
      // restarts from the tombstone alone.
      await this.opts.store.destroyGroup(id, [], []);
      const hardState = { term: tombstone.term, vote: tombstone.vote, commit: 0 };
      await this.opts.store.persist([{ groupId: id, hardState, entries: [], snapshot: null }]);
      this.tombstones.markReopened(id);
      await this.tombstones.save();
      this.opts.logger.info(
        { group: id, term: tombstone.term, fence: tombstone.index },
        'reopening a destroyed replica, fenced until a snapshot past its removal',
      );
    }
    if (id === META_SHARD_ID) await this.openMeta(false, tombstone !== undefined);
    else await this.openGroup(id, { start: Buffer.alloc(0), end: null }, false);
    const g = this.groups.get(id);
    if (g !== undefined && tombstone !== undefined) g.fenceIndex = tombstone.index;
  }

  /** Compacts when due (compaction.ts): nothing to wait for on most Readys. */
  private compact(g: Group): LoopWait {
    const point = takeCompactionPoint(g, this.cfg);
    if (point === null) return undefined;
    return new LoopJoin([compactAt(g, point, this.opts.store, this.opts.logger)]);
  }

  private advanced(g: Group, rd: Ready): void {
    noteApplied(g, rd.committedEntries, this.cfg);
    g.reads.serve(g.sm.applied);
    this.queueDepth.proposals.set(g.waiters.size);
    this.queueDepth.reads.set(g.reads.size);
    this.queueDepth.outbox.set(this.opts.transport.queuedMessages());
  }

  private onSoftState(g: Group, leader: NodeId, role: Role): void {
    const wasLeader = g.isLeader;
    const leaderChanged = leader !== g.leader;
    g.leader = leader;
    g.role = role;
    if (g.kv !== null && wasLeader !== (role === 'leader')) {
      this.opts.metrics.shardLeaders.inc(wasLeader ? -1 : 1);
      this.autoSplit.leaderChanged(g.id);
    }
    const { metrics, logger } = this.opts;
    metrics.raftRole.set({ group: g.label }, role === 'leader' ? 1 : 0);
    if (leaderChanged && leader !== NO_NODE) {
      metrics.raftLeaderChanges.inc({ group: g.label });
      logger.info(
        { group: g.id, leader, role, term: g.core.status().term },
        leader === this.cfg.id ? 'became leader' : 'leader changed',
      );
    }
    if (wasLeader && role !== 'leader') {
      const lost = () => leadershipLostError(this.cfg.id, g.id, leader, this.addressOf(leader));
      g.waiters.failAll(lost);
      g.memberWaiters.failAll(lost);
      g.reads.failAll(this.notLeader(g, leader));
    }
  }

  // ---------------------------------------------------------------- errors and lifecycle

  private group(groupId: GroupId): Group {
    const g = this.groups.get(groupId);
    if (!g)
      throw new TesseraError('WRONG_SHARD', `group ${groupId} is not hosted on node ${this.cfg.id}`, { epoch: 0 });
    return g;
  }

  private addressOf(id: NodeId): string | null {
    return id === NO_NODE ? null : this.addresses.get(id);
  }

  private notLeader(g: Group, leader: NodeId): TesseraError {
    return notLeaderError(this.cfg.id, g.id, leader, this.addressOf(leader));
  }

  private dropError(g: Group, reason: DropReason, leader: NodeId): TesseraError {
    return dropError(this.cfg.id, g.id, reason, leader, this.addressOf(leader));
  }

  private checkOpen(): void {
    if (this.closed) throw new TesseraError('UNAVAILABLE', 'the node is shutting down; retry on another node');
    if (this.fatal !== null)
      throw new TesseraError('UNAVAILABLE', 'the node failed and is stopping; retry on another node');
  }

  private die(e: unknown): void {
    if (this.fatal !== null) return;
    this.fatal = e;
    this.loop.halt();
    this.tickTimer?.cancel();
    this.tickTimer = null;
    const failed = () => new TesseraError('UNAVAILABLE', 'the node failed and is stopping; retry on another node');
    for (const g of this.groups.values()) {
      this.failQueuedProposals(g, failed);
      g.waiters.failAll(failed);
      g.memberWaiters.failAll(failed);
      g.reads.failAll(failed());
    }
    this.opts.onFatal(e);
  }
}

/** The key a command is routed by (a batch: its first key), or null when it has none. */
function commandKey(c: Command): Buffer | null {
  switch (c.type) {
    case 'put':
    case 'delete':
    case 'cas':
      return c.key;
    case 'batch':
      return c.compares[0]?.key ?? c.writes[0]?.key ?? c.reads[0] ?? null;
    default:
      return null;
  }
}
