/**
 * StateMachine: the replicated KV state machine of one group over the user key range [start, end)
 * (end null = unbounded), on the node's LevelDB (d/ user data, m/<g>/ metadata, t/<g>/ snapshot staging).
 *
 * Invariants:
 * - apply() writes the data, the applied index and the changed session records of a call in ONE batch
 *   (no sync: the Raft log is durable and replay is idempotent: entries at or below `applied` are skipped).
 * - Application is deterministic: it depends only on the state and the entries. Nothing is rejected at
 *   apply time except a key outside the group's range ({ type: 'wrongShard' }, applied nothing) and a split
 *   that does not fit the group's epoch and range ({ type: 'splitRefused' }).
 * - The range and epoch are persisted by a split or a configuration change (m/<g>/shard, group-shard.ts) in
 *   the batch of its applied index: a split gives the epoch parent+1, every configuration entry +1 (the
 *   same on every replica, which applies the same entries; a snapshot carries the record); a split narrows the range for the entries after it in the same call at once (inRange) and for
 *   reads once its batch is written (split-apply.ts: the split, the sessions it copies and the
 *   split/snapshot race rule).
 * - Sessions (exactly-once; Raft dissertation section 6.3): per clientId only the last (seq, result,
 *   request fingerprint). A client registers its session first (registerSession: known at seq 0; an id
 *   already known is left as it is). A write whose session tag carries a fingerprint (this version's form):
 *     session unknown (never registered, evicted by count or expired by time): sessionExpired, nothing
 *       applied (a retry after its session was forgotten must not apply again);
 *     seq == last: the remembered result, nothing applied, if the fingerprint matches the remembered one
 *       (or none is remembered); a different fingerprint is sessionSeqReused, nothing applied or touched;
 *     seq < last: sessionExpired; seq > last: applied and remembered with its fingerprint.
 *   A legacy write (session tag without fingerprint, written by an older version) keeps the older rules,
 *   so replaying an old log gives what it gave then: seq == last: the remembered result; seq < last:
 *   sessionExpired; seq > last or an unknown session, whatever its seq: applied and remembered.
 *   Bounded and expiring (session-table.ts): at most sessionsMax sessions, the least recently used by apply
 *   index evicted first; and a session unused for more than sessionTtlMs of log time expires. Time comes
 *   only from the log (each command's atMs, stamped by the proposer), never from this replica's clock, so
 *   every replica evicts the same sessions. Expiry runs before the command's own session is looked up, in
 *   the same batch: a write from an expired session behaves exactly like one from an unknown session.
 *   Registrations are rate-limited per client address by the servers (server/session-limiter.ts), so one
 *   client cannot push everyone else's sessions out by count. The log clock is not a stored value of its
 *   own: it is derived from the session records (their lastSeenMs, written in the apply batch) and the
 *   entry being applied, so a restart or a snapshot install (which copies the records verbatim) yields the
 *   same clock.
 * - A committed entry whose data does not decode as a command is applied as a no-op ({ type: 'undecodable' },
 *   applied index moves, nothing else changes, the same on every replica); counted (undecodableEntries) and
 *   reported through options.onUndecodable. It never stops the replica.
 * - apply, installStaged and openSnapshot must not overlap (the group's serial runner calls them);
 *   overlapping calls throw InvariantError. If a write fails the machine refuses every later call
 *   (restart to recover from the durable state).
 * - Reads (get, scan) never see a snapshot install half done (it clears the range, then copies the staged
 *   data back in several batches): an install waits for the reads in flight to finish, and reads that
 *   arrive during it wait for it to end, so a read sees the state before the install or after it.
 * - A snapshot install is crash-safe: the m/<g>/install marker (written by NodeStore.persist with the
 *   snapshot meta, or by installStaged) makes open() finish an interrupted install before anything else.
 */
import { TesseraError, assert, isEpoch, isTesseraError } from '../base';
import {
  appliedKey,
  dataKey,
  dataRange,
  decodeCommand,
  decodeIndex,
  decodeInstallMarker,
  decodeSessionRecord,
  decodeValueRecord,
  encodeIndex,
  encodeInstallMarker,
  encodeShardRecord,
  formatKey,
  installMarkerKey,
  sessionClientId,
  sessionRange,
  shardRecordKey,
  userKeyOf,
} from '../codec';
import type { Command, CommandResult, GroupShard, KeyValue, ScanPage, SessionRecord } from '../codec';
import type { Entry, SnapshotMeta } from '../raft';
import { asLevelCorruption, writeBatch, type NodeStore, type StoreDb } from '../storage';
import { ApplyBatch } from './apply-batch';
import { SessionTable } from './session-table';
import type { SessionState } from './session-table';
import { SNAPSHOT_CHUNK_BYTES_DEFAULT, SnapshotReader } from './snapshot-reader';
import { SnapshotStaging, runInstall } from './snapshot-staging';
import { digestFromSnapshot, type ReplicaDigest } from './digest';
import { EPOCH_UNRECORDED, loadGroupShard, shardContains } from './group-shard';
import { refuseSplit, splitIntoBatch } from './split-apply';

export interface KeyRange {
  start: Buffer;
  /** null: unbounded. */
  end: Buffer | null;
}

export interface StateMachineOptions {
  /** Max client sessions remembered (the same on every replica of the group). */
  sessionsMax: number;
  /**
   * A session unused for longer than this, in log time (ms), is forgotten (the same on every replica of the
   * group). Default SESSION_TTL_MS_DEFAULT (one hour, like config's default).
   */
  sessionTtlMs?: number;
  /**
   * Called (synchronously, while applying) for every committed entry whose data is not a decodable command;
   * the entry is applied as a no-op. For the node's metric and log.
   */
  onUndecodable?: (info: { groupId: number; index: number; message: string }) => void;
  /**
   * Called for every get or scan refused with CORRUPTION (a stored value record failed its check, or the
   * LevelDB files it read are damaged): the read answers DATA_LOSS. `key` names the record (d/...) or the
   * damaged file. For the node's metric and log.
   */
  onCorruptRead?: (info: { groupId: number; key: string; message: string }) => void;
  /** The epoch of a group without a stored shard record (group-shard.ts); default EPOCH_UNRECORDED (1). */
  epoch?: number;
}

export const SESSION_TTL_MS_DEFAULT = 60 * 60 * 1000;

function sameBytes(a: Buffer | null, b: Buffer | null): boolean {
  if (a === null || b === null) return a === b;
  return a.equals(b);
}

export class StateMachine {
  private appliedIndex: number;
  private busy: string | null = null;
  private failure: unknown = null;
  private readonly staging: SnapshotStaging;
  private undecodable = 0;
  /** Set while a snapshot install runs: reads wait for it (they never see the range half replaced). */
  private installing: Promise<void> | null = null;
  private readsInFlight = 0;
  /** Resolved when readsInFlight drops to 0 (an install waits for it before it touches the range). */
  private readsDrained: (() => void) | null = null;
  private digesting = false;
  /**
   * The group's key range (its own object, shared with the staging): narrowed in place by a split once the
   * split's batch is written, with epochNow. A split or configuration change applied in a call not yet written
   * is shardPending (the range and epoch it leaves).
   */
  readonly range: KeyRange;
  private epochNow: number;
  private shardPending: GroupShard | null = null;
  /** The shard as opened: what a LevelDB snapshot without a shard record holds (records are never deleted). */
  private readonly opened: GroupShard;

  private constructor(
    private readonly db: StoreDb,
    readonly groupId: number,
    shard: GroupShard,
    private sessions: SessionTable,
    applied: number,
    private readonly onUndecodable: StateMachineOptions['onUndecodable'],
    private readonly onCorruptRead: StateMachineOptions['onCorruptRead'] = undefined,
    private readonly dbPath = '',
  ) {
    this.appliedIndex = applied;
    this.range = { start: shard.start, end: shard.end };
    this.epochNow = shard.epoch;
    this.opened = { ...shard };
    this.staging = new SnapshotStaging(db, groupId, this.range);
  }

  /**
   * Loads the shard record (a stored one wins over `range` and opts.epoch, group-shard.ts), the applied index
   * and the session table; finishes an interrupted snapshot install first.
   */
  static async open(
    store: NodeStore,
    groupId: number,
    range: KeyRange,
    opts: StateMachineOptions,
  ): Promise<StateMachine> {
    if (range.end !== null && Buffer.compare(range.start, range.end) >= 0) {
      throw new TesseraError('INVALID_ARGUMENT', `empty key range for group ${groupId}`);
    }
    const db = store.db;
    const epoch = opts.epoch ?? EPOCH_UNRECORDED;
    if (!isEpoch(epoch)) throw new TesseraError('INVALID_ARGUMENT', `epoch must be an integer >= 0, got ${epoch}`);
    const given = { start: range.start, end: range.end, epoch };
    const markerBuf = await db.get(installMarkerKey(groupId));
    if (markerBuf !== undefined) {
      const marker = decodeInstallMarker(markerBuf, formatKey(installMarkerKey(groupId)));
      const before = await loadGroupShard(db, groupId, given);
      await runInstall(db, groupId, before, marker.stagingId, marker.index);
    } else {
      await SnapshotStaging.discardAll(db, groupId);
    }
    const shard = await loadGroupShard(db, groupId, given); // after the install: it may have written one
    const applied = await StateMachine.loadApplied(db, groupId);
    const sessionTtlMs = opts.sessionTtlMs ?? SESSION_TTL_MS_DEFAULT;
    if (!Number.isSafeInteger(sessionTtlMs) || sessionTtlMs < 1) {
      throw new TesseraError('INVALID_ARGUMENT', `sessionTtlMs must be an integer >= 1, got ${sessionTtlMs}`);
    }
    const sessions = await StateMachine.loadSessions(db, groupId, opts.sessionsMax, sessionTtlMs);
    return new StateMachine(db, groupId, shard, sessions, applied, opts.onUndecodable, opts.onCorruptRead, store.path);
  }

  private static async loadApplied(db: StoreDb, groupId: number): Promise<number> {
    const buf = await db.get(appliedKey(groupId));
    return buf === undefined ? 0 : decodeIndex(buf, formatKey(appliedKey(groupId)));
  }

  private static async loadSessions(
    db: StoreDb,
    groupId: number,
    sessionsMax: number,
    sessionTtlMs: number,
  ): Promise<SessionTable> {
    const stored: Array<{ clientId: string } & SessionState> = [];
    for await (const [key, value] of db.iterator({ ...sessionRange(groupId) })) {
      const rec = decodeSessionRecord(value, formatKey(key));
      stored.push({
        clientId: sessionClientId(key),
        seq: rec.seq,
        lastIndex: rec.lastIndex,
        lastSeenMs: rec.lastSeenMs ?? null,
      });
    }
    return SessionTable.fromStored(sessionsMax, sessionTtlMs, stored);
  }

  /** The highest log index applied (durably written, or about to be, in LevelDB's write order). */
  get applied(): number {
    return this.appliedIndex;
  }

  /** How long an unused session is remembered, in log time (ms). */
  get sessionTtlMs(): number {
    return this.sessions.sessionTtlMs;
  }

  /** Number of remembered client sessions. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Committed entries applied as no-ops since open because their data did not decode as a command. */
  get undecodableEntries(): number {
    return this.undecodable;
  }

  /** Remembered client ids, least recently used first (for tests and diagnostics). */
  sessionClientIds(): string[] {
    return this.sessions.clientIds();
  }

  /** The log clock (ms) as of the last applied command: time from the log, 0 if none is known. */
  get logClockMs(): number {
    return this.sessions.clockFor(null);
  }

  /** The group's epoch (bumped by a split, once its batch is written). */
  get epoch(): number {
    return this.epochNow;
  }

  /** The group's range and epoch as written (a copy): a split narrows it once its batch is written. */
  get shard(): GroupShard {
    return { start: this.range.start, end: this.range.end, epoch: this.epochNow };
  }

  /** In the range; while an apply call holds a split not yet written, in the split's narrowed range too. */
  inRange(key: Buffer): boolean {
    return shardContains(this.range, key) && (this.shardPending === null || shardContains(this.shardPending, key));
  }

  /**
   * Applies committed entries in order (entries at or below `applied` are skipped; the rest must continue
   * at applied + 1). Returns the result of every applied normal entry by log index.
   * `onResults`, when given, receives the same map as soon as the results are known, before the batch is
   * written: the entries are committed (durable in the Raft log), so a caller may answer clients then;
   * `applied` (what reads wait for) still moves only once the batch is written.
   */
  async apply(
    entries: readonly Entry[],
    onResults?: (results: Map<number, CommandResult>) => void,
  ): Promise<Map<number, CommandResult>> {
    this.enter('apply');
    try {
      const results = new Map<number, CommandResult>();
      const batch = new ApplyBatch(this.db, this.groupId);
      let applied = this.appliedIndex;
      for (const e of entries) {
        if (e.index <= applied) continue;
        assert(e.index === applied + 1, () => `group ${this.groupId}: applying entry ${e.index} after ${applied}`);
        if (e.kind === 'normal') results.set(e.index, await this.applyEntry(e.data, e.index, batch));
        else if (e.kind === 'config') this.applyConfigChange(batch);
        applied = e.index;
      }
      if (applied === this.appliedIndex) {
        onResults?.(results);
        return results;
      }
      const ops = batch.finish();
      ops.push({ type: 'put', key: appliedKey(this.groupId), value: encodeIndex(applied) });
      const written = writeBatch(this.db, ops, false);
      onResults?.(results);
      await written;
      this.appliedIndex = applied;
      this.publishShard();
      return results;
    } catch (e) {
      this.failure = e;
      throw e;
    } finally {
      this.busy = null;
    }
  }

  private async applyEntry(data: Uint8Array, index: number, batch: ApplyBatch): Promise<CommandResult> {
    let cmd: Command;
    try {
      cmd = decodeCommand(data);
    } catch (e) {
      if (!isTesseraError(e) || e.code !== 'CORRUPTION') throw e;
      // Deterministic on every replica (same bytes, same decoder): a no-op, never a crash of the replica.
      this.undecodable++;
      this.onUndecodable?.({ groupId: this.groupId, index, message: e.message });
      return { type: 'undecodable', message: e.message };
    }
    return this.applyCommand(cmd, index, batch);
  }

  private async applyCommand(cmd: Command, index: number, batch: ApplyBatch): Promise<CommandResult> {
    // Expire first, so a write from an expired session is treated like one from an unknown session.
    const clockMs = this.sessions.clockFor(cmd.atMs ?? null);
    for (const expired of this.sessions.expire(clockMs)) batch.deleteSession(expired);
    if (cmd.type === 'split') return this.applySplit(cmd, batch);
    if (cmd.type === 'noop') return { type: 'noop' };
    if (cmd.type === 'registerSession') {
      if (this.sessions.get(cmd.clientId) === undefined)
        this.remember(cmd.clientId, 0, index, clockMs, { type: 'noop' }, undefined, batch);
      return { type: 'registerSession', clientId: cmd.clientId };
    }
    const session = cmd.session;
    if (session === null) return this.execute(cmd, batch);
    const fingerprint = session.fingerprint;
    const known = this.sessions.get(session.clientId);
    if (known === undefined) {
      // Registered sessions only (this version's commands); a legacy command starts a session as before.
      if (fingerprint !== undefined) return { type: 'sessionExpired' };
    } else if (session.seq === known.seq) {
      const rec: SessionRecord = await batch.sessionRecord(session.clientId);
      if (fingerprint !== undefined && rec.fingerprint !== undefined && rec.fingerprint !== fingerprint) {
        return { type: 'sessionSeqReused', seq: session.seq };
      }
      this.remember(session.clientId, session.seq, index, clockMs, rec.result, rec.fingerprint, batch);
      return rec.result;
    } else if (session.seq < known.seq) {
      return { type: 'sessionExpired' };
    }
    const result = await this.execute(cmd, batch);
    this.remember(session.clientId, session.seq, index, clockMs, result, fingerprint, batch);
    return result;
  }

  /** split-apply.ts: checked against the shard as of this entry; narrows the range for the entries after it. */
  private async applySplit(cmd: Extract<Command, { type: 'split' }>, batch: ApplyBatch): Promise<CommandResult> {
    const shard = this.shardPending ?? this.shard;
    const refused = refuseSplit(this.groupId, shard, cmd);
    if (refused !== null) return refused;
    const clientIds = this.sessions.clientIds();
    const result = await splitIntoBatch(this.db, this.groupId, shard, cmd, clientIds, batch);
    this.shardPending = result.left;
    return result;
  }

  /**
   * A configuration change (a replica added, promoted or removed): the epoch moves by one, every replica at
   * the same entry (issue 10: every change bumps it), written with this call's applied index. A split planned
   * before it is then refused (epoch-mismatch), as is a placement action or meta record planned against the
   * epoch before (a compare-and-set on the shard's membership, not only its range).
   */
  private applyConfigChange(batch: ApplyBatch): void {
    const shard = this.shardPending ?? this.shard;
    this.shardPending = { ...shard, epoch: shard.epoch + 1 };
    batch.ops.push({ type: 'put', key: shardRecordKey(this.groupId), value: encodeShardRecord(this.shardPending) });
  }

  /** After the batch holding a split or configuration change is written: its range and epoch are the group's. */
  private publishShard(): void {
    if (this.shardPending === null) return;
    this.range.end = this.shardPending.end;
    this.epochNow = this.shardPending.epoch;
    this.shardPending = null;
  }

  private remember(
    clientId: string,
    seq: number,
    index: number,
    clockMs: number,
    result: CommandResult,
    fingerprint: number | undefined,
    batch: ApplyBatch,
  ): void {
    const rec: SessionRecord = { seq, lastIndex: index, result };
    if (clockMs !== 0) rec.lastSeenMs = clockMs;
    if (fingerprint !== undefined) rec.fingerprint = fingerprint;
    batch.setSession(clientId, rec);
    for (const evicted of this.sessions.touch(clientId, seq, index, clockMs)) batch.deleteSession(evicted);
  }

  private async execute(
    cmd: Exclude<Command, { type: 'noop' | 'registerSession' | 'split' }>,
    batch: ApplyBatch,
  ): Promise<CommandResult> {
    switch (cmd.type) {
      case 'put':
        if (!this.inRange(cmd.key)) return { type: 'wrongShard' };
        batch.put(cmd.key, cmd.value);
        return { type: 'put' };
      case 'delete': {
        if (!this.inRange(cmd.key)) return { type: 'wrongShard' };
        const existed = (await batch.read(cmd.key)) !== null;
        if (existed) batch.del(cmd.key);
        return { type: 'delete', existed };
      }
      case 'cas': {
        if (!this.inRange(cmd.key)) return { type: 'wrongShard' };
        const current = await batch.read(cmd.key);
        const succeeded = sameBytes(current, cmd.expected);
        if (succeeded) {
          if (cmd.value === null) {
            if (current !== null) batch.del(cmd.key);
          } else {
            batch.put(cmd.key, cmd.value);
          }
        }
        return { type: 'cas', succeeded, current };
      }
      case 'batch': {
        const keys = [...cmd.compares.map((c) => c.key), ...cmd.writes.map((w) => w.key), ...cmd.reads];
        if (!keys.every((k) => this.inRange(k))) return { type: 'wrongShard' };
        let succeeded = true;
        for (const c of cmd.compares) {
          if (!sameBytes(await batch.read(c.key), c.expected)) {
            succeeded = false;
            break;
          }
        }
        const values: (Buffer | null)[] = [];
        for (const k of cmd.reads) values.push(await batch.read(k));
        if (succeeded) {
          for (const w of cmd.writes) {
            if (w.op === 'put') batch.put(w.key, w.value);
            else batch.del(w.key);
          }
        }
        return { type: 'batch', succeeded, values };
      }
    }
  }

  /** The value of a key, or null. Throws WRONG_SHARD outside the range, CORRUPTION on a bad record. */
  async get(key: Buffer): Promise<Buffer | null> {
    try {
      return await this.getNow(key);
    } catch (e) {
      throw this.readFailure(e);
    }
  }

  /** Keys in [start, end) in order (scanNow); throws CORRUPTION on a bad record. */
  async scan(start: Buffer, end: Buffer | null, limit: number, bytesMax: number): Promise<ScanPage> {
    try {
      return await this.scanNow(start, end, limit, bytesMax);
    } catch (e) {
      throw this.readFailure(e);
    }
  }

  /**
   * The digest of the group's data at one applied index (digest.ts), for comparing replicas. Its LevelDB
   * snapshot is taken under the read fence (never in the middle of an install); one digest at a time per
   * group, another one meanwhile is RESOURCE_EXHAUSTED (it reads the whole range).
   */
  async digest(): Promise<ReplicaDigest> {
    if (this.digesting) throw new TesseraError('RESOURCE_EXHAUSTED', `a digest of group ${this.groupId} is running`);
    this.digesting = true;
    try {
      const snapshot = await this.fencedSnapshot();
      return await digestFromSnapshot(this.db, snapshot, this.groupId, await this.shardAt(snapshot));
    } catch (e) {
      throw this.readFailure(e);
    } finally {
      this.digesting = false;
    }
  }

  /** A read's error, with damaged LevelDB files as CORRUPTION; a CORRUPTION is reported to onCorruptRead. */
  private readFailure(e: unknown): unknown {
    const err = asLevelCorruption(e, this.dbPath);
    if (isTesseraError(err) && err.code === 'CORRUPTION') {
      const { key, file } = err.details;
      const name = typeof key === 'string' ? key : typeof file === 'string' ? file : 'unknown';
      this.onCorruptRead?.({ groupId: this.groupId, key: name, message: err.message });
    }
    return err;
  }

  private async getNow(key: Buffer): Promise<Buffer | null> {
    this.checkUsable();
    if (!this.inRange(key)) throw new TesseraError('WRONG_SHARD', `key is outside group ${this.groupId}'s range`);
    const k = dataKey(key);
    await this.enterRead();
    let stored: Buffer | undefined;
    try {
      stored = await this.db.get(k);
    } finally {
      this.exitRead();
    }
    return stored === undefined ? null : decodeValueRecord(stored, key, formatKey(k));
  }

  /** Waits out a snapshot install in progress, then counts a read in flight (an install waits for those). */
  private async enterRead(): Promise<void> {
    while (this.installing !== null) await this.installing;
    this.checkUsable();
    this.readsInFlight++;
  }

  private exitRead(): void {
    if (--this.readsInFlight > 0 || this.readsDrained === null) return;
    const drained = this.readsDrained;
    this.readsDrained = null;
    drained();
  }

  /** A data iterator for a read already entered (enterRead); exits the read if the iterator cannot be made. */
  private fencedIterator(from: Buffer, to: Buffer | null) {
    try {
      return this.db.iterator({ ...dataRange(from, to) });
    } catch (e) {
      this.exitRead();
      throw e;
    }
  }

  /**
   * Keys in [start, end) (end null: unbounded) in order, clipped to the group's range. A page stops before
   * `limit` items or before its keys and values would exceed `bytesMax` bytes, but holds at least one item if
   * there is one. more/nextStart: where the next page starts; when the request reaches past the group's
   * range end, the last page has more = true and nextStart = the range end (the next group's start).
   */
  private async scanNow(start: Buffer, end: Buffer | null, limit: number, bytesMax: number): Promise<ScanPage> {
    this.checkUsable();
    if (!Number.isInteger(limit) || limit < 1)
      throw new TesseraError('INVALID_ARGUMENT', `scan limit must be >= 1, got ${limit}`, { limit: 'limit' });
    if (!(bytesMax >= 1))
      throw new TesseraError('INVALID_ARGUMENT', `scan bytesMax must be >= 1, got ${bytesMax}`, { limit: 'bytesMax' });
    const rangeEnd = this.range.end;
    // A start this group no longer owns (a split applied after the caller chose the group): WRONG_SHARD, as a
    // get answers, so the SDK routes again. A page here could only say "go on at start", which no caller can
    // tell from a page that does not move (the SDK's stitcher refuses it; the sharding test's scan failed so).
    if (rangeEnd !== null && Buffer.compare(start, rangeEnd) >= 0)
      throw new TesseraError('WRONG_SHARD', `scan start is outside group ${this.groupId}'s range`);
    const from = Buffer.compare(start, this.range.start) < 0 ? this.range.start : start;
    const clipped = rangeEnd !== null && (end === null || Buffer.compare(end, rangeEnd) > 0);
    const to = clipped ? rangeEnd : end;
    const items: KeyValue[] = [];
    // (Clipped, `to` is the range's end, past `from`: only the caller's own end can leave nothing to read.)
    if (to !== null && Buffer.compare(from, to) >= 0) return { items, more: false, nextStart: null };
    let bytes = 0;
    await this.enterRead();
    const it = this.fencedIterator(from, to);
    try {
      for await (const [k, v] of it) {
        const key = userKeyOf(k);
        if (items.length >= limit) return { items, more: true, nextStart: Buffer.from(key) };
        const value = decodeValueRecord(v, key, formatKey(k));
        const size = key.length + value.length;
        if (items.length > 0 && bytes + size > bytesMax) return { items, more: true, nextStart: Buffer.from(key) };
        items.push({ key, value });
        bytes += size;
      }
    } finally {
      try {
        await it.close();
      } finally {
        this.exitRead();
      }
    }
    if (clipped) return { items, more: true, nextStart: rangeEnd };
    return { items, more: false, nextStart: null };
  }

  /**
   * A consistent chunked reader of the state exactly at the current `applied` (created synchronously).
   * Do not call while apply or installStaged is running.
   */
  openSnapshot(opts: { chunkBytes?: number } = {}): SnapshotReader {
    this.checkUsable();
    assert(this.busy === null, () => `group ${this.groupId}: openSnapshot during ${this.busy}`);
    const snapshot = this.db.snapshot();
    return new SnapshotReader(
      this.db,
      snapshot,
      this.groupId,
      this.shard,
      this.appliedIndex,
      opts.chunkBytes ?? SNAPSHOT_CHUNK_BYTES_DEFAULT,
    );
  }

  /**
   * Self-repair's source (node/self-repair.ts): a chunked reader of the state at one applied index, callable
   * at any time (apply may run): the LevelDB snapshot is taken under the read fence (never mid-install) and
   * the index is read from it (m/<g>/applied is written in the same batch as the data it covers).
   */
  async openConsistentSnapshot(chunkBytes: number = SNAPSHOT_CHUNK_BYTES_DEFAULT): Promise<SnapshotReader> {
    const snapshot = await this.fencedSnapshot();
    try {
      const buf = await this.db.get(appliedKey(this.groupId), { snapshot });
      const applied = buf === undefined ? 0 : decodeIndex(buf, formatKey(appliedKey(this.groupId)));
      return new SnapshotReader(this.db, snapshot, this.groupId, await this.shardAt(snapshot), applied, chunkBytes);
    } catch (e) {
      await snapshot.close();
      throw e;
    }
  }

  /** A LevelDB snapshot taken under the read fence: never in the middle of an install. */
  private async fencedSnapshot(): Promise<ReturnType<StoreDb['snapshot']>> {
    await this.enterRead();
    try {
      return this.db.snapshot();
    } finally {
      this.exitRead();
    }
  }

  /** The group's range as of a LevelDB snapshot (a split's record is written with its applied index). */
  private shardAt(snapshot: ReturnType<StoreDb['snapshot']>): Promise<GroupShard> {
    return loadGroupShard(this.db, this.groupId, this.opened, snapshot);
  }

  /** Starts receiving a snapshot (discarding any earlier staging of this group). */
  async beginSnapshotStaging(snapshotId: string): Promise<void> {
    this.checkUsable();
    await this.staging.begin(snapshotId);
  }

  /** Stores one chunk (chunks in order). Returns done = true after the last chunk. */
  async stageChunk(snapshotId: string, chunk: Uint8Array): Promise<{ done: boolean; applied: number }> {
    this.checkUsable();
    return this.staging.stage(snapshotId, chunk);
  }

  /**
   * The range and epoch a completed staged snapshot carries (what the group becomes when it is installed),
   * or null when its sender sent none (an older version: the group's own range then).
   */
  stagedShard(snapshotId: string): GroupShard | null {
    return this.staging.completed(snapshotId).shard;
  }

  /**
   * Replaces the group's data range and sessions with the staged snapshot and sets applied = meta.index.
   * Writes the install-pending marker first (unless NodeStore.persist already did), so a crash part-way is
   * finished by open(). The staged snapshot must be complete and reflect exactly meta.index.
   * `replay` (self-repair): batches of log entries applied right after, still inside the read fence.
   */
  async installStaged(
    snapshotId: string,
    meta: SnapshotMeta,
    replay?: () => AsyncIterable<readonly Entry[]>,
  ): Promise<void> {
    this.checkUsable();
    const staged = this.staging.completed(snapshotId);
    if (staged.applied !== meta.index) {
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `staged snapshot ${snapshotId} reflects index ${staged.applied}, not ${meta.index}`,
      );
    }
    this.enter('installStaged');
    let endInstall!: () => void;
    this.installing = new Promise<void>((resolve) => {
      endInstall = resolve;
    });
    try {
      if (this.readsInFlight > 0) {
        await new Promise<void>((resolve) => {
          this.readsDrained = resolve;
        });
      }
      const markerKey = installMarkerKey(this.groupId);
      const existing = await this.db.get(markerKey);
      if (existing === undefined) {
        await this.db.put(
          markerKey,
          encodeInstallMarker({ stagingId: snapshotId, index: meta.index, term: meta.term }),
          { sync: true },
        );
      } else {
        const m = decodeInstallMarker(existing, formatKey(markerKey));
        assert(
          m.stagingId === snapshotId && m.index === meta.index,
          () =>
            `group ${this.groupId}: install marker for ${m.stagingId}@${m.index}, installing ${snapshotId}@${meta.index}`,
        );
      }
      await runInstall(this.db, this.groupId, this.range, snapshotId, meta.index);
      this.staging.forget();
      this.appliedIndex = await StateMachine.loadApplied(this.db, this.groupId);
      // A snapshot taken after a split carries the narrowed range and new epoch (snapshot-staging.ts).
      const shard = await loadGroupShard(this.db, this.groupId, this.shard);
      this.range.end = shard.end;
      this.range.start = shard.start;
      this.epochNow = shard.epoch;
      this.sessions = await StateMachine.loadSessions(
        this.db,
        this.groupId,
        this.sessions.sessionsMax,
        this.sessions.sessionTtlMs,
      );
      if (replay !== undefined) {
        // Self-repair: re-apply this replica's own entries after the copy before reads resume, so a read never
        // sees the (older) state of the copy after having seen a newer one.
        this.busy = null;
        for await (const entries of replay()) await this.apply(entries);
      }
    } catch (e) {
      this.failure = e;
      throw e;
    } finally {
      this.busy = null;
      this.installing = null;
      endInstall();
    }
  }

  /** Drops a staged snapshot (e.g. the stream broke). */
  async discardStaged(snapshotId: string): Promise<void> {
    this.checkUsable();
    await this.staging.discard(snapshotId);
  }

  private enter(what: string): void {
    this.checkUsable();
    assert(this.busy === null, () => `group ${this.groupId}: ${what} while ${this.busy} is running`);
    this.busy = what;
  }

  private checkUsable(): void {
    if (this.failure !== null) {
      throw new TesseraError(
        'INTERNAL',
        `group ${this.groupId}'s state machine failed earlier; restart the node`,
        {},
        { cause: this.failure },
      );
    }
  }
}
