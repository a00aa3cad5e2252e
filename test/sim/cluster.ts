/**
 * A simulated cluster: N SimNodes on a SimNetwork in virtual time, with the nemesis, the client
 * workload and the checker suite wired to every event. One tick = nemesis actions, client actions,
 * delivery of due messages (each step followed by the recipient's Readys), one tick() per live core,
 * deferred unreachable/snapshot reports. Each node runs the real ready loop (sim-host.ts), which compacts.
 * Invariant: all randomness comes from sub-generators forked from the seed's Random in a fixed order.
 */
import { Random } from '../../src/base';
import type { ConfigState, Entry, Message, RaftConfig, Ready } from '../../src/raft';
import type { SimCommand, SimResult } from './command-codec';
import type { CoreFactory } from './core-factory';
import { CheckerSuite } from './checkers';
import type { WriteBatch } from './disk';
import type { FaultMix } from './fault-mix';
import { FaultScheduler } from './faults';
import type { KvState } from './kv-model';
import { SimNetwork } from './network';
import type { NodeEnv } from './sim-node';
import { SimNode } from './sim-node';
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
}

export class Cluster implements NodeEnv {
  readonly mix: FaultMix;
  readonly network: SimNetwork;
  readonly checkers: CheckerSuite;
  readonly workload: Workload;
  readonly faults: FaultScheduler;
  readonly members: SimNode[] = [];
  private tickNow = 0;
  private readonly tickRandom: Random;
  private readonly deferred: (() => void)[] = [];
  private readonly traceLog: Trace;

  constructor(opts: ClusterOptions) {
    const root = new Random(opts.seed);
    root.fork(); // reserved: the fault mix is drawn from the first fork by run-seed
    const netRandom = root.fork();
    const nodeRandom = root.fork();
    const workloadRandom = root.fork();
    const faultRandom = root.fork();
    this.tickRandom = root.fork();
    this.mix = opts.mix;
    this.checkers = new CheckerSuite(opts.checkAckOrder);
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
        nodes: () => this.members,
        globalCommit: () => this.checkers.globalCommit,
        trace: (t) => this.trace(t),
        onWriteAck: (op, result) => this.onWriteAck(op, result),
        onReadAck: (op, value) => this.checkers.onReadAck(op.id, op.key, value, op.c0),
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
  /** The live leader with the highest term, if any. */
  leader(): SimNode | null {
    let best: SimNode | null = null;
    for (const n of this.members) if (n.alive && n.role === 'leader' && (!best || n.term > best.term)) best = n;
    return best;
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
      const to = this.members[m.to - 1];
      if (!to || !to.alive) {
        this.onUndeliverable(m);
        continue;
      }
      if (m.type === 'snapshot') {
        // A snapshot stream (NodeHost.onSnapshot): refused, cut or stepped; the sender hears how it ended.
        to.receiveSnapshot(m, (ok) =>
          this.deferReport(m.from, () => this.members[m.from - 1]?.snapshotSettled(m.to, ok)),
        );
        continue;
      }
      to.step(m);
    }
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

  private onUndeliverable(m: Message): void {
    const from = this.members[m.from - 1];
    if (!from) return;
    if (m.type === 'snapshot') this.deferReport(m.from, () => from.snapshotSettled(m.to, false));
    else if (this.tickRandom.chance(0.2)) this.deferReport(m.from, () => from.reportUnreachable(m.to));
  }

  private onWriteAck(op: ClientOp, result: SimResult): void {
    if (op.kind === 'read') return;
    this.checkers.onWriteAck(op.id, op.kind, op.key, op.expected, result, op.c0);
  }

  // --- NodeEnv ---
  send(from: SimNode, message: Message): void {
    this.checkers.onSend(message, from.disk);
    const verdict = this.network.send(message, this.tickNow);
    if (verdict !== 'queued') this.onUndeliverable(message);
  }
  onReadyTaken(_node: SimNode, ready: Ready): void {
    if (ready.hardState) this.checkers.onCommitSeen(ready.hardState.commit);
  }
  onLeader(node: SimNode, term: number): void {
    this.checkers.onLeader(node.id, term);
  }
  onSynced(node: SimNode, batches: WriteBatch[]): void {
    this.checkers.onSynced(node.id, node.disk, batches);
  }
  onApply(node: SimNode, entry: Entry, command: SimCommand | null, result: SimResult | null): void {
    this.checkers.onApply(node.id, entry, command, node.commit);
    if (command && result) this.workload.onWriteApplied(node, command.op, result);
  }
  onSnapshotInstalled(node: SimNode, index: number, state: KvState): void {
    this.checkers.onSnapshotInstalled(node.id, index, state);
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
  onRestart(node: SimNode): void {
    this.checkers.onRestart(node.id, node.disk);
  }
}
