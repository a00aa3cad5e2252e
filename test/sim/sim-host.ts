/**
 * One incarnation of a simulated process, as the ready loop (src/node/ready-loop.ts) sees it: the group it
 * runs (core, staging, deferred hard state, compaction points) and the I/O it runs over (ReadyLoopIo):
 * the simulated disk, the simulated network, the KV state machine, virtual time. The loop itself is the
 * real one, driven synchronously (driveNow). What the real host does, this does with the same shared code:
 * group commit and early sends (ready-loop.ts), snapshot staging (snapshot-staging.ts), compaction points
 * (compaction.ts). What is simulated here: the disk (held writes, crash points), the apply (held), the
 * snapshot stream (sender side in-flight set and outcome report, receiver side staging over ticks).
 * One SimHost per group replica (splits: split-replicas.ts); a split applied here creates the right-hand
 * group's replica, a snapshot overlapping another initialized replica of the node is refused (rule 2).
 * Invariant: a crashed incarnation does nothing more: every wait it returns after the crash is NEVER.
 */
import type { GroupId, NodeId } from '../../src/base';
import type {
  ConfigState,
  Entry,
  HardState,
  MembershipChange,
  Message,
  RawNode,
  Ready,
  SnapshotMeta,
} from '../../src/raft';
import { compactAt, noteApplied, resetCompaction, takeCompactionPoint } from '../../src/node/compaction';
import type { CompactionGroup, CompactionLimits, CompactionPoint } from '../../src/node/compaction';
import { LoopJoin, driveNow, type LoopWait } from '../../src/node/loop-driver';
import { ReadyLoop, type PersistWrite, type ReadyLoopIo, type SnapshotStaging } from '../../src/node/ready-loop';
import { abandonStaging, beginStaging, stepStaged } from '../../src/node/snapshot-staging';
import { configAtSplit } from '../../src/node/split-groups';
import { decodeCommand } from './command-codec';
import type { SimCommand, SimResult } from './command-codec';
import { KvState } from './kv-model';
import { NEVER, SimFuture, SimScheduler } from './sim-future';
import { SimFailure } from './sim-failure';
import type { SimNode } from './sim-node';
import type { SimRange } from './split-state';
import { checkOwnership, createSplitReplica, overlappingGroup, overlappingStaged } from './split-replicas';

export const SIM_GROUP: GroupId = 1;

interface IncomingSnapshot {
  message: Message & { type: 'snapshot' };
  stagingId: string;
  ticksLeft: number;
  settle: (ok: boolean) => void;
}

export class SimHost implements CompactionGroup, ReadyLoopIo<SimHost> {
  readonly id: GroupId;
  syncedHardState: HardState;
  deferredHardState: HardState | null = null;
  staging: SnapshotStaging | null = null;
  compactionPoints: CompactionPoint[] = [];
  firstIndex: number;
  bytesApplied = 0;
  bytesCompacted = 0;
  readonly scheduler = new SimScheduler();
  readonly loop: ReadyLoop<SimHost>;
  dead = false;
  /** Serialized state machine at each compaction point (the simulated state machine keeps one state). */
  private readonly stateAt = new Map<number, Uint8Array>();
  /** Staged snapshot data by staging id. */
  private readonly staged = new Map<string, Uint8Array>();
  private readonly incoming: IncomingSnapshot[] = [];
  /** Peers a snapshot is being streamed to (the real host's snapshotSends). */
  readonly snapshotSends = new Set<NodeId>();
  /** Waits (persist, apply) held until a later tick, settled in order. */
  private readonly held: SimFuture[] = [];
  private stagingSeq = 0;
  private readonly groupList: SimHost[];

  constructor(
    readonly node: SimNode,
    readonly core: RawNode,
    public sm: KvState,
    hardState: HardState,
  ) {
    this.id = node.group as GroupId;
    this.syncedHardState = hardState;
    this.firstIndex = core.status().firstIndex;
    this.groupList = [this];
    this.loop = new ReadyLoop<SimHost>(this, this.scheduler, driveNow);
  }

  /** Ends the event on this process: runs what was scheduled (the loop run, or its feeding). */
  turn(): void {
    if (this.dead) return;
    this.loop.schedule();
    this.scheduler.runSoon();
  }

  /** A tick: held waits may finish (the disk's write in flight ends), received snapshot streams progress. */
  tick(): void {
    const n = this.node;
    // Either order: a stream may end (and its snapshot be stepped) before or after a held write finishes.
    const streamsFirst = this.incoming.length > 0 && n.random.chance(0.5);
    if (streamsFirst) for (const s of [...this.incoming]) if (!this.dead) this.progressIncoming(s);
    while (this.held.length > 0 && !this.dead && !n.random.chance(n.env.mix.holdReadyRate)) this.held.shift()!.settle();
    if (!streamsFirst) for (const s of [...this.incoming]) if (!this.dead) this.progressIncoming(s);
  }

  crash(): void {
    this.dead = true;
    this.loop.halt();
    this.held.length = 0;
    for (const s of this.incoming.splice(0)) s.settle(false); // the sender's stream breaks
  }

  // --- ReadyLoopIo ---
  groups(): Iterable<SimHost> {
    return this.groupList;
  }
  feed(): void {
    // The simulator's clients propose and read on the core directly (SimNode.propose/readIndex).
  }
  send(_g: SimHost, messages: Message[]): void {
    for (const m of messages) {
      if (this.dead) return;
      if (m.type === 'snapshot') this.sendSnapshot(m);
      else this.node.env.send(this.node, m);
    }
  }
  flush(): void {}
  yieldToIo(phase: 'now' | 'afterPersist', count: number): LoopWait {
    if (phase === 'afterPersist' && this.node.crashHere('afterSend', count > 0)) return NEVER;
    return undefined;
  }
  persist(writes: PersistWrite[]): LoopWait {
    const n = this.node;
    if (this.dead || n.crashHere('beforeWrite', true)) return NEVER;
    for (const w of writes) {
      const snapshot = w.snapshot === null ? null : { meta: w.snapshot, data: this.snapshotData(w) };
      n.disk.write({ hardState: w.hardState, entries: w.entries, snapshot });
    }
    if (n.crashHere('afterWrite', true)) return NEVER;
    return this.maybeHold(() => {
      const synced = n.disk.sync();
      if (synced.length > 0) n.env.onSynced(n, synced);
      if (n.crashHere('afterSync', true)) return NEVER;
      return undefined;
    });
  }
  installSnapshot(_g: SimHost, stagingId: string, meta: SnapshotMeta): LoopWait {
    const data = this.staged.get(stagingId);
    if (data === undefined) throw new SimFailure('host', `node ${this.node.id}: no staged data for ${stagingId}`);
    this.staged.delete(stagingId);
    const state = KvState.deserialize(data);
    state.unsafe = this.node.env.kvUnsafe;
    this.sm = state;
    this.node.sm = state;
    if (this.node.primary.replicas.size > 0) checkOwnership(this.node);
    this.node.config = cloneConfig(meta.config);
    resetCompaction(this, meta.index);
    this.stateAt.clear();
    this.node.env.trace(`n${this.node.id} installed snapshot ${meta.index}/${meta.term}`);
    this.node.env.onSnapshotInstalled(this.node, meta.index, state);
    return undefined;
  }
  discardStaged(_g: SimHost, stagingId: string): void {
    this.staged.delete(stagingId);
  }
  observe(_g: SimHost, rd: Ready): void {
    this.node.observe(rd);
  }
  apply(_g: SimHost, entries: Entry[]): LoopWait {
    const n = this.node;
    if (this.dead) return NEVER;
    const half = entries.length >> 1;
    const config = cloneConfig(n.config); // the configuration the core took before this batch
    for (let i = 0; i < entries.length; i++) {
      if (i === half && n.crashHere('midApply', entries.length > 1)) return NEVER;
      if (!this.applyOne(entries[i]!, entries, config) || this.dead) return NEVER;
    }
    if (n.crashHere('beforeAdvance', true)) return NEVER;
    return this.maybeHold(() => undefined);
  }
  advanced(_g: SimHost, rd: Ready): void {
    this.node.serveReads();
    this.node.checkConfig(this.core);
    const entries = rd.committedEntries;
    if (entries.length === 0) return;
    const limits = this.limits();
    // With logRetainEntries 0 the point compacted at is the applied index (serialized then, see snapshotData).
    if (noteApplied(this, entries, limits) && limits.logRetainEntries > 0) {
      this.stateAt.set(entries[entries.length - 1]!.index, this.sm.serialize());
      for (const k of this.stateAt.keys()) if (k < (this.compactionPoints[0]?.index ?? 0)) this.stateAt.delete(k);
    }
  }
  compact(): LoopWait {
    const point = takeCompactionPoint(this, this.limits());
    if (point === null) return undefined;
    const store = { persist: (w: PersistWrite[]) => this.persist(w), compactLog: () => undefined };
    const logger = { info: () => this.node.env.trace(`n${this.node.id} compact to ${point.index}`) };
    return new LoopJoin([compactAt(this, point, store, logger)]);
  }
  fail(error: unknown): void {
    throw error;
  }

  // --- snapshots ---
  /** Leader side, as snapshot-transfer.ts: one stream per peer, meta at the applied index, outcome reported. */
  private sendSnapshot(m: Message & { type: 'snapshot' }): void {
    if (this.sm.applied !== m.snapshot.meta.index || this.snapshotSends.has(m.to)) {
      this.core.reportSnapshot(m.to, false);
      return;
    }
    this.snapshotSends.add(m.to);
    this.node.env.send(this.node, { ...m, snapshot: { meta: m.snapshot.meta, data: this.sm.serialize() } });
  }

  /** The stream to `peer` ended (delivered and stepped, refused, cut, or lost). */
  snapshotSettled(peer: NodeId, ok: boolean): void {
    if (this.dead || !this.snapshotSends.delete(peer)) return;
    this.core.reportSnapshot(peer, ok);
  }

  /** Receiver side, as NodeHost.onSnapshot: refuse non-members and a second stream, stage over ticks, step. */
  receiveSnapshot(m: Message & { type: 'snapshot' }, settle: (ok: boolean) => void): void {
    const n = this.node;
    if (!this.core.acceptsPeer(m)) {
      settle(false);
      return;
    }
    if (n.primary.replicas.size > 0) {
      const other = overlappingGroup(n, KvState.deserialize(m.snapshot.data).range);
      if (other !== null) {
        n.env.trace(`n${n.id} g${n.group} refuses snapshot ${m.snapshot.meta.index}: overlaps g${other} (rule 2)`);
        settle(false);
        return;
      }
    }
    if (n.fence > 0 && m.snapshot.meta.index <= n.fence) {
      // NodeHost.onSnapshot: a fenced replica takes no snapshot at or below its removal; one past it lifts the fence.
      n.env.trace(`n${n.id} g${n.group} refuses snapshot ${m.snapshot.meta.index}: fenced at ${n.fence}`);
      settle(false);
      return;
    }
    const stagingId = `${n.id}-${n.incarnation}-${++this.stagingSeq}`;
    if (!beginStaging(this, stagingId, m.snapshot.meta)) {
      n.env.trace(`n${n.id} refuses snapshot ${m.snapshot.meta.index} from n${m.from}: already receiving one`);
      settle(false);
      return;
    }
    n.fence = 0; // past the removal: the fence goes before the replica can act on the snapshot
    this.staged.set(stagingId, m.snapshot.data);
    const [lo, hi] = n.env.mix.snapshotStreamTicks;
    const s: IncomingSnapshot = { message: m, stagingId, ticksLeft: n.random.int(lo, hi), settle };
    this.incoming.push(s);
    this.progressIncoming(s);
  }

  private progressIncoming(s: IncomingSnapshot): void {
    const n = this.node;
    if (s.ticksLeft > 0 && n.random.chance(n.env.mix.snapshotCutRate)) {
      this.endIncoming(s);
      n.env.trace(`n${n.id} snapshot stream ${s.stagingId} cut mid-stream`);
      if (abandonStaging(this, s.stagingId)) this.staged.delete(s.stagingId);
      s.settle(false);
      return;
    }
    if (s.ticksLeft-- > 0) return;
    this.endIncoming(s);
    // Staged completely: rule 2 again, now also against the other groups' staged snapshots, as NodeHost
    // checks once staged (refuseOverlappingSnapshot: overlappingShard, overlappingStagedShard).
    const range = KvState.deserialize(s.message.snapshot.data).range;
    const other = n.primary.replicas.size > 0 ? (overlappingGroup(n, range) ?? overlappingStaged(n, range)) : null;
    if (other !== null) {
      n.env.trace(`n${n.id} g${n.group} refuses staged snapshot ${s.message.snapshot.meta.index}: overlaps g${other}`);
      if (abandonStaging(this, s.stagingId)) this.staged.delete(s.stagingId);
      s.settle(false);
      return;
    }
    const outcome = stepStaged(this, s.message, s.stagingId);
    if (!outcome.ok) {
      if (this.staging?.id === s.stagingId) this.staging = null;
      this.staged.delete(s.stagingId);
    }
    n.env.trace(`n${n.id} snapshot ${s.message.snapshot.meta.index} from n${s.message.from} stepped: ${outcome.ok}`);
    s.settle(outcome.ok);
  }

  /** The range of this replica's completely staged snapshot (stepped or about to be), or null. */
  stagedRange(): SimRange | null {
    const st = this.staging;
    if (st === null || this.incoming.some((s) => s.stagingId === st.id)) return null;
    const data = this.staged.get(st.id);
    return data === undefined ? null : KvState.deserialize(data).range;
  }

  private endIncoming(s: IncomingSnapshot): void {
    const i = this.incoming.indexOf(s);
    if (i >= 0) this.incoming.splice(i, 1);
  }

  // --- helpers ---
  private limits(): CompactionLimits {
    const mix = this.node.env.mix;
    return {
      snapshotEntries: mix.compactEveryEntries,
      logRetainEntries: mix.logRetainEntries,
      snapshotBytes: mix.snapshotBytes ?? Infinity,
    };
  }

  /** Snapshot data for a persisted meta: the staged data of a received one, or the state at a compaction point. */
  private snapshotData(w: PersistWrite): Uint8Array {
    const index = w.snapshot!.index;
    const data =
      w.installStagingId !== null
        ? this.staged.get(w.installStagingId)
        : (this.stateAt.get(index) ?? (index === this.sm.applied ? this.sm.serialize() : undefined));
    if (data === undefined) throw new SimFailure('host', `node ${this.node.id}: no state for snapshot meta ${index}`);
    return data;
  }

  /** Finishes `rest` now, or (holdReadyRate) at a later tick: the write or apply is still in flight. */
  private maybeHold(rest: () => LoopWait): LoopWait {
    const n = this.node;
    if (!n.random.chance(n.env.mix.holdReadyRate)) return rest();
    const future = new SimFuture();
    const done = new SimFuture();
    this.held.push(future);
    future.whenSettled(() => {
      const w = rest();
      if (w === undefined) done.settle();
    });
    return done;
  }

  /** Applies one entry; false when the node crashed in it (a split's start window). */
  private applyOne(entry: Entry, batch: Entry[], batchConfig: ConfigState): boolean {
    const n = this.node;
    const sm = this.sm;
    if (entry.index !== sm.applied + 1) {
      throw new SimFailure('apply-agreement', `node ${n.id} asked to apply index ${entry.index} after ${sm.applied}`);
    }
    let command: SimCommand | null = null;
    let result: SimResult | null = null;
    if (entry.kind === 'normal') {
      command = decodeCommand(entry.data);
      result = sm.apply(entry.index, command);
    } else {
      sm.apply(entry.index, null);
      if (entry.kind === 'config') {
        // A config entry carries the whole configuration it makes (as the core reads it: configAfterEntry).
        if (entry.config) n.config = cloneConfig(entry.config);
        else applyChange(n.config, entry.change);
        n.env.trace(`n${n.id} applied config ${entry.change.type} ${entry.change.node} @${entry.index}`);
        // With moves, the node destroys a replica that applied its own removal (NodeHost.pendingDestroys).
        if (n.env.mix.moves === true && entry.change.type === 'removeNode' && entry.change.node === n.id)
          n.pendingDestroy = { kind: 'removed', index: entry.index, sinceTick: n.env.now() };
      }
    }
    n.env.onApply(n, entry, command, result, sm.lastFresh);
    const right = sm.splitRight;
    if (right === null) return true;
    sm.splitRight = null;
    right.unsafe = n.env.kvUnsafe;
    return createSplitReplica(n, right, configAtSplit(batchConfig, batch, entry.index));
  }
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
