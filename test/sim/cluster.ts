/**
 * A simulated cluster: N SimNodes on a SimNetwork in virtual time, with the nemesis, the client
 * workload and the checker suite wired to every event. One tick = nemesis actions, client actions,
 * delivery of due messages (each step followed by the recipient's Readys), one tick() per live core,
 * deferred unreachable/snapshot reports. Each node runs the real ready loop (sim-host.ts), which compacts.
 * Groups (splits): each node may run replicas of several groups (split-replicas.ts); messages carry their
 * group, and each group has its own checker suite (split-cluster.ts).
 * Invariant: all randomness comes from sub-generators forked from the seed's Random in a fixed order.
 */
import { Random } from '../../src/base';
import type { ConfigState, Entry, Message, RaftConfig, Ready } from '../../src/raft';
import type { SimCommand, SimResult } from './command-codec';
import type { CoreFactory } from './core-factory';
import { CheckerSuite } from './checkers';
import type { WriteBatch } from './disk';
import type { FaultMix } from './fault-mix';
import { COLLECT_EVERY_TICKS, collectStaleReplicas } from './stale-replicas';
import { FaultScheduler } from './faults';
import type { KvState, KvUnsafe } from './kv-model';
import { SimNetwork } from './network';
import type { NodeEnv } from './sim-node';
import { SimNode } from './sim-node';
import { GroupSuites, replicaOn, type GroupMessage, type Route } from './split-cluster';
import { openUninitialized } from './split-replicas';
import type { Trace } from './trace';
import type { ClientOp } from './workload';
import { Workload } from './workload';

export interface ClusterOptions {
  seed: number;
  mix: FaultMix;
  factory: CoreFactory;
  baseConfig: (id: number) => RaftConfig;
  unsafe?: RaftConfig['unsafe'];
  trace: Trace;
  checkAckOrder: boolean;
  kvUnsafe?: KvUnsafe;
}

export class Cluster implements NodeEnv {
  readonly mix: FaultMix;
  readonly kvUnsafe: KvUnsafe;
  readonly network: SimNetwork;
  /** The checkers of SIM_GROUP (suites.get(1)). */
  readonly checkers: CheckerSuite;
  readonly suites: GroupSuites;
  readonly workload: Workload;
  readonly faults: FaultScheduler;
  readonly members: SimNode[] = [];
  private tickNow = 0;
  private readonly tickRandom: Random;
  private readonly deferred: (() => void)[] = [];
  private readonly traceLog: Trace;
  private groupSeq = 2;

  constructor(opts: ClusterOptions) {
    const root = new Random(opts.seed);
    root.fork(); // reserved: the fault mix is drawn from the first fork by run-seed
    const netRandom = root.fork();
    const nodeRandom = root.fork();
    const workloadRandom = root.fork();
    const faultRandom = root.fork();
    this.tickRandom = root.fork();
    this.mix = opts.mix;
    this.suites = new GroupSuites(opts.checkAckOrder);
    this.checkers = this.suites.first;
    this.kvUnsafe = opts.kvUnsafe ?? {};
    this.traceLog = opts.trace;
    this.network = new SimNetwork(netRandom, { ...opts.mix.net });
    const ids = Array.from({ length: opts.mix.nodeCount }, (_, i) => i + 1);
    const initial: ConfigState = { voters: ids, learners: [], votersOutgoing: [] };
    for (const id of ids) {
      const config: RaftConfig = {
        ...opts.baseConfig(id),
        id,
        electionTicks: opts.mix.electionTicks,
        heartbeatTicks: opts.mix.heartbeatTicks,
        preVote: opts.mix.preVote,
        checkQuorum: opts.mix.checkQuorum,
        lazyCommit: opts.mix.lazyCommit,
        inflightMessagesMax: opts.mix.inflightMessagesMax,
        appendBytesMax: opts.mix.appendBytesMax,
        uncommittedBytesMax: opts.mix.uncommittedBytesMax,
      };
      if (opts.mix.inflightBytesMax !== undefined) config.inflightBytesMax = opts.mix.inflightBytesMax;
      if (opts.unsafe) config.unsafe = { ...opts.unsafe };
      this.members.push(new SimNode(id, initial, config, nodeRandom.fork(), opts.factory, this));
    }
    this.workload = new Workload(
      workloadRandom,
      {
        now: () => this.tickNow,
        replicas: (group) => this.replicasOf(group),
        globalCommit: () => this.checkers.globalCommit,
        globalCommits: () => this.suites.commits(),
        routes: () => this.routes(),
        trace: (t) => this.trace(t),
        onWriteAck: (op, result) => this.onWriteAck(op, result),
        onReadAck: (op, value, node) => this.onReadAck(op, value, node),
      },
      opts.mix.clients,
      opts.mix.opsPerClient,
      opts.mix.keys,
    );
    this.faults = new FaultScheduler(faultRandom, opts.mix, this);
    for (const n of this.members) n.start();
  }

  // --- FaultHost / WorkloadHost ---
  now(): number {
    return this.tickNow;
  }
  nodes(): readonly SimNode[] {
    return this.members;
  }
  /** The live leader of SIM_GROUP with the highest term, if any. */
  leader(): SimNode | null {
    return this.leaderOf(1);
  }
  leaderOf(group: number): SimNode | null {
    let best: SimNode | null = null;
    for (const n of this.replicasOf(group))
      if (n.alive && n.role === 'leader' && (!best || n.term > best.term)) best = n;
    return best;
  }
  /** The replicas of a group, one per node that has one (SIM_GROUP: the members). */
  replicasOf(group: number): SimNode[] {
    if (group === 1) return this.members;
    const out: SimNode[] = [];
    for (const p of this.members) {
      const r = p.replicas.get(group);
      if (r) out.push(r);
    }
    return out;
  }
  replicaAt(nodeId: number, group: number): SimNode | undefined {
    return replicaOn(this.members[nodeId - 1], group);
  }
  routes(): Route[] {
    return this.suites.routes();
  }
  nextGroupId(): number {
    return this.groupSeq++;
  }
  trace(text: string): void {
    this.traceLog.add(this.tickNow, text);
  }

  /** Advances virtual time by one tick. */
  runTick(faultsOn: boolean): void {
    this.tickNow++;
    if (faultsOn) this.faults.onTick();
    this.workload.onTick();
    const due = this.network.takeDue(this.tickNow, (m) => this.onUndeliverable(m));
    for (const m of due) {
      const to = this.recipient(m);
      if (!to || !to.alive) {
        this.onUndeliverable(m);
        continue;
      }
      if (m.type === 'snapshot') {
        // A snapshot stream (NodeHost.onSnapshot): refused, cut or stepped; the sender hears how it ended.
        const g = m.group ?? 1;
        to.receiveSnapshot(m, (ok) =>
          this.deferReport(m.from, () => this.replicaAt(m.from, g)?.snapshotSettled(m.to, ok)),
        );
        continue;
      }
      to.step(m);
    }
    // The placement driver's collection of stale replicas runs in both phases (it is not a fault).
    if (this.mix.moves === true && this.tickNow % COLLECT_EVERY_TICKS === 0) collectStaleReplicas(this);
    const order = this.tickRandom.shuffle([...this.members]);
    for (const n of order) n.tick();
    while (this.deferred.length > 0) this.deferred.shift()!();
  }

  heal(): void {
    this.network.healAll();
    this.network.params = { dropRate: 0, dupRate: 0, delayMinTicks: 1, delayMaxTicks: 2 };
    this.faults.heal();
  }

  private deferReport(_from: number, fn: () => void): void {
    this.deferred.push(fn);
  }

  /**
   * The replica a message goes to; a leader's message or a candidate's (pre)vote request for a group the
   * live node lacks opens one (uninitialized), as NodeHost.maybeOpenUninitialized does.
   */
  private recipient(m: GroupMessage): SimNode | undefined {
    const g = m.group ?? 1;
    const p = this.members[m.to - 1];
    const hosted = g === 1 || !p ? p : p.replicas.get(g);
    if (hosted?.tombstone) return this.reopens(hosted, m) ? hosted : undefined;
    if (g === 1 || !p) return p;
    const r = hosted;
    const opens = m.type === 'append' || m.type === 'heartbeat' || m.type === 'preVote' || m.type === 'vote';
    if (r || !p.alive || !opens) return r;
    return openUninitialized(p, g);
  }

  /** NodeHost.maybeOpenUninitialized with a tombstone (tombstones.ts reopenAllowed): may `m` reopen `r`? */
  private reopens(r: SimNode, m: GroupMessage): boolean {
    const t = r.tombstone!;
    if (m.type !== 'append' && m.type !== 'heartbeat') return false;
    if (t.firstHeard === null) t.firstHeard = this.tickNow;
    if (this.tickNow - t.firstHeard < 2 * r.raftConfig.electionTicks) return false;
    r.tombstone = null;
    r.fence = t.index;
    this.trace(
      `n${r.id}${r.group === 1 ? '' : ` g${r.group}`} reopened by n${m.from} (term ${m.term}), fence ${t.index}`,
    );
    return true;
  }

  private onUndeliverable(m: GroupMessage): void {
    const from = this.replicaAt(m.from, m.group ?? 1);
    if (!from) return;
    if (m.type === 'snapshot') this.deferReport(m.from, () => from.snapshotSettled(m.to, false));
    else if (this.tickRandom.chance(0.2)) this.deferReport(m.from, () => from.reportUnreachable(m.to));
  }

  /** A write is checked in the group it took effect in (perhaps the parent of the group that answered). */
  private onWriteAck(op: ClientOp, result: SimResult): void {
    if (op.kind === 'read') return;
    const g = this.suites.registry.get(op.id)?.group ?? 1;
    const suite = this.suites.get(g);
    suite.onWriteAck(op.id, op.kind, op.key, op.expected, result, this.c0(op, g));
  }

  private onReadAck(op: ClientOp, value: string | null, node: SimNode): void {
    this.suites.get(node.group).onReadAck(op.id, op.key, value, this.c0(op, node.group));
  }

  /** The group's commit when the operation was invoked (a group unknown then: its start). */
  private c0(op: ClientOp, group: number): number {
    if (group === 1) return op.c0;
    return op.c0s?.get(group) ?? this.suites.get(group).model.startIndex;
  }

  // --- NodeEnv ---
  send(from: SimNode, message: Message): void {
    this.suites.get(from.group).onSend(message, from.disk);
    const verdict = this.network.send(message, this.tickNow, from.group);
    if (verdict !== 'queued') this.onUndeliverable(from.group === 1 ? message : { ...message, group: from.group });
  }
  onReadyTaken(node: SimNode, ready: Ready): void {
    if (ready.hardState) this.suites.get(node.group).onCommitSeen(ready.hardState.commit);
  }
  onLeader(node: SimNode, term: number): void {
    this.suites.get(node.group).onLeader(node.id, term);
  }
  onSynced(node: SimNode, batches: WriteBatch[]): void {
    this.suites.get(node.group).onSynced(node.id, node.disk, batches);
  }
  onApply(node: SimNode, entry: Entry, command: SimCommand | null, result: SimResult | null, fresh: boolean): void {
    const suite = this.suites.get(node.group);
    suite.onApply(node.id, entry, command, node.commit);
    if (command && command.t !== 'split') suite.onNodeEffect(node.id, command.op, entry.index, fresh);
    if (command && result) this.workload.onWriteApplied(node, command.op, result);
  }
  onSnapshotInstalled(node: SimNode, index: number, state: KvState): void {
    this.suites.get(node.group).onSnapshotInstalled(node.id, index, state);
  }
  onReadDone(node: SimNode, context: number, value: string | null): void {
    this.workload.onReadDone(node, context, value);
  }
  onReadFailed(node: SimNode, context: number): void {
    this.workload.onReadFailed(node, context);
  }
  onCrash(_node: SimNode, _lost: number): void {
    // The workload notices dead attempts on its next tick (incarnation check).
  }
  onDestroyed(node: SimNode): void {
    this.suites.get(node.group).onDestroyed(node.id, node.disk);
  }

  onRestart(node: SimNode): void {
    this.suites.get(node.group).onRestart(node.id, node.disk);
  }
}
