/**
 * One simulated server: a durable SimDisk that survives crashes, plus a volatile incarnation (the Raft
 * core, the KV state machine, pending reads, and the real ready loop of src/node/ready-loop.ts over the
 * simulated I/O of sim-host.ts) rebuilt from the disk on restart. Every event on the node (a message, a
 * tick, a client call) ends with a turn: what it scheduled runs, so the loop takes a Ready, sends
 * messagesNow, persists (group commit), sends messagesAfterPersist, installs, applies, advances and compacts,
 * exactly as NodeHost runs it. Crashes are injected between effects (crash points, in sim-host.ts):
 *   send messagesNow -> [beforeWrite] write [afterWrite] -> (hold) -> fsync [afterSync] -> send acks
 *   [afterSend] -> install -> apply [midApply] [beforeAdvance] -> (hold) -> advance -> compact
 * A crash loses the unsynced writes and the whole incarnation (its loop run is abandoned). With
 * mix.holdReadyRate a persist or an apply stays in flight for one or more ticks, as a group commit or a
 * state machine batch does: messages (snapshots included), proposals and reports reach the core between
 * ready() and advance(), and what never waits for persistence goes out meanwhile (takeMessagesNow).
 * Splits (split-replicas.ts): a SimNode is one group's replica on a node. The node's replica of SIM_GROUP is
 * its primary: it owns the process (incarnations, crash points, restarts) and the node's other replicas
 * (right-hand groups of splits), each with its own disk, core, state machine and real ready loop. A crash
 * takes every replica of the node down; a start rebuilds each from its own disk.
 */
import type { Random } from '../../src/base';
import type { ConfigState, Entry, MembershipChange, Message, RaftConfig, RawNode, Ready, Role } from '../../src/raft';
import type { ProposeOutcome, ReadIndexOutcome, TransferOutcome } from '../../src/raft';
import type { SimCommand, SimResult } from './command-codec';
import type { KvUnsafe } from './kv-model';
import { encodeCommand } from './command-codec';
import type { CoreFactory } from './core-factory';
import { SimDisk } from './disk';
import type { CrashPoint, FaultMix } from './fault-mix';
import { KvState } from './kv-model';
import { SimFailure } from './sim-failure';
import { SIM_GROUP, SimHost, cloneConfig } from './sim-host';
import { GRACE_ELECTIONS, LEADER_GRACE_ELECTIONS } from '../../src/node/replica-destroy';

export { cloneConfig };

/** What a node reports to the cluster (which fans out to checkers, workload and network). */
export interface NodeEnv {
  readonly mix: FaultMix;
  readonly kvUnsafe: KvUnsafe;
  now(): number;
  trace(text: string): void;
  send(from: SimNode, message: Message): void;
  onReadyTaken(node: SimNode, ready: Ready): void;
  onLeader(node: SimNode, term: number): void;
  onSynced(node: SimNode, batches: ReturnType<SimDisk['sync']>): void;
  onApply(node: SimNode, entry: Entry, command: SimCommand | null, result: SimResult | null, fresh: boolean): void;
  onSnapshotInstalled(node: SimNode, index: number, state: KvState): void;
  onReadDone(node: SimNode, context: number, value: string | null): void;
  onReadFailed(node: SimNode, context: number): void;
  onCrash(node: SimNode, lostBatches: number): void;
  onRestart(node: SimNode): void;
  /** The replica was destroyed (its disk holds only the tombstone's term and vote now). */
  onDestroyed(node: SimNode): void;
}

interface PendingRead {
  key: string;
  index: number | null;
}

/** How many Readys a scheduled crash point may wait for a Ready where it is meaningful. */
const crashPatienceReadys = 20;

export class SimNode {
  readonly disk: SimDisk;
  core: RawNode | null = null;
  sm: KvState | null = null;
  host: SimHost | null = null;
  incarnation = 0;
  role: Role = 'follower';
  term = 0;
  leader = 0;
  commit = 0;
  /** Membership as of the applied index (host-tracked, for the config-agreement check). */
  config: ConfigState;
  private crashAt: CrashPoint | null = null;
  private crashPatience = 0;
  private readonly reads = new Map<number, PendingRead>();
  crashes = 0;
  /**
   * Destroyed once (removed from its group, or collected as stale): with no snapshot it boots uninitialized
   * (no configuration, no range) until the group gives it a snapshot again, whatever group it is.
   */
  destroyed = false;
  /**
   * A destroy to come (NodeHost.pendingDestroys, decided by replica-destroy.ts destroyDecision): 'removed'
   * (it applied its own removal at `index`, at tick `sinceTick`) or 'stale' (collected, stale-replicas.ts:
   * destroyed only while it holds nothing past `appliedMax`).
   */
  pendingDestroy: { kind: 'removed'; index: number; sinceTick: number } | { kind: 'stale'; appliedMax: number } | null =
    null;
  destroys = 0;
  /**
   * Set by a destroy (node/tombstones.ts): the node does not host the group until a leader's append or
   * heartbeat in a term at least the tombstone's reaches it, first heard at least two election timeouts ago
   * (reopenAllowed, cluster.ts recipient); meanwhile nothing is delivered to it (no vote request either).
   */
  tombstone: { term: number; atTick: number; firstHeard: number | null; index: number } | null = null;
  /**
   * A replica reopened from its tombstone (node/tombstones.ts, the fence): the tombstone's index (the removal,
   * or the stale collection's applied bound). Until a snapshot past it is accepted the replica grants no vote
   * and refuses snapshots at or below it; a restart or a split applied meanwhile puts the tombstone back.
   */
  fence = 0;
  /** On the primary: the node's replicas of other groups, by group id. */
  readonly replicas = new Map<number, SimNode>();
  readonly primary: SimNode;

  constructor(
    readonly id: number,
    private readonly initialConfig: ConfigState,
    readonly raftConfig: RaftConfig,
    readonly random: Random,
    readonly factory: CoreFactory,
    readonly env: NodeEnv,
    readonly group: number = SIM_GROUP,
    primary: SimNode | null = null,
  ) {
    this.disk = new SimDisk(id);
    this.config = cloneConfig(initialConfig);
    this.primary = primary ?? this;
  }

  get alive(): boolean {
    return this.core !== null;
  }

  /** This replica and the node's other replicas (on the primary; just this one on another replica). */
  allReplicas(): SimNode[] {
    return this.replicas.size === 0 ? [this] : [this, ...this.replicas.values()];
  }

  /** Starts (or restarts) the node's incarnation: every replica from what its disk kept. */
  start(): void {
    if (this.primary !== this) return this.primary.start();
    if (this.core) throw new SimFailure('host', `node ${this.id} started twice`);
    const all = this.allReplicas();
    for (const r of all) r.boot();
    for (const r of all) r.host?.turn();
  }

  /** Rebuilds this replica's incarnation from its disk (no turn yet). */
  boot(): void {
    if (this.core) throw new SimFailure('host', `node ${this.id} group ${this.group} started twice`);
    this.incarnation++;
    if (this.fence > 0) this.refence(); // NodeHost does not open a fenced replica at start (its tombstone is there)
    const initial = this.destroyed ? noConfig() : this.initialConfig;
    const restore = this.disk.restoreState(cloneConfig(initial));
    const snap = this.disk.snapshot();
    const sm = snap ? KvState.deserialize(snap.data) : new KvState();
    // A destroyed replica, of SIM_GROUP too, comes back uninitialized: it owns nothing, takes no entries
    // (raft/receive.ts) and starts from the snapshot its leader sends it.
    if (!snap && (this.group !== SIM_GROUP || this.destroyed)) {
      sm.group = this.group;
      sm.range = null; // an uninitialized replica owns nothing until a snapshot gives it its range
    }
    sm.unsafe = this.env.kvUnsafe;
    if (sm.applied !== restore.applied) {
      throw new SimFailure('host', `node ${this.id}: snapshot data at ${sm.applied}, meta at ${restore.applied}`);
    }
    this.sm = sm;
    this.config = cloneConfig(snap ? snap.meta.config : initial);
    this.role = 'follower';
    this.leader = 0;
    this.term = restore.hardState.term;
    this.commit = restore.hardState.commit;
    this.core = this.factory(this.raftConfig, restore, this.random.fork());
    this.host = new SimHost(this, this.core, sm, { ...restore.hardState });
    const g = this.group === SIM_GROUP ? '' : ` g${this.group}`;
    this.env.trace(
      `n${this.id}${g} start #${this.incarnation} hs=${JSON.stringify(restore.hardState)} snap=${restore.applied} last=${this.disk.lastIndex()}`,
    );
    this.env.onRestart(this);
  }

  /** Power loss now (between effects): every replica of the node. */
  crash(): void {
    if (this.primary !== this) return this.primary.crash();
    if (!this.core) return;
    let lost = this.crashReplica();
    for (const r of this.replicas.values()) lost += r.crashReplica();
    this.crashes++;
    this.env.onCrash(this, lost);
  }

  /** Takes this replica's incarnation down (disk loses its unsynced writes); returns the batches lost. */
  private crashReplica(): number {
    if (!this.core) return 0;
    const { lost, kept } = this.disk.crash(this.random, this.env.mix.crashLossMode);
    // Batches the crash kept are durable: the checkers see them like a sync.
    if (kept.length > 0) this.env.onSynced(this, kept);
    const host = this.host;
    this.core = null;
    this.host = null;
    this.sm = null;
    this.reads.clear();
    this.crashAt = null;
    this.role = 'follower';
    this.leader = 0;
    host?.crash();
    this.env.trace(
      `n${this.id}${this.group === SIM_GROUP ? '' : ` g${this.group}`} CRASH lost ${lost} unsynced batch(es), kept ${kept.length}; durable hs=${JSON.stringify(this.disk.hardState())} last=${this.disk.lastIndex()}`,
    );
    return lost;
  }

  /** Retires this replica's incarnation without a crash (its disk is kept): it is rebuilt from a new start. */
  retire(): void {
    const host = this.host;
    this.core = null;
    this.host = null;
    this.sm = null;
    this.reads.clear();
    this.role = 'follower';
    this.leader = 0;
    host?.crash();
  }

  /**
   * Destroys this replica between two loop runs, as NodeHost does (replica-destroy.ts): the incarnation
   * goes, the disk keeps only the tombstone (term, vote), and an uninitialized replica of the group takes
   * its place, unreachable until a leader reopens it (`tombstone`, cluster.ts) and then filled by snapshot.
   * Waits (stays pending) while a loop run, an unsynced write or a staged snapshot is in flight; the
   * pending destroy outlives a crash (NodeHost.resumeDestroys finds an applied removal again at start).
   */
  destroyReplica(): void {
    const host = this.host;
    const pending = this.pendingDestroy;
    if (!host || !this.core || !this.sm || pending === null) return;
    const decision = destroyDecisionOf(pending, this, this.env.now());
    if (decision === 'cancel') {
      this.pendingDestroy = null;
      this.env.trace(
        `n${this.id}${this.group === SIM_GROUP ? '' : ` g${this.group}`} destroy cancelled (${pending.kind})`,
      );
      return;
    }
    if (decision === 'wait' || host.loop.isRunning || this.disk.pendingBatches > 0 || host.staging) return;
    this.pendingDestroy = null;
    this.retire();
    this.disk.destroy();
    this.destroyed = true;
    this.destroys++;
    const index = pending.kind === 'removed' ? pending.index : pending.appliedMax;
    this.tombstone = { term: this.disk.hardState().term, atTick: this.env.now(), firstHeard: null, index };
    this.env.trace(
      `n${this.id}${this.group === SIM_GROUP ? '' : ` g${this.group}`} DESTROYED (tombstone hs=${JSON.stringify(this.disk.hardState())})`,
    );
    this.env.onDestroyed(this);
    this.boot();
    this.host?.turn();
  }

  /** A fenced replica goes back to its tombstone (a restart, or a split applied meanwhile: NodeHost's). */
  refence(): void {
    this.tombstone = { term: this.disk.hardState().term, atTick: this.env.now(), firstHeard: null, index: this.fence };
    this.fence = 0;
    this.env.trace(
      `n${this.id}${this.group === SIM_GROUP ? '' : ` g${this.group}`} fenced replica back to its tombstone`,
    );
  }

  /** Crash at a given point of a later Ready (or now, for 'idle'). */
  scheduleCrash(point: CrashPoint): void {
    if (this.primary !== this) return this.primary.scheduleCrash(point);
    if (!this.core) return;
    if (point === 'idle') {
      this.crash();
      return;
    }
    this.crashAt = point;
    this.crashPatience = crashPatienceReadys;
  }

  cancelScheduledCrash(): void {
    this.primary.crashAt = null;
  }

  /** Whether to crash here (a scheduled crash point reached); crashes the node if so. */
  crashHere(point: CrashPoint, meaningful: boolean): boolean {
    if (this.primary !== this) return this.primary.crashHere(point, meaningful);
    if (this.crashAt !== point) return false;
    if (!meaningful && --this.crashPatience > 0) return false;
    this.env.trace(`n${this.id} crash point ${point}`);
    this.crash();
    return true;
  }

  /** A tick of the node: the primary's group, then the other replicas in creation order. */
  tick(): void {
    this.tickReplica();
    if (this.replicas.size === 0) return;
    for (const r of [...this.replicas.values()]) if (this.core) r.tickReplica();
  }

  private tickReplica(): void {
    if (this.pendingDestroy !== null) this.destroyReplica();
    const host = this.host;
    if (!host) return;
    host.tick(); // held writes and applies may finish, received snapshot streams progress
    if (!this.core || this.host !== host) return;
    this.core.tick();
    host.turn();
  }

  step(message: Message): void {
    if (!this.core) return;
    // A fenced replica (NodeHost.onMessages) grants no vote: no answer at all.
    if (this.fence > 0 && (message.type === 'vote' || message.type === 'preVote')) return;
    this.core.step(message);
    this.turn();
  }

  /** A snapshot stream reaches this node; `settle` tells the sender how it ended. */
  receiveSnapshot(message: Message & { type: 'snapshot' }, settle: (ok: boolean) => void): void {
    const host = this.host;
    if (!host) {
      settle(false);
      return;
    }
    host.receiveSnapshot(message, settle);
    this.turn();
  }

  /** The sender side learns how its snapshot stream to `peer` ended. */
  snapshotSettled(peer: number, ok: boolean): void {
    if (!this.host) return;
    this.host.snapshotSettled(peer, ok);
    this.turn();
  }

  propose(command: SimCommand): ProposeOutcome {
    const out = this.requireCore().propose(encodeCommand(command));
    this.turn();
    return out;
  }

  readIndex(context: number, key: string): ReadIndexOutcome {
    const core = this.requireCore();
    this.reads.set(context, { key, index: null });
    const out = core.readIndex(context);
    if (!out.ok) this.reads.delete(context);
    this.turn();
    return out;
  }

  transferLeader(to: number): TransferOutcome {
    const out = this.requireCore().transferLeader(to);
    this.turn();
    return out;
  }

  proposeMembership(change: MembershipChange): ProposeOutcome {
    const out = this.requireCore().proposeMembership(change);
    this.turn();
    return out;
  }

  reportUnreachable(peer: number): void {
    if (!this.core) return;
    this.core.reportUnreachable(peer);
    this.turn();
  }

  turn(): void {
    this.host?.turn();
  }

  /** The loop's observe step: hard state, soft state, read states of a Ready (before its entries apply). */
  observe(rd: Ready): void {
    const env = this.env;
    env.onReadyTaken(this, rd);
    if (rd.hardState) {
      this.term = rd.hardState.term;
      this.commit = rd.hardState.commit;
    }
    if (rd.softState) {
      const wasRole = this.role;
      this.role = rd.softState.role;
      this.leader = rd.softState.leader;
      // The loop observes a Ready after its persist, which may have been held while the core moved on to a
      // later term: only a core still leading knows the term it leads in (its messages report it too).
      const st = this.role === 'leader' ? this.core!.status() : null;
      if (st !== null && st.role === 'leader') {
        this.term = st.term;
        env.onLeader(this, st.term);
      }
      if (wasRole !== this.role)
        env.trace(
          `n${this.id}${this.group === SIM_GROUP ? '' : ` g${this.group}`} ${wasRole} -> ${this.role} term ${this.term} leader ${this.leader}`,
        );
    }
    for (const rs of rd.readStates) {
      const r = this.reads.get(rs.context);
      if (r) r.index = rs.index;
    }
    for (const f of rd.readsFailed) {
      if (this.reads.delete(f.context)) env.onReadFailed(this, f.context);
    }
  }

  /**
   * Config agreement (a safety check): once advanced, the core acts on the membership its applied log
   * defines, which the host tracks from the config entries it applied and the snapshots it installed.
   * Skipped while the core holds a snapshot the host has not installed yet (its config is already the
   * snapshot's). A core that re-applied an older config over a newer snapshot's fails here.
   */
  checkConfig(core: RawNode): void {
    const st = core.status();
    if (st.firstIndex - 1 > this.sm!.applied || sameConfig(st.config, this.config)) return;
    throw new SimFailure(
      'config-agreement',
      `node ${this.id} at applied ${this.sm!.applied} acts on config ${JSON.stringify(st.config)}, its applied log defines ${JSON.stringify(this.config)}`,
    );
  }

  serveReads(): void {
    const applied = this.sm!.applied;
    for (const [ctx, r] of this.reads) {
      if (r.index !== null && applied >= r.index) {
        this.reads.delete(ctx);
        // The range as of the read index: a key the group no longer owns is WRONG_SHARD (the client retries).
        if (this.sm!.owns(r.key)) this.env.onReadDone(this, ctx, this.sm!.get(r.key));
        else this.env.onReadFailed(this, ctx);
      }
    }
  }

  private requireCore(): RawNode {
    if (!this.core) throw new SimFailure('host', `node ${this.id} is down`);
    return this.core;
  }
}

const noConfig = (): ConfigState => ({ voters: [], learners: [], votersOutgoing: [] });

/** replica-destroy.ts destroyDecision, in ticks: cancel when added again (or no longer stale), else wait or go. */
function destroyDecisionOf(
  p: NonNullable<SimNode['pendingDestroy']>,
  r: SimNode,
  now: number,
): 'wait' | 'now' | 'cancel' {
  const st = r.core!.status();
  const leads = st.role === 'leader';
  if (p.kind === 'stale') {
    if (r.sm!.applied > p.appliedMax || st.lastIndex > p.appliedMax) return 'cancel';
    return leads ? 'wait' : 'now';
  }
  const c = r.config;
  if (c.voters.includes(r.id) || c.learners.includes(r.id) || c.votersOutgoing.includes(r.id)) return 'cancel';
  if (r.sm!.applied < p.index) return 'wait';
  const elapsed = now - p.sinceTick;
  const election = r.raftConfig.electionTicks;
  if (elapsed < GRACE_ELECTIONS * election) return 'wait';
  if (leads && elapsed < LEADER_GRACE_ELECTIONS * election) return 'wait';
  return 'now';
}

function sameConfig(a: ConfigState, b: ConfigState): boolean {
  const same = (x: number[], y: number[]): boolean => x.length === y.length && x.every((v) => y.includes(v));
  return same(a.voters, b.voters) && same(a.learners, b.learners) && same(a.votersOutgoing, b.votersOutgoing);
}
