/**
 * MetaStateMachine: the meta shard's replicated state machine (issue 10) on the node's LevelDB, a
 * GroupStateMachine<MetaResult> (src/group) like kv's StateMachine. Its state is small (descriptors and
 * the node registry), so it lives in memory (MetaState) and is written through to c/G/ records
 * (meta-keys.ts); reads are synchronous and see the state exactly at `applied`.
 *
 * How it will be wired (the lead's next step): NodeHost opens the meta group (META_SHARD_ID) with
 * MetaStateMachine.open beside the data groups' kv StateMachines and runs both through the ready loop
 * behind GroupStateMachine; proposals are encodeMetaCommand(...) and their waiters receive MetaResult
 * (refusalError turns a refusal into the typed error for the caller). Bootstrap: the first meta leader of
 * a fresh --peers cluster proposes `bootstrap` (a duplicate is refused as already-bootstrapped); --join
 * nodes propose `registerNode` through any node. The placement driver (src/placement) on the meta leader
 * keeps a LivenessTable (liveness.ts) fed by node heartbeats, reads clusterSnapshot(...) from this machine,
 * and records every split (after reserveShardIds) and replica change with the epoch it planned against.
 * A shard's Raft group id is its shard id (the meta group's is META_SHARD_ID; shard 1 keeps group 1 of the
 * single-group layout, so an upgraded node's data stays where it is). NodeStore.verify does not read c/
 * records (it refuses unknown m/ keys, which is why they are not under m/): open() decodes and checks
 * every one of them and refuses a damaged or incoherent state with CORRUPTION, naming the record.
 *
 * Invariants (beyond MetaState's):
 * - apply() writes the changed records and m/G/applied in ONE batch (no sync: the log is durable and
 *   replay is idempotent: entries at or below `applied` are skipped); the in-memory state and `applied`
 *   change only after that write, together. Deterministic: state + entries only (time from the commands).
 * - A committed entry that does not decode is a no-op ({ type: 'undecodable' }, the same everywhere),
 *   counted and reported, never a crash. A refused command changes nothing.
 * - apply, installStaged and openSnapshot never overlap (InvariantError); after a failed write every later
 *   call is refused (restart to recover). open() finishes an interrupted snapshot install first.
 */
import { createHash } from 'node:crypto';
import { TesseraError, assert, isTesseraError } from '../base';
import type { NodeId, ShardId } from '../base';
import {
  appliedKey,
  decodeIndex,
  decodeInstallMarker,
  encodeIndex,
  encodeInstallMarker,
  formatKey,
  installMarkerKey,
} from '../codec';
import type { GroupDigest, GroupStateMachine } from '../group';
import type { Entry, SnapshotMeta } from '../raft';
import type { ShardDescriptor, ShardMap } from '../shard';
import { writeBatch, type BatchOp, type NodeStore, type StoreDb } from '../storage';
import { decodeMetaCommand } from './command-codec';
import { StateLoader } from './load-state';
import { MetaState, newDirty, type Dirty } from './meta-state';
import { SUFFIX_CLUSTER, SUFFIX_META_GROUP, metaKey, metaRange, nodeSuffix, shardSuffix, suffixOf } from './meta-keys';
import { encodeCluster, encodeDescriptor, encodeNode } from './records';
import { META_CHUNK_BYTES_DEFAULT } from './snapshot-chunk';
import { MetaSnapshotReader } from './snapshot-reader';
import { MetaSnapshotStaging, discardAllStaging, runMetaInstall } from './snapshot-staging';
import type { ClusterRecord, MetaResult, NodeRecord } from './types';

export interface MetaStateMachineOptions {
  /** Called (synchronously, while applying) for every committed entry that is not a meta command. */
  onUndecodable?: (info: { groupId: number; index: number; message: string }) => void;
}

/** The records `dirty` names, as LevelDB writes (a shard or node no longer present is deleted). */
function dirtyOps(groupId: number, state: MetaState, dirty: Dirty): BatchOp[] {
  const ops: BatchOp[] = [];
  const put = (suffix: Buffer, value: Buffer): void =>
    void ops.push({ type: 'put', key: metaKey(groupId, suffix), value });
  if (dirty.cluster && state.cluster) put(SUFFIX_CLUSTER, encodeCluster(state.cluster));
  if (dirty.metaGroup && state.metaGroup) put(SUFFIX_META_GROUP, encodeDescriptor(state.metaGroup));
  for (const id of dirty.shards) {
    const d = state.shards?.get(id);
    if (d) put(shardSuffix(id), encodeDescriptor(d));
    else ops.push({ type: 'del', key: metaKey(groupId, shardSuffix(id)) });
  }
  for (const id of dirty.nodes) {
    const n = state.nodes.get(id);
    if (n) put(nodeSuffix(id), encodeNode(n));
    else ops.push({ type: 'del', key: metaKey(groupId, nodeSuffix(id)) });
  }
  return ops;
}

export class MetaStateMachine implements GroupStateMachine<MetaResult> {
  private busy: string | null = null;
  private failure: unknown = null;
  private undecodable = 0;
  private readonly staging: MetaSnapshotStaging;

  private constructor(
    private readonly db: StoreDb,
    readonly groupId: number,
    private state: MetaState,
    private appliedIndex: number,
    private readonly opts: MetaStateMachineOptions,
  ) {
    this.staging = new MetaSnapshotStaging(db, groupId);
  }

  /** Finishes an interrupted snapshot install, then loads and checks every c/G/ record (CORRUPTION if bad). */
  static async open(store: NodeStore, groupId: number, opts: MetaStateMachineOptions = {}): Promise<MetaStateMachine> {
    const db = store.db;
    const markerBuf = await db.get(installMarkerKey(groupId));
    if (markerBuf !== undefined) {
      const marker = decodeInstallMarker(markerBuf, formatKey(installMarkerKey(groupId)));
      await runMetaInstall(db, groupId, marker.stagingId, marker.index);
    } else {
      await discardAllStaging(db, groupId);
    }
    const applied = await MetaStateMachine.loadApplied(db, groupId);
    const state = await MetaStateMachine.loadState(db, groupId);
    return new MetaStateMachine(db, groupId, state, applied, opts);
  }

  private static async loadApplied(db: StoreDb, groupId: number): Promise<number> {
    const buf = await db.get(appliedKey(groupId));
    return buf === undefined ? 0 : decodeIndex(buf, formatKey(appliedKey(groupId)));
  }

  private static async loadState(db: StoreDb, groupId: number): Promise<MetaState> {
    const loader = new StateLoader(`meta group ${groupId}`);
    for await (const [key, value] of db.iterator({ ...metaRange(groupId) })) loader.add(suffixOf(key), value);
    return loader.finish();
  }

  get applied(): number {
    return this.appliedIndex;
  }

  get undecodableEntries(): number {
    return this.undecodable;
  }

  // ---------------------------------------------------------------- reads (the state at `applied`)

  get clusterId(): string | null {
    return this.state.cluster?.clusterId ?? null;
  }

  get cluster(): ClusterRecord | null {
    return this.state.cluster;
  }

  /** The data shards (null before the bootstrap). */
  get shardMap(): ShardMap | null {
    return this.state.shards;
  }

  /** The meta group's own descriptor (its range is its own keyspace, never in the shard map). */
  get metaDescriptor(): ShardDescriptor | null {
    return this.state.metaGroup;
  }

  descriptor(id: ShardId): ShardDescriptor | undefined {
    return this.state.descriptor(id);
  }

  node(id: NodeId): NodeRecord | undefined {
    return this.state.nodes.get(id);
  }

  /** Every registry record (removed ones included), ascending id. */
  nodes(): NodeRecord[] {
    return [...this.state.nodes.values()].sort((a, b) => a.id - b.id);
  }

  // ---------------------------------------------------------------- apply

  async apply(
    entries: readonly Entry[],
    onResults?: (results: Map<number, MetaResult>) => void,
  ): Promise<Map<number, MetaResult>> {
    this.enter('apply');
    try {
      const results = new Map<number, MetaResult>();
      const next = this.state.clone();
      const dirty = newDirty();
      let applied = this.appliedIndex;
      for (const e of entries) {
        if (e.index <= applied) continue;
        assert(e.index === applied + 1, () => `meta group ${this.groupId}: applying entry ${e.index} after ${applied}`);
        if (e.kind === 'normal') results.set(e.index, this.applyEntry(next, e.data, e.index, dirty));
        applied = e.index;
      }
      if (applied === this.appliedIndex) {
        onResults?.(results);
        return results;
      }
      const ops = dirtyOps(this.groupId, next, dirty);
      ops.push({ type: 'put', key: appliedKey(this.groupId), value: encodeIndex(applied) });
      const written = writeBatch(this.db, ops, false);
      onResults?.(results);
      await written;
      this.state = next;
      this.appliedIndex = applied;
      return results;
    } catch (e) {
      this.failure = e;
      throw e;
    } finally {
      this.busy = null;
    }
  }

  private applyEntry(state: MetaState, data: Uint8Array, index: number, dirty: Dirty): MetaResult {
    try {
      return state.apply(decodeMetaCommand(data), dirty);
    } catch (e) {
      if (!isTesseraError(e) || e.code !== 'CORRUPTION') throw e;
      this.undecodable++;
      this.opts.onUndecodable?.({ groupId: this.groupId, index, message: e.message });
      return { type: 'undecodable', message: e.message };
    }
  }

  // ---------------------------------------------------------------- snapshots and digest

  openSnapshot(opts: { chunkBytes?: number } = {}): MetaSnapshotReader {
    this.checkUsable();
    assert(this.busy === null, () => `meta group ${this.groupId}: openSnapshot during ${this.busy}`);
    const chunkBytes = opts.chunkBytes ?? META_CHUNK_BYTES_DEFAULT;
    return new MetaSnapshotReader(this.db, this.db.snapshot(), this.groupId, this.appliedIndex, chunkBytes);
  }

  async beginSnapshotStaging(snapshotId: string): Promise<void> {
    this.checkUsable();
    await this.staging.begin(snapshotId);
  }

  async stageChunk(snapshotId: string, chunk: Uint8Array): Promise<{ done: boolean; applied: number }> {
    this.checkUsable();
    return this.staging.stage(snapshotId, chunk);
  }

  /** Replaces the state with the staged snapshot at meta.index (crash-safe through the install marker). */
  async installStaged(snapshotId: string, meta: SnapshotMeta): Promise<void> {
    this.checkUsable();
    const staged = this.staging.completed(snapshotId);
    if (staged.applied !== meta.index)
      throw new TesseraError(
        'INVALID_ARGUMENT',
        `staged meta snapshot ${snapshotId} is of ${staged.applied}, not ${meta.index}`,
      );
    this.enter('installStaged');
    try {
      const markerKey = installMarkerKey(this.groupId);
      const existing = await this.db.get(markerKey);
      if (existing === undefined) {
        const marker = encodeInstallMarker({ stagingId: snapshotId, index: meta.index, term: meta.term });
        await this.db.put(markerKey, marker, { sync: true });
      } else {
        const m = decodeInstallMarker(existing, formatKey(markerKey));
        assert(
          m.stagingId === snapshotId && m.index === meta.index,
          () => `meta install marker ${m.stagingId}@${m.index}`,
        );
      }
      await runMetaInstall(this.db, this.groupId, snapshotId, meta.index);
      this.staging.forget();
      this.appliedIndex = await MetaStateMachine.loadApplied(this.db, this.groupId);
      this.state = await MetaStateMachine.loadState(this.db, this.groupId);
    } catch (e) {
      this.failure = e;
      throw e;
    } finally {
      this.busy = null;
    }
  }

  async discardStaged(snapshotId: string): Promise<void> {
    this.checkUsable();
    await this.staging.discard(snapshotId);
  }

  /**
   * SHA-256 over the stored c/G/ records (suffix and record, length-prefixed, in key order) and the applied
   * index, from one LevelDB snapshot (the applied index is written in the same batch as the records).
   */
  async digest(): Promise<GroupDigest> {
    this.checkUsable();
    const snapshot = this.db.snapshot();
    try {
      const appliedBuf = await this.db.get(appliedKey(this.groupId), { snapshot });
      const appliedIndex = appliedBuf === undefined ? 0 : decodeIndex(appliedBuf, formatKey(appliedKey(this.groupId)));
      const hash = createHash('sha256');
      const check = new StateLoader(`meta group ${this.groupId} digest`);
      let keyCount = 0;
      const len = (n: number): Buffer => Buffer.from([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
      for await (const [key, value] of this.db.iterator({ ...metaRange(this.groupId), snapshot })) {
        const suffix = suffixOf(key);
        check.add(suffix, value);
        hash.update(len(suffix.length)).update(suffix).update(len(value.length)).update(value);
        keyCount++;
      }
      check.finish();
      return { groupId: this.groupId, appliedIndex, keyCount, sha256: hash.digest('hex') };
    } finally {
      await snapshot.close();
    }
  }

  private enter(what: string): void {
    this.checkUsable();
    assert(this.busy === null, () => `meta group ${this.groupId}: ${what} while ${this.busy} is running`);
    this.busy = what;
  }

  private checkUsable(): void {
    if (this.failure !== null)
      throw new TesseraError(
        'INTERNAL',
        `meta group ${this.groupId}'s state machine failed earlier; restart the node`,
        {},
        {
          cause: this.failure,
        },
      );
  }
}
