/**
 * NodeStore: the one LevelDB of a node (`<dataDir>/db`) holding the durable Raft state of all its groups
 * (layout in codec/keys.ts). Every r/ and m/ record is verified (CRC and shape) when the store opens; a bad
 * record makes open throw TesseraError('CORRUPTION', ..., { key }) naming the key, so the node refuses to
 * start on it. User values (d/) are raw records verified on every read by kv/ (never served corrupt).
 *
 * Invariants kept per group in memory (rebuilt by verify()):
 *   - stored entries are exactly [logFirst, logLast] (empty when logLast < logFirst), contiguous;
 *   - snapshotIndex < logFirst, i.e. nothing at or below the stored snapshot meta survives a persist;
 *   - persist() calls and compactLog() run one at a time, in call order (an internal queue).
 *
 * persist(writes) is one LevelDB batch with sync: true for all groups (group commit). Per GroupWrite, in
 * this order: hard state; snapshot meta (see below); entries, which replace the stored log from
 * entries[0].index on (stored entries after the new last one are deleted).
 * A snapshot meta (index X, term T) in a write is stored and:
 *   - if the stored log has entry X with term T (the host recording its own compaction point), entries
 *     <= X are deleted and the entries after X are kept;
 *   - otherwise (a snapshot received from the leader) the whole stored log is replaced (deleted).
 *   With `installStagingId`, the install-pending marker m/<g>/install is written in the same batch.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Level } from 'level';
import { levelMemoryOptions } from './level-options';
import { TesseraError, assert } from '../base';
import {
  META_RANGE,
  RAFT_RANGE,
  appliedKey,
  decodeEntry,
  decodeHardState,
  decodeIndex,
  decodeInstallMarker,
  decodeShardRecord,
  decodeSessionRecord,
  decodeSnapshotMeta,
  encodeEntry,
  encodeHardState,
  encodeInstallMarker,
  encodeSnapshotMeta,
  entryKey,
  formatKey,
  hardStateKey,
  installMarkerKey,
  parseKey,
  raftGroupRange,
  snapshotMetaKey,
} from '../codec';
import type { Entry } from '../raft';
import {
  asLevelCorruption,
  checkCurrentFile,
  checkTableFiles,
  classifyLevelError,
  levelCorruption,
} from './level-failure';
import type { GroupDurableState, GroupWrite, StoreDb } from './types';
import { writeBatch, type BatchOp } from './write-batch';

const INDEX_MAX = Number.MAX_SAFE_INTEGER;

interface GroupLogState {
  snapshotIndex: number;
  snapshotTerm: number;
  /** Stored entries are [logFirst, logLast]; empty when logLast < logFirst. */
  logFirst: number;
  logLast: number;
}

export interface VerifyReport {
  /** r/ and m/ records checked. */
  records: number;
  groups: number[];
}

function corruption(key: Buffer, problem: string): TesseraError {
  const name = formatKey(key);
  return new TesseraError('CORRUPTION', `corrupt record at key ${name}: ${problem}`, { key: name });
}

export class NodeStore {
  private readonly groups = new Map<number, GroupLogState>();
  private shardRecordGroups: readonly number[] = [];
  /** Serializes persist / compactLog / verify. */
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(
    private readonly level: StoreDb,
    readonly path: string,
  ) {}

  /**
   * Opens (creating if needed) `<dataDir>/db`, checks its files (CURRENT present, every live table of the
   * size the MANIFEST records) and verifies every r/ and m/ record. Damaged LevelDB files (a corrupt
   * MANIFEST, a missing or truncated table, see level-failure.ts) throw CORRUPTION; another process holding
   * the LOCK throws CONFIG; other open failures (permissions, ...) throw CONFIG naming the path.
   * LevelDB's cache and write buffer derive from `memoryBudgetBytes` (level-options.ts; LevelDB's defaults
   * when not given).
   */
  static async open(dataDir: string, memoryBudgetBytes?: number): Promise<NodeStore> {
    const path = join(dataDir, 'db');
    await mkdir(dataDir, { recursive: true });
    await checkCurrentFile(path);
    const memory = memoryBudgetBytes === undefined ? {} : levelMemoryOptions(memoryBudgetBytes);
    const level: StoreDb = new Level<Buffer, Buffer>(path, {
      keyEncoding: 'buffer',
      valueEncoding: 'buffer',
      ...memory,
    });
    try {
      await level.open();
    } catch (e) {
      const f = classifyLevelError(e);
      if (f.kind === 'corruption') throw levelCorruption(path, f.message, e);
      const hint = f.kind === 'locked' ? 'is another process using this data directory?' : 'check the data directory';
      throw new TesseraError(
        'CONFIG',
        `cannot open LevelDB at ${path} (${hint}): ${f.message}`,
        { path },
        { cause: e },
      );
    }
    const store = new NodeStore(level, path);
    try {
      await checkTableFiles(level, path);
      await store.verify();
    } catch (e) {
      await level.close();
      throw asLevelCorruption(e, path);
    }
    return store;
  }

  /** The Level instance (Buffer keys and values), for kv/. */
  get db(): StoreDb {
    return this.level;
  }

  /**
   * Checks the CRC and shape of every r/ and m/ record and the log invariants, and rebuilds the in-memory
   * group state. Throws CORRUPTION naming the first bad key.
   */
  verify(): Promise<VerifyReport> {
    return this.serialize(() => this.verifyNow());
  }

  private async verifyNow(): Promise<VerifyReport> {
    const groups = new Map<number, GroupLogState>();
    const stateOf = (g: number): GroupLogState => {
      let st = groups.get(g);
      if (st === undefined) {
        st = { snapshotIndex: 0, snapshotTerm: 0, logFirst: 1, logLast: 0 };
        groups.set(g, st);
      }
      return st;
    };
    let records = 0;
    let firstEntryKey = new Map<number, Buffer>();
    for await (const [key, value] of this.level.iterator({ ...RAFT_RANGE })) {
      records++;
      const name = formatKey(key);
      const p = parseKey(key);
      switch (p.kind) {
        case 'entry': {
          const e = decodeEntry(value, name);
          if (e.index !== p.index) throw corruption(key, `entry index ${e.index} under the key of index ${p.index}`);
          const st = stateOf(p.groupId);
          if (!firstEntryKey.has(p.groupId)) {
            firstEntryKey.set(p.groupId, key);
            st.logFirst = p.index;
          } else if (p.index !== st.logLast + 1) {
            throw corruption(key, `log gap: entry ${p.index} follows entry ${st.logLast}`);
          }
          st.logLast = p.index;
          break;
        }
        case 'hardState':
          decodeHardState(value, name);
          stateOf(p.groupId);
          break;
        case 'snapshotMeta': {
          const m = decodeSnapshotMeta(value, name);
          const st = stateOf(p.groupId);
          st.snapshotIndex = m.index;
          st.snapshotTerm = m.term;
          break;
        }
        default:
          throw corruption(key, 'unexpected key in the raft state (r/) keyspace');
      }
    }
    for (const [g, st] of groups) {
      if (st.logLast < st.logFirst) {
        st.logFirst = st.snapshotIndex + 1;
        st.logLast = st.snapshotIndex;
      } else if (st.logFirst > st.snapshotIndex + 1) {
        throw corruption(
          firstEntryKey.get(g) as Buffer,
          `log gap: the log starts at ${st.logFirst} after a snapshot at ${st.snapshotIndex}`,
        );
      } else if (st.logLast <= st.snapshotIndex) {
        // Only entries covered by the snapshot remain: the log is empty.
        st.logFirst = st.snapshotIndex + 1;
        st.logLast = st.snapshotIndex;
      }
    }
    firstEntryKey = new Map();
    const shardRecords: number[] = [];
    for await (const [key, value] of this.level.iterator({ ...META_RANGE })) {
      records++;
      const name = formatKey(key);
      const p = parseKey(key);
      switch (p.kind) {
        case 'applied':
          decodeIndex(value, name);
          break;
        case 'installMarker':
          decodeInstallMarker(value, name);
          break;
        case 'shardRecord':
          decodeShardRecord(value, name);
          shardRecords.push(p.groupId);
          break;
        case 'session':
          decodeSessionRecord(value, name);
          break;
        default:
          throw corruption(key, 'unexpected key in the metadata (m/) keyspace');
      }
    }
    this.groups.clear();
    for (const [g, st] of groups) this.groups.set(g, st);
    this.shardRecordGroups = shardRecords;
    return { records, groups: this.listGroupsNow() };
  }

  /** Groups with any durable Raft state, ascending. */
  async listGroups(): Promise<number[]> {
    return this.listGroupsNow();
  }

  /**
   * Groups that had a shard record (m/<g>/shard) when the store was verified, ascending: KV groups a split
   * touched, including a right-hand group whose Raft state a crash kept from being written (the host
   * initialises it, node/split-groups.ts).
   */
  groupsWithShardRecord(): readonly number[] {
    return this.shardRecordGroups;
  }

  private listGroupsNow(): number[] {
    return [...this.groups.keys()].sort((a, b) => a - b);
  }

  /**
   * The durable state of a group, or null if it has none. `entries` are those after the snapshot (or from
   * index 1), contiguous. `applied` is m/<g>/applied as stored (0 if absent); when a snapshot install is
   * pending it is raised by StateMachine.open, so open the state machine before reading `applied` here.
   */
  async loadGroup(groupId: number): Promise<GroupDurableState | null> {
    const st = this.groups.get(groupId);
    const appliedBuf = await this.level.get(appliedKey(groupId));
    const applied = appliedBuf === undefined ? 0 : decodeIndex(appliedBuf, formatKey(appliedKey(groupId)));
    if (st === undefined && appliedBuf === undefined) return null;
    const hsBuf = await this.level.get(hardStateKey(groupId));
    const hardState =
      hsBuf === undefined ? { term: 0, vote: 0, commit: 0 } : decodeHardState(hsBuf, formatKey(hardStateKey(groupId)));
    const snapBuf = await this.level.get(snapshotMetaKey(groupId));
    const snapshot = snapBuf === undefined ? null : decodeSnapshotMeta(snapBuf, formatKey(snapshotMetaKey(groupId)));
    const entries: Entry[] = [];
    let expected = (snapshot?.index ?? 0) + 1;
    for await (const [key, value] of this.level.iterator({
      gte: entryKey(groupId, expected),
      lte: entryKey(groupId, INDEX_MAX),
    })) {
      const e = decodeEntry(value, formatKey(key));
      if (e.index !== expected) throw corruption(key, `log gap: expected entry ${expected}, found ${e.index}`);
      entries.push(e);
      expected++;
    }
    return { hardState, snapshot, entries, applied };
  }

  /** Persists the Ready of several groups in ONE batch with sync: true. At most one write per group. */
  persist(writes: readonly GroupWrite[]): Promise<void> {
    return this.serialize(() => this.persistNow(writes));
  }

  private async persistNow(writes: readonly GroupWrite[]): Promise<void> {
    const ops: BatchOp[] = [];
    const next = new Map<number, GroupLogState>();
    for (const w of writes) {
      assert(!next.has(w.groupId), () => `persist: two writes for group ${w.groupId} in one batch`);
      const st: GroupLogState = {
        ...(this.groups.get(w.groupId) ?? { snapshotIndex: 0, snapshotTerm: 0, logFirst: 1, logLast: 0 }),
      };
      const g = w.groupId;
      if (w.hardState !== null) ops.push({ type: 'put', key: hardStateKey(g), value: encodeHardState(w.hardState) });
      if (w.snapshot !== null) {
        const m = w.snapshot;
        assert(
          m.index >= st.snapshotIndex,
          () => `persist: snapshot ${m.index} of group ${g} is older than the stored ${st.snapshotIndex}`,
        );
        let keepAfter = m.index === st.snapshotIndex && m.term === st.snapshotTerm;
        if (m.index >= st.logFirst && m.index <= st.logLast) {
          const key = entryKey(g, m.index);
          const buf = await this.level.get(key);
          assert(buf !== undefined, () => `persist: entry ${formatKey(key)} missing from the stored log`);
          keepAfter = decodeEntry(buf, formatKey(key)).term === m.term;
        }
        const deleteThrough = keepAfter ? Math.min(m.index, st.logLast) : st.logLast;
        for (let i = st.logFirst; i <= deleteThrough; i++) ops.push({ type: 'del', key: entryKey(g, i) });
        ops.push({ type: 'put', key: snapshotMetaKey(g), value: encodeSnapshotMeta(m) });
        if (w.installStagingId !== undefined && w.installStagingId !== null) {
          ops.push({
            type: 'put',
            key: installMarkerKey(g),
            value: encodeInstallMarker({ stagingId: w.installStagingId, index: m.index, term: m.term }),
          });
        }
        st.snapshotIndex = m.index;
        st.snapshotTerm = m.term;
        if (keepAfter && st.logLast > m.index) {
          st.logFirst = m.index + 1;
        } else {
          st.logFirst = m.index + 1;
          st.logLast = m.index;
        }
      }
      if (w.entries.length > 0) {
        const first = (w.entries[0] as Entry).index;
        assert(
          first > st.snapshotIndex,
          () => `persist: entry ${first} of group ${g} is at or below the snapshot ${st.snapshotIndex}`,
        );
        assert(first <= st.logLast + 1, () => `persist: entry ${first} of group ${g} leaves a gap after ${st.logLast}`);
        let expected = first;
        for (const e of w.entries) {
          assert(e.index === expected, () => `persist: entries of group ${g} not contiguous at ${e.index}`);
          ops.push({ type: 'put', key: entryKey(g, e.index), value: encodeEntry(e) });
          expected++;
        }
        const last = expected - 1;
        for (let i = last + 1; i <= st.logLast; i++) ops.push({ type: 'del', key: entryKey(g, i) });
        st.logLast = last;
      }
      if (w.hardState !== null || w.snapshot !== null || w.entries.length > 0 || this.groups.has(g)) next.set(g, st);
    }
    if (ops.length > 0) await writeBatch(this.level, ops, true);
    for (const [g, st] of next) this.groups.set(g, st);
  }

  /**
   * Deletes the group's stored entries <= throughIndex. The snapshot meta covering throughIndex must have
   * been persisted first (persist with `snapshot`, index >= throughIndex), else this throws InvariantError:
   * the stored log must always start right after the stored snapshot.
   */
  compactLog(groupId: number, throughIndex: number): Promise<void> {
    return this.serialize(async () => {
      const st = this.groups.get(groupId);
      assert(
        st !== undefined && throughIndex <= st.snapshotIndex,
        () =>
          `compactLog(${groupId}, ${throughIndex}): persist a snapshot meta at or past ${throughIndex} first (stored: ${st?.snapshotIndex ?? 'none'})`,
      );
      if (throughIndex < st.logFirst) return;
      await this.level.clear({ gte: entryKey(groupId, 0), lte: entryKey(groupId, throughIndex) });
      st.logFirst = throughIndex + 1;
      if (st.logLast < throughIndex) st.logLast = throughIndex;
    });
  }

  /**
   * Destroys a group's durable state in ONE synced batch (node/replica-destroy.ts): every r/G and m/G record,
   * every key of `ranges` (the caller's: the user data of the replica's range, its snapshot staging, the meta
   * shard's c/G records), plus `extra` (its tombstone). Afterwards the group has no Raft state here
   * (listGroups, logBounds, groupsWithShardRecord no longer name it). Runs in the persist queue, so no write of
   * the group is in flight meanwhile. Resolves with the number of keys deleted.
   */
  destroyGroup(groupId: number, ranges: readonly { gte: Buffer; lt: Buffer }[], extra: BatchOp[]): Promise<number> {
    return this.serialize(async () => {
      const raft = raftGroupRange(groupId);
      const meta = { gte: Buffer.from(raft.gte), lt: Buffer.from(raft.lt) };
      meta.gte[0] = META_RANGE.gte[0] as number;
      meta.lt[0] = META_RANGE.gte[0] as number;
      const ops: BatchOp[] = [];
      for (const range of [raft, meta, ...ranges])
        for await (const key of this.level.keys({ gte: range.gte, lt: range.lt })) ops.push({ type: 'del', key });
      const deleted = ops.length;
      ops.push(...extra);
      await writeBatch(this.level, ops, true);
      this.groups.delete(groupId);
      this.shardRecordGroups = this.shardRecordGroups.filter((g) => g !== groupId);
      return deleted;
    });
  }

  /**
   * Writes node-local records (synced), in issue order with every other write of this store, destroyGroup's
   * batches among them: a record rewritten whole (the tombstone set) and also carried in a destroy's batch
   * must land in the order its values were made, or an older value could land last. `ops` is called when the
   * write runs, so it writes the record's value as of then.
   */
  writeLocal(ops: () => BatchOp[]): Promise<void> {
    return this.serialize(() => writeBatch(this.level, ops(), true));
  }

  /** The stored log bounds of a group (for tests, metrics and the compaction policy). */
  logBounds(groupId: number): { snapshotIndex: number; firstIndex: number; lastIndex: number } | null {
    const st = this.groups.get(groupId);
    return st === undefined
      ? null
      : { snapshotIndex: st.snapshotIndex, firstIndex: st.logFirst, lastIndex: st.logLast };
  }

  /** Waits for queued writes, then closes LevelDB. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue.catch(() => undefined);
    await this.level.close();
  }

  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new TesseraError('UNAVAILABLE', 'the node store is closed'));
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
