/**
 * Self-repair of a replica whose stored data failed its check (a read or digest hit CORRUPTION). The group
 * is marked "needs repair" (gauge, one log line), reads of bad data keep answering DATA_LOSS, and the node
 * repairs its state machine from a peer's copy:
 *   1. poll (every tick): a leader hands leadership over first (TimeoutNow to its most caught-up voter);
 *      a follower asks a peer (the leader first, then the others in turn) for a copy at an applied index
 *      >= its log start, over the authenticated peer transport (Raft.FetchRepairSnapshot);
 *   2. the chunks are staged like a Raft snapshot's (kv/snapshot-staging.ts checks every record: the data
 *      is hostile), holding the group's one staging slot, so a Raft snapshot cannot interleave;
 *   3. the ready loop installs it (step(), run in the loop's compaction step, so never during apply or
 *      another install): the same atomic, read-fenced, crash-safe install as a Raft snapshot, at the copy's
 *      index A, then (still inside the read fence) this replica re-applies its own log entries (A, applied]
 *      and ends where it was: a read sees the damaged state or the repaired one, never the older copy.
 * The Raft log, term, vote, commit index and membership are untouched (the copy holds data and sessions
 * only): this is not a Raft snapshot. When an install is allowed, and why it is safe: self-repair-policy.ts.
 * Failures (no peer, refused, cut, a copy too old or too far ahead) retry with backoff; one repair at a time
 * per group; a node serves at most SERVING_MAX copies per group at once.
 */
import { NO_NODE, isTesseraError, type GroupId, type NodeId } from '../base';
import { decodeEntry, entryRange, formatKey } from '../codec';
import type { Logger, NodeMetrics } from '../obs';
import type { Entry } from '../raft';
import type { StoreDb } from '../storage';
import type { RepairSource } from '../transport';
import type { Group } from './group';
import { LoopJoin, type LoopTask, type LoopWait } from './loop-driver';
import { decideInstall, decideServe, decideStart, retryDelayMs, sourceFor } from './self-repair-policy';
import { beginStaging } from './snapshot-staging';

export interface SelfRepairContext {
  selfId: NodeId;
  fetch(to: NodeId, groupId: GroupId, minIndex: number): AsyncIterable<Buffer>;
  /** The node's LevelDB (the group's own log entries are re-applied from it after an install). */
  db: StoreDb;
  logger: Logger;
  metrics: NodeMetrics;
  chunkBytes: number;
  /** Re-run the ready loop (a copy is staged). */
  schedule(): void;
  backoff?: { initialMs: number; maxMs: number };
  /** How long a staged copy ahead of this replica waits for it to apply that far. */
  installWaitMs?: number;
  nowMs?: () => number;
}

export const REPAIR_BACKOFF_DEFAULT = { initialMs: 250, maxMs: 5_000 };
export const REPAIR_INSTALL_WAIT_MS_DEFAULT = 10_000;
/** Copies one node serves at once per group (each holds a LevelDB snapshot and reads the whole range). */
const SERVING_MAX = 2;
/** Entries re-applied per state machine batch after an install. */
const REPLAY_BATCH_ENTRIES = 256;

interface RepairState {
  needsRepair: boolean;
  /** A fetch is running or a copy is staged (the group's staging slot is ours). */
  inProgress: boolean;
  staged: { id: string; index: number; deadlineMs: number } | null;
  failures: number;
  attempts: number;
  retryAtMs: number;
  serving: number;
}

export class SelfRepair {
  private readonly states = new Map<GroupId, RepairState>();
  private seq = 0;

  constructor(private readonly ctx: SelfRepairContext) {}

  private now(): number {
    return (this.ctx.nowMs ?? Date.now)();
  }

  private state(groupId: GroupId): RepairState {
    let st = this.states.get(groupId);
    if (st === undefined) {
      st = { needsRepair: false, inProgress: false, staged: null, failures: 0, attempts: 0, retryAtMs: 0, serving: 0 };
      this.states.set(groupId, st);
    }
    return st;
  }

  needsRepair(groupId: GroupId): boolean {
    return this.states.get(groupId)?.needsRepair === true;
  }

  /** The groups marked for repair (few: the host wakes a quiet one among them on its tick). */
  *repairIds(): Generator<GroupId> {
    for (const [id, st] of this.states) if (st.needsRepair) yield id;
  }

  /** A read of the group's stored data failed its check: mark it (gauge, one log line per episode). */
  noteCorrupt(groupId: GroupId, key: string): void {
    const st = this.state(groupId);
    if (st.needsRepair) return;
    st.needsRepair = true;
    this.ctx.metrics.needsRepair.set({ group: String(groupId) }, 1);
    this.ctx.logger.error(
      { group: groupId, key },
      'self-repair needed: this replica holds damaged data; it repairs itself from a peer copy',
    );
  }

  /** Every tick: starts what is due (leadership handover, or a fetch). */
  poll(g: Group): void {
    const st = this.states.get(g.id);
    if (st === undefined || !st.needsRepair) return;
    const decision = decideStart({
      needsRepair: st.needsRepair,
      inProgress: st.inProgress,
      role: g.role,
      stagingBusy: g.staging !== null,
      nowMs: this.now(),
      retryAtMs: st.retryAtMs,
    });
    if (decision === 'stepDown') this.stepDown(g, st);
    else if (decision === 'fetch') this.fetch(g, st);
  }

  /** A leader with bad data hands over to its most caught-up voter first, then repairs as a follower. */
  private stepDown(g: Group, st: RepairState): void {
    const status = g.core.status();
    let to: NodeId = NO_NODE;
    let best = -1;
    for (const [id, pr] of status.progress ?? []) {
      if (id === this.ctx.selfId || !status.config.voters.includes(id) || pr.match <= best) continue;
      to = id;
      best = pr.match;
    }
    st.retryAtMs = this.now() + retryDelayMs(Math.max(1, st.failures), this.backoff());
    if (to === NO_NODE) return;
    const outcome = g.core.transferLeader(to);
    this.ctx.logger.warn(
      { group: g.id, to, ok: outcome.ok },
      'self-repair: handing leadership over before repairing this replica',
    );
    this.ctx.schedule();
  }

  private backoff(): { initialMs: number; maxMs: number } {
    return this.ctx.backoff ?? REPAIR_BACKOFF_DEFAULT;
  }

  private fetch(g: Group, st: RepairState): void {
    const config = g.core.status().config;
    const members = { self: this.ctx.selfId, leader: g.leader, voters: config.voters, learners: config.learners };
    const source = sourceFor(members, st.attempts++);
    if (source === null) {
      st.retryAtMs = this.now() + retryDelayMs(++st.failures, this.backoff());
      return;
    }
    const id = `repair-${this.ctx.selfId}-${Date.now()}-${++this.seq}`;
    if (!beginStaging(g, id, { index: 0, term: 0, config })) return;
    st.inProgress = true;
    const minIndex = g.firstIndex - 1;
    this.ctx.logger.info({ group: g.id, from: source, minIndex }, 'self-repair: asking a peer for a copy');
    this.stage(g, id, source, minIndex).then(
      (index) => {
        st.staged = { id, index, deadlineMs: this.now() + (this.ctx.installWaitMs ?? REPAIR_INSTALL_WAIT_MS_DEFAULT) };
        this.ctx.logger.info({ group: g.id, from: source, index }, 'self-repair: copy staged');
        this.ctx.schedule();
      },
      (e: unknown) => this.failed(g, st, id, `the copy from node ${source} failed: ${(e as Error)?.message}`),
    );
  }

  /** Stages the copy's chunks; resolves with the index it reflects. */
  private async stage(g: Group, id: string, source: NodeId, minIndex: number): Promise<number> {
    await g.sm.beginSnapshotStaging(id);
    let done = false;
    let applied = -1;
    for await (const chunk of this.ctx.fetch(source, g.id, minIndex)) {
      if (done) throw new Error('data after the last chunk');
      ({ done, applied } = await g.sm.stageChunk(id, chunk));
    }
    if (!done) throw new Error('the stream ended before its last chunk');
    if (applied < minIndex) throw new Error(`the copy is at ${applied}, below the asked ${minIndex}`);
    return applied;
  }

  /** Drops the attempt's staging, frees the slot, and schedules the next attempt. */
  private failed(g: Group, st: RepairState, id: string, why: string): void {
    st.staged = null;
    st.failures++;
    const delayMs = retryDelayMs(st.failures, this.backoff());
    st.retryAtMs = this.now() + delayMs;
    this.ctx.metrics.selfRepairs.inc({ group: g.label, outcome: 'failed' });
    this.ctx.logger.warn({ group: g.id, failures: st.failures, retryInMs: delayMs, why }, 'self-repair attempt failed');
    void g.sm
      .discardStaged(id)
      .catch(() => undefined)
      .finally(() => {
        if (g.staging?.id === id && !g.staging.stepped) g.staging = null;
        st.inProgress = false;
      });
  }

  /** The ready loop's step (its compaction slot): installs a staged copy when allowed, or drops it. */
  step(g: Group): LoopWait {
    const st = this.states.get(g.id);
    const staged = st?.staged;
    if (st === undefined || staged == null) return undefined;
    const d = decideInstall({
      stagedIndex: staged.index,
      applied: g.sm.applied,
      firstIndex: g.firstIndex,
      role: g.role,
      nowMs: this.now(),
      deadlineMs: staged.deadlineMs,
    });
    if (d.kind === 'wait') return undefined;
    if (d.kind === 'discard') {
      this.failed(g, st, staged.id, d.reason);
      return undefined;
    }
    st.staged = null;
    return new LoopJoin([this.install(g, st, staged.id, staged.index)]);
  }

  private *install(g: Group, st: RepairState, id: string, index: number): LoopTask {
    const before = g.sm.applied;
    const meta = { index, term: 0, config: g.core.status().config };
    yield g.kvSm.installStaged(id, meta, () => this.replay(g, index + 1, before));
    if (g.sm.applied !== before)
      throw new Error(`self-repair of group ${g.id}: re-applied to ${g.sm.applied}, expected ${before}`);
    if (g.staging?.id === id) g.staging = null;
    st.inProgress = false;
    st.needsRepair = false;
    st.failures = 0;
    this.ctx.metrics.needsRepair.set({ group: g.label }, 0);
    this.ctx.metrics.selfRepairs.inc({ group: g.label, outcome: 'ok' });
    this.ctx.logger.info(
      { group: g.id, copyIndex: index, replayed: before - index, applied: g.sm.applied },
      'self-repair: replica repaired from a peer copy',
    );
  }

  /** This replica's own log entries [from, to], in batches (durable: they were applied before). */
  private async *replay(g: Group, from: number, to: number): AsyncGenerator<Entry[]> {
    if (from > to) return;
    let batch: Entry[] = [];
    for await (const [key, value] of this.ctx.db.iterator({ ...entryRange(g.id, from, to) })) {
      batch.push(decodeEntry(value, formatKey(key)));
      if (batch.length >= REPLAY_BATCH_ENTRIES) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length > 0) yield batch;
  }

  /** Serving side: a copy of this replica's state machine for member `from`, at an index >= minIndex. */
  async serve(g: Group, from: NodeId, minIndex: number): Promise<RepairSource> {
    const st = this.state(g.id);
    const config = g.core.status().config;
    const decision = decideServe({
      requester: from,
      self: this.ctx.selfId,
      voters: config.voters,
      learners: config.learners,
      selfNeedsRepair: st.needsRepair,
      serving: st.serving,
      servingMax: SERVING_MAX,
    });
    if (!decision.ok) throw new Error(`repair copy refused: ${decision.reason}`);
    st.serving++;
    let released = false;
    const release = (): void => {
      if (!released) st.serving--;
      released = true;
    };
    let reader;
    try {
      reader = await g.kvSm.openConsistentSnapshot(this.ctx.chunkBytes);
    } catch (e) {
      release();
      throw e;
    }
    if (reader.applied < minIndex) {
      release();
      await reader.close();
      throw new Error(`repair copy refused: this replica applied ${reader.applied}, below the asked ${minIndex}`);
    }
    this.ctx.logger.info({ group: g.id, to: from, index: reader.applied }, 'self-repair: serving a copy');
    const chunks = this.checkedChunks(g, reader);
    const close = async (): Promise<void> => {
      release();
      await reader.close();
    };
    return { [Symbol.asyncIterator]: () => chunks, close };
  }

  /** The reader's chunks; a record of ours failing its check marks this replica as needing repair too. */
  private async *checkedChunks(g: Group, reader: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    try {
      yield* reader;
    } catch (e) {
      if (isTesseraError(e) && e.code === 'CORRUPTION') this.noteCorrupt(g.id, String(e.details.key ?? 'unknown'));
      throw e;
    }
  }
}
