/**
 * One simulated server: a durable SimDisk that survives crashes, plus a volatile incarnation (the Raft
 * core, the KV state machine, pending reads) rebuilt from the disk on restart. processReady() is the
 * host loop of types.ts, step by step, with an optional crash injected between any two effects:
 *   [send messagesNow early] -> write -> [hold] -> fsync -> send -> install snapshot -> apply -> serve reads -> advance
 * A crash loses the unsynced writes and the whole incarnation. With mix.holdReadyRate a Ready is held after
 * its write until the node's next tick, as a real host's group commit holds it while the write is in flight:
 * messages (snapshots included), proposals and reports reach the core between ready() and advance(), and
 * the messages that never wait for persistence go out meanwhile (takeMessagesNow, like NodeHost).
 */
import type { Random } from '../../src/base';
import type { ConfigState, Entry, MembershipChange, Message, RaftConfig, RawNode, Ready, Role } from '../../src/raft';
import type { ProposeOutcome, ReadIndexOutcome, TransferOutcome } from '../../src/raft';
import type { SimCommand, SimResult } from './command-codec';
import { decodeCommand, encodeCommand } from './command-codec';
import type { CoreFactory } from './core-factory';
import { SimDisk } from './disk';
import type { CrashPoint, FaultMix } from './fault-mix';
import { KvState } from './kv-model';
import { SimFailure } from './sim-failure';

/** What a node reports to the cluster (which fans out to checkers, workload and network). */
export interface NodeEnv {
  readonly mix: FaultMix;
  now(): number;
  trace(text: string): void;
  send(from: SimNode, message: Message): void;
  onReadyTaken(node: SimNode, ready: Ready): void;
  onLeader(node: SimNode, term: number): void;
  onSynced(node: SimNode, batches: ReturnType<SimDisk['sync']>): void;
  onApply(node: SimNode, entry: Entry, command: SimCommand | null, result: SimResult | null): void;
  onSnapshotInstalled(node: SimNode, index: number, state: KvState): void;
  onReadDone(node: SimNode, context: number, value: string | null): void;
  onReadFailed(node: SimNode, context: number): void;
  onCrash(node: SimNode, lostBatches: number): void;
  onRestart(node: SimNode): void;
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
  incarnation = 0;
  role: Role = 'follower';
  term = 0;
  leader = 0;
  commit = 0;
  /** Membership as of the applied index (host-tracked, for snapshot metadata). */
  config: ConfigState;
  private crashAt: CrashPoint | null = null;
  /** A Ready taken and written but not yet synced, applied and advanced (finished at the next tick). */
  private held: (() => void) | null = null;
  private crashPatience = 0;
  private readonly reads = new Map<number, PendingRead>();
  crashes = 0;

  constructor(
    readonly id: number,
    private readonly initialConfig: ConfigState,
    private readonly raftConfig: RaftConfig,
    private readonly random: Random,
    private readonly factory: CoreFactory,
    private readonly env: NodeEnv,
  ) {
    this.disk = new SimDisk(id);
    this.config = cloneConfig(initialConfig);
  }

  get alive(): boolean {
    return this.core !== null;
  }

  /** Starts (or restarts) an incarnation from what the disk kept. */
  start(): void {
    if (this.core) throw new SimFailure('host', `node ${this.id} started twice`);
    this.incarnation++;
    const restore = this.disk.restoreState(cloneConfig(this.initialConfig));
    const snap = this.disk.snapshot();
    this.sm = snap ? KvState.deserialize(snap.data) : new KvState();
    if (this.sm.applied !== restore.applied) {
      throw new SimFailure('host', `node ${this.id}: snapshot data at ${this.sm.applied}, meta at ${restore.applied}`);
    }
    this.config = cloneConfig(snap ? snap.meta.config : this.initialConfig);
    this.role = 'follower';
    this.leader = 0;
    this.term = restore.hardState.term;
    this.commit = restore.hardState.commit;
    this.core = this.factory(this.raftConfig, restore, this.random.fork());
    this.env.trace(
      `n${this.id} start #${this.incarnation} hs=${JSON.stringify(restore.hardState)} snap=${restore.applied} last=${this.disk.lastIndex()}`,
    );
    this.env.onRestart(this);
    this.drain();
  }

  /** Power loss now (between effects). */
  crash(): void {
    if (!this.core) return;
    const { lost, kept } = this.disk.crash(this.random, this.env.mix.crashLossMode);
    // Batches the crash kept are durable: the checkers see them like a sync.
    if (kept.length > 0) this.env.onSynced(this, kept);
    this.core = null;
    this.held = null;
    this.sm = null;
    this.reads.clear();
    this.crashAt = null;
    this.role = 'follower';
    this.leader = 0;
    this.crashes++;
    this.env.trace(
      `n${this.id} CRASH lost ${lost} unsynced batch(es), kept ${kept.length}; durable hs=${JSON.stringify(this.disk.hardState())} last=${this.disk.lastIndex()}`,
    );
    this.env.onCrash(this, lost);
  }

  /** Crash at a given point of a later Ready (or now, for 'idle'). */
  scheduleCrash(point: CrashPoint): void {
    if (!this.core) return;
    if (point === 'idle') {
      this.crash();
      return;
    }
    this.crashAt = point;
    this.crashPatience = crashPatienceReadys;
  }

  cancelScheduledCrash(): void {
    this.crashAt = null;
  }

  tick(): void {
    this.finishHeldReady();
    if (!this.core) return;
    this.core.tick();
    this.drain();
  }

  /**
   * Finishes a held Ready (sync, send, apply, advance), then takes the Readys that piled up meanwhile. A slow
   * disk: with probability holdReadyRate the write stays in flight one more tick.
   */
  private finishHeldReady(): void {
    const held = this.held;
    if (!held || this.random.chance(this.env.mix.holdReadyRate)) return;
    this.held = null;
    held();
    this.drain();
  }

  step(message: Message): void {
    if (!this.core) return;
    this.core.step(message);
    this.drain();
  }

  propose(command: SimCommand): ProposeOutcome {
    const out = this.requireCore().propose(encodeCommand(command));
    this.drain();
    return out;
  }

  readIndex(context: number, key: string): ReadIndexOutcome {
    const core = this.requireCore();
    this.reads.set(context, { key, index: null });
    const out = core.readIndex(context);
    if (!out.ok) this.reads.delete(context);
    this.drain();
    return out;
  }

  transferLeader(to: number): TransferOutcome {
    const out = this.requireCore().transferLeader(to);
    this.drain();
    return out;
  }

  proposeMembership(change: MembershipChange): ProposeOutcome {
    const out = this.requireCore().proposeMembership(change);
    this.drain();
    return out;
  }

  reportUnreachable(peer: number): void {
    if (!this.core) return;
    this.core.reportUnreachable(peer);
    this.drain();
  }

  reportSnapshot(peer: number, ok: boolean): void {
    if (!this.core) return;
    this.core.reportSnapshot(peer, ok);
    this.drain();
  }

  /** Host-side compaction: checkpoint the state machine at applied and let the core drop its log. */
  compactIfDue(): void {
    const core = this.core;
    const sm = this.sm;
    if (!core || !sm || this.held) return;
    const index = sm.applied;
    if (index - this.disk.snapshotIndex() < this.env.mix.compactEveryEntries) return;
    const term = this.disk.termAt(index);
    if (term === undefined)
      throw new SimFailure('host', `node ${this.id}: applied index ${index} not in its durable log`);
    this.disk.saveSnapshot({ meta: { index, term, config: cloneConfig(this.config) }, data: sm.serialize() });
    core.compact(index);
    this.env.trace(`n${this.id} compact to ${index}`);
    this.drain();
  }

  /**
   * Processes Readys until the core has none (bounded). While a Ready is held, sends at once what never
   * waits for persistence (core.takeMessagesNow: appends, heartbeats, heartbeat responses), as NodeHost does.
   */
  private drain(): void {
    if (this.held && this.core) for (const m of this.core.takeMessagesNow()) this.env.send(this, m);
    for (let i = 0; i < 50 && this.core && !this.held && this.core.hasReady(); i++) this.processReady(this.core);
  }

  private crashHere(point: CrashPoint, meaningful: boolean): boolean {
    if (this.crashAt !== point) return false;
    if (!meaningful && --this.crashPatience > 0) return false;
    this.env.trace(`n${this.id} crash point ${point}`);
    this.crash();
    return true;
  }

  private processReady(core: RawNode): void {
    const env = this.env;
    const rd = core.ready();
    env.onReadyTaken(this, rd);
    if (rd.hardState) {
      this.term = rd.hardState.term;
      this.commit = rd.hardState.commit;
    }
    if (rd.softState) {
      const wasRole = this.role;
      this.role = rd.softState.role;
      this.leader = rd.softState.leader;
      if (this.role === 'leader') {
        const term = core.status().term;
        this.term = term;
        env.onLeader(this, term);
      }
      if (wasRole !== this.role)
        env.trace(`n${this.id} ${wasRole} -> ${this.role} term ${this.term} leader ${this.leader}`);
    }
    const now = rd.messagesNow.map((m) => this.withSnapshotData(m));
    const hasWrites = rd.hardState !== null || rd.entries.length > 0 || rd.snapshot !== null;
    const sendEarly = this.random.chance(env.mix.sendNowFirstRate);
    if (sendEarly) for (const m of now) env.send(this, m);
    if (this.crashHere('beforeWrite', sendEarly && now.length > 0 && hasWrites)) return;

    // 1. persist
    if (hasWrites) this.disk.write({ hardState: rd.hardState, entries: rd.entries, snapshot: rd.snapshot });
    if (this.crashHere('afterWrite', hasWrites)) return;
    const rate = env.mix.holdReadyRate;
    if (rate > 0 && this.random.chance(rate)) {
      this.held = () => this.finishReady(core, rd, now, sendEarly, hasWrites);
      return;
    }
    this.finishReady(core, rd, now, sendEarly, hasWrites);
  }

  /** The rest of the host loop for a written Ready: fsync, send, install, apply, serve reads, advance. */
  private finishReady(core: RawNode, rd: Ready, now: Message[], sendEarly: boolean, hasWrites: boolean): void {
    const env = this.env;
    const synced = this.disk.sync();
    if (synced.length > 0) env.onSynced(this, synced);
    if (this.crashHere('afterSync', hasWrites)) return;

    // 2. send
    if (!sendEarly) for (const m of now) env.send(this, m);
    for (const m of rd.messagesAfterPersist) env.send(this, m);
    if (this.crashHere('afterSend', rd.messagesAfterPersist.length + now.length > 0)) return;

    // 3. install snapshot
    if (rd.snapshot) {
      const state = KvState.deserialize(rd.snapshot.data);
      this.sm = state;
      this.config = cloneConfig(rd.snapshot.meta.config);
      env.trace(`n${this.id} installed snapshot ${rd.snapshot.meta.index}/${rd.snapshot.meta.term}`);
      env.onSnapshotInstalled(this, rd.snapshot.meta.index, state);
    }

    // 4. apply, serve reads
    const half = rd.committedEntries.length >> 1;
    for (let i = 0; i < rd.committedEntries.length; i++) {
      if (i === half && this.crashHere('midApply', rd.committedEntries.length > 1)) return;
      this.apply(rd.committedEntries[i]!);
    }
    for (const rs of rd.readStates) {
      const r = this.reads.get(rs.context);
      if (r) r.index = rs.index;
    }
    for (const f of rd.readsFailed) {
      if (this.reads.delete(f.context)) env.onReadFailed(this, f.context);
    }
    this.serveReads();
    if (this.crashHere('beforeAdvance', rd.committedEntries.length > 0)) return;

    // 5. advance
    core.advance(rd);
    this.checkConfig(core);
  }

  /**
   * Config agreement (a safety check): once advanced, the core acts on the membership its applied log
   * defines, which the host tracks from the config entries it applied and the snapshots it installed.
   * Skipped while the core holds a snapshot the host has not installed yet (its config is already the
   * snapshot's). A core that re-applied an older config over a newer snapshot's fails here.
   */
  private checkConfig(core: RawNode): void {
    const st = core.status();
    if (st.firstIndex - 1 > this.sm!.applied || sameConfig(st.config, this.config)) return;
    throw new SimFailure(
      'config-agreement',
      `node ${this.id} at applied ${this.sm!.applied} acts on config ${JSON.stringify(st.config)}, its applied log defines ${JSON.stringify(this.config)}`,
    );
  }

  private apply(entry: Entry): void {
    const sm = this.sm!;
    if (entry.index !== sm.applied + 1) {
      throw new SimFailure(
        'apply-agreement',
        `node ${this.id} asked to apply index ${entry.index} after ${sm.applied}`,
      );
    }
    let command: SimCommand | null = null;
    let result: SimResult | null = null;
    if (entry.kind === 'normal') {
      command = decodeCommand(entry.data);
      result = sm.apply(entry.index, command);
    } else {
      sm.apply(entry.index, null);
      if (entry.kind === 'config') {
        applyChange(this.config, entry.change);
        this.env.trace(`n${this.id} applied config ${entry.change.type} ${entry.change.node} @${entry.index}`);
      }
    }
    this.env.onApply(this, entry, command, result);
  }

  private serveReads(): void {
    const applied = this.sm!.applied;
    for (const [ctx, r] of this.reads) {
      if (r.index !== null && applied >= r.index) {
        this.reads.delete(ctx);
        this.env.onReadDone(this, ctx, this.sm!.get(r.key));
      }
    }
  }

  /** Fills a leader's snapshot message with the state machine as of meta.index (contract in types.ts). */
  private withSnapshotData(m: Message): Message {
    if (m.type !== 'snapshot') return m;
    const idx = m.snapshot.meta.index;
    let data: Uint8Array;
    if (this.sm && this.sm.applied === idx) data = this.sm.serialize();
    else if (this.disk.snapshotIndex() === idx) data = this.disk.snapshot()!.data;
    else {
      throw new SimFailure(
        'host',
        `node ${this.id}: snapshot message at ${idx} but applied is ${this.sm?.applied} and the stored snapshot is at ${this.disk.snapshotIndex()}`,
      );
    }
    return { ...m, snapshot: { meta: m.snapshot.meta, data } };
  }

  private requireCore(): RawNode {
    if (!this.core) throw new SimFailure('host', `node ${this.id} is down`);
    return this.core;
  }
}

function sameConfig(a: ConfigState, b: ConfigState): boolean {
  const same = (x: number[], y: number[]): boolean => x.length === y.length && x.every((v) => y.includes(v));
  return same(a.voters, b.voters) && same(a.learners, b.learners) && same(a.votersOutgoing, b.votersOutgoing);
}

export function cloneConfig(c: ConfigState): ConfigState {
  return { voters: [...c.voters], learners: [...c.learners], votersOutgoing: [...c.votersOutgoing] };
}

function applyChange(c: ConfigState, change: MembershipChange): void {
  const without = (xs: number[]): number[] => xs.filter((x) => x !== change.node);
  c.voters = without(c.voters);
  c.learners = without(c.learners);
  if (change.type === 'addVoter') c.voters.push(change.node);
  else if (change.type === 'addLearner') c.learners.push(change.node);
  c.voters.sort((a, b) => a - b);
  c.learners.sort((a, b) => a - b);
}
