/**
 * The host's ready loop (the core's host contract, raft/types.ts, with group commit), apart from any I/O:
 * NodeHost runs it over LevelDB, gRPC and Node timers; the simulator (test/sim) runs the same loop over
 * its simulated disk, network and virtual time. It depends only on ReadyLoopIo and a Scheduler.
 *
 *   one run at a time, re-run while any core has a Ready:
 *     1. feed every group what the host queued (proposals, ReadIndex rounds)
 *     2. take the Ready of every group that has one (a stepped snapshot the core did not take: discard)
 *     3. send messagesNow (leader appends go out before our own fsync; snapshots are streamed by the host,
 *        their meta is at the applied index before this Ready's entries)
 *     4. persist every group's hard state, entries and snapshot meta in ONE write (one fsync); a hard
 *        state whose only change is the commit index is not synced on its own: it rides along with the
 *        group's next synced write (commit is volatile in Raft; the core restores max(commit, applied))
 *     5. send messagesAfterPersist (votes, append acks)
 *     6. per group: install a received snapshot, observe hard/soft state and read states, apply committed
 *        entries, advance, then compact the log when due
 *   While a run waits (persist, apply, install, compaction), a schedule() feeds the cores at once and sends
 *   what never waits for persistence (core.takeMessagesNow), so followers persist the next batch while the
 *   leader fsyncs the previous one; peer messages and snapshots are stepped meanwhile (by the host).
 *
 * Invariants: only this loop calls ready/advance of a group's core, and runs never overlap; a staged
 * snapshot is installed only when the core hands out exactly that snapshot, else discarded; a failure of
 * any wait is fatal (io.fail), never skipped. The hot path allocates nothing per message.
 */
import { InvariantError, type GroupId, type Scheduler } from '../base';
import type { Entry, HardState, Message, RawNode, Ready, Snapshot, SnapshotMeta } from '../raft';
import { LoopJoin, type LoopDriver, type LoopTask, type LoopWait } from './loop-driver';

/** A snapshot received from the leader, staged by the host before (and while) the core decides on it. */
export interface SnapshotStaging {
  id: string;
  meta: SnapshotMeta;
  /** Set once the snapshot message was stepped into the core; the next Ready decides install or discard. */
  stepped: boolean;
}

/** What the loop keeps per group (NodeHost's Group and the simulator's node both carry it). */
export interface LoopGroup {
  readonly id: GroupId;
  readonly core: RawNode;
  /** The hard state last handed to persist (synced). */
  syncedHardState: HardState;
  /** A commit-only hard state not yet written; it goes down with the group's next synced write. */
  deferredHardState: HardState | null;
  staging: SnapshotStaging | null;
}

/** One group's share of a persist (the shape of storage's GroupWrite). */
export interface PersistWrite {
  groupId: GroupId;
  hardState: HardState | null;
  entries: Entry[];
  snapshot: SnapshotMeta | null;
  /** With `snapshot` of a received snapshot: its staging id (the install-pending marker). */
  installStagingId: string | null;
}

export interface ReadyLoopIo<G extends LoopGroup> {
  groups(): Iterable<G>;
  /** Hands the core what the host queued since the last run (proposals, a ReadIndex round). */
  feed(g: G): void;
  /** Sends messages of a group; `now`: messagesNow or takeMessagesNow (the host streams snapshots). */
  send(g: G, messages: Message[], now: boolean): void;
  /** Flushes what send() batched. */
  flush(): void;
  /** After a send phase of a run (`count` messages): lets the writes leave before the run goes on. */
  yieldToIo(phase: 'now' | 'afterPersist', count: number): LoopWait;
  /** Durable (synced) when it settles. */
  persist(writes: PersistWrite[]): LoopWait;
  /** Installs the staged snapshot the core handed out (meta persisted already). */
  installSnapshot(g: G, stagingId: string, meta: SnapshotMeta): LoopWait;
  /** Drops staged data the core did not take. */
  discardStaged(g: G, stagingId: string): void;
  /** The Ready's hard state, soft state and read states, before its entries are applied. */
  observe(g: G, rd: Ready): void;
  apply(g: G, entries: Entry[]): LoopWait;
  /** After core.advance(rd). */
  advanced(g: G, rd: Ready): void;
  /** After a Ready without a snapshot: compacts the log when due. */
  compact(g: G): LoopWait;
  /** A run failed (its error): fatal for the node. */
  fail(error: unknown): void;
}

/** The staging id a snapshot stepped by the host carries as its data. */
export function stagingIdOf(snapshot: Snapshot): string {
  return Buffer.from(snapshot.data).toString('utf8');
}

export class ReadyLoop<G extends LoopGroup> {
  private scheduled = false;
  private running = false;
  /** close(): no new runs are scheduled; a run in progress ends after its current Readys. */
  private closed = false;
  /** halt(): after a fatal error, scheduled runs do nothing. */
  private halted = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly io: ReadyLoopIo<G>,
    private readonly scheduler: Scheduler,
    private readonly driver: LoopDriver,
  ) {}

  get isRunning(): boolean {
    return this.running;
  }

  /** Runs the loop soon (all that arrives in this turn shares one run), or feeds the cores if it runs. */
  schedule(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    this.scheduler.soon(this.onScheduled);
  }

  close(): void {
    this.closed = true;
  }

  halt(): void {
    this.halted = true;
  }

  /** Resolves once no run is in progress. */
  whenIdle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private readonly onScheduled = (): void => {
    this.scheduled = false;
    if (this.halted) return;
    if (this.running) {
      // A Ready is being persisted or applied: feed the cores now and send what need not wait for it.
      this.pump(true);
      return;
    }
    this.running = true;
    this.driver(this.run(), this.onRunEnd);
  };

  private readonly onRunEnd = (failed: boolean, error: unknown): void => {
    try {
      if (failed) this.io.fail(error);
    } finally {
      this.running = false;
      const waiters = this.idleWaiters;
      if (waiters.length > 0) {
        this.idleWaiters = [];
        for (const w of waiters) w();
      }
    }
  };

  /**
   * Feeds every group's core; with `sendNow` (a Ready is outstanding) also sends the messages that never
   * wait for persistence (leader appends, heartbeats, heartbeat responses), so replication and read rounds
   * proceed while this node fsyncs or applies; everything else waits for the next Ready.
   */
  private pump(sendNow: boolean): void {
    const io = this.io;
    for (const g of io.groups()) {
      io.feed(g);
      if (sendNow) {
        const messages = g.core.takeMessagesNow();
        if (messages.length > 0) io.send(g, messages, true);
      }
    }
    if (sendNow) io.flush();
  }

  private *run(): LoopTask {
    const io = this.io;
    for (;;) {
      this.pump(false);
      const cycle: { g: G; rd: Ready }[] = [];
      for (const g of io.groups()) {
        if (g.core.hasReady()) cycle.push({ g, rd: g.core.ready() });
        else if (g.staging?.stepped) this.discardStaging(g); // the core took nothing from the snapshot message
      }
      if (cycle.length === 0) return;
      const writes: PersistWrite[] = [];
      let sent = 0;
      for (const { g, rd } of cycle) {
        sent += rd.messagesNow.length;
        io.send(g, rd.messagesNow, true);
        const write = this.groupWrite(g, rd);
        if (write) writes.push(write);
      }
      io.flush();
      yield io.yieldToIo('now', sent);
      if (writes.length > 0) yield io.persist(writes);
      sent = 0;
      for (const { g, rd } of cycle) {
        sent += rd.messagesAfterPersist.length;
        io.send(g, rd.messagesAfterPersist, false);
      }
      io.flush();
      yield io.yieldToIo('afterPersist', sent);
      if (cycle.length === 1) yield* this.finish(cycle[0]!.g, cycle[0]!.rd);
      else yield new LoopJoin(cycle.map(({ g, rd }) => this.finish(g, rd)));
      if (this.closed) return;
    }
  }

  private groupWrite(g: G, rd: Ready): PersistWrite | null {
    let installStagingId: string | null = null;
    if (g.staging?.stepped) {
      const staged = g.staging;
      if (rd.snapshot !== null && stagingIdOf(rd.snapshot) === staged.id) installStagingId = staged.id;
      else this.discardStaging(g); // the core did not take the snapshot (stale or superseded)
    }
    const hs = rd.hardState;
    if (
      hs !== null &&
      rd.entries.length === 0 &&
      rd.snapshot === null &&
      hs.term === g.syncedHardState.term &&
      hs.vote === g.syncedHardState.vote
    ) {
      // Only the commit index moved: no fsync of its own, it rides on the group's next synced write.
      g.deferredHardState = hs;
      return null;
    }
    if (hs === null && rd.entries.length === 0 && rd.snapshot === null) return null;
    const hardState = hs ?? g.deferredHardState;
    g.deferredHardState = null;
    if (hardState !== null) g.syncedHardState = hardState;
    return { groupId: g.id, hardState, entries: rd.entries, snapshot: rd.snapshot?.meta ?? null, installStagingId };
  }

  private discardStaging(g: G): void {
    const staged = g.staging;
    if (!staged) return;
    g.staging = null;
    this.io.discardStaged(g, staged.id);
  }

  /** Step 6 for one group: install, observe, apply, advance, compact. */
  private *finish(g: G, rd: Ready): LoopTask {
    const io = this.io;
    if (rd.snapshot !== null) {
      const staged = g.staging;
      if (staged === null || stagingIdOf(rd.snapshot) !== staged.id) {
        throw new InvariantError(`group ${g.id}: the core handed out a snapshot that was not staged`);
      }
      yield io.installSnapshot(g, staged.id, rd.snapshot.meta);
      g.staging = null;
    }
    io.observe(g, rd);
    if (rd.committedEntries.length > 0) yield io.apply(g, rd.committedEntries);
    g.core.advance(rd);
    io.advanced(g, rd);
    if (rd.snapshot === null) yield io.compact(g);
  }
}
