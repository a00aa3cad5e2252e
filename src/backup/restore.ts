/**
 * `tessera restore FILE --id N --peers ID=HOST:PORT,... --data-dir DIR [--cluster-token T]`: seeds the data
 * dir of one node of a NEW cluster from a backup (run it once per node with the same FILE and --peers,
 * like `etcdutl snapshot restore`); then `tessera start --id N --peers ... --data-dir DIR` on every node.
 *
 * The shard layout is kept: the restored cluster has the backup's shards (the same ranges, in key order;
 * shard 1 first, then new ids 3, 4, ... as this cluster's meta shard hands them out), each replicated on
 * every --peers node. What a node's seeded data dir holds, the same on every node (so all start with
 * identical state at the same applied index):
 * - the meta shard (group 2) as the real commands make it (seedMeta: `bootstrap` with the new cluster id
 *   and the --peers nodes, then `reserveShardIds` and `split` at each boundary of the backup, applied by
 *   the meta state machine itself), at applied index = the number of those commands;
 * - every data shard G: its range and epoch (m/G/shard, the same epoch as its meta descriptor) and its
 *   Raft state as right after a snapshot at RESTORE_INDEX (snapshot meta with every --peers node a voter,
 *   hard state term RESTORE_TERM and commit RESTORE_INDEX, applied RESTORE_INDEX, an empty log);
 * - the user data (d/ value records, verbatim from the backup, CRC-checked);
 * - the node's identity (node id, the new cluster id, --peers as its bootstrap membership).
 * Client sessions of the old cluster are not restored (clients open new ones).
 *
 * The new cluster id: from --cluster-token when given (every node must then start with that token), else
 * derived from the backup's checksum and --peers (the same on every node, never the old cluster's). A
 * token that gives the backed-up cluster's id is refused: the restored cluster must not be taken for the
 * old one by its peers.
 *
 * Safety: the file's checksum and structure are verified before anything is written; the data dir must be
 * empty or absent; the store is built in DIR/restoring/db and renamed to DIR/db only once complete and
 * synced (then opened as a node would, which verifies every Raft record and the meta shard's state), so a
 * failed restore leaves the data dir as it found it (a directory it created is removed again).
 */
import { createHash } from 'node:crypto';
import { readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TesseraError, type NodeId } from '../base';
import {
  appliedKey,
  dataKey,
  encodeHardState,
  encodeIndex,
  encodeShardRecord,
  encodeSnapshotMeta,
  hardStateKey,
  shardRecordKey,
  snapshotMetaKey,
} from '../codec';
import {
  FIRST_DATA_SHARD_ID,
  META_SHARD_ID,
  MetaStateMachine,
  encodeMetaCommand,
  type MetaCommand,
  type MetaResult,
} from '../meta';
import type { Entry } from '../raft';
import type { ShardDescriptor } from '../shard';
import { NodeStore, deriveClusterId, saveIdentity, writeBatch, type BatchOp, type StoreDb } from '../storage';
import { scanBackup, verifyBackup, type VerifiedBackup } from './backup-reader';
import type { BackupHeader } from './format';

/** The Raft position of every seeded data shard on every node. */
export const RESTORE_INDEX = 1;
export const RESTORE_TERM = 1;
const BATCH_BYTES_MAX = 4 * 1024 * 1024;
const BATCH_OPS_MAX = 10_000;
const ITEM_DATA = 0;

export interface RestoreOptions {
  file: string;
  nodeId: NodeId;
  peers: ReadonlyMap<NodeId, string>;
  dataDir: string;
  clusterToken?: string | null;
}

/** A data shard of the restored cluster. */
export interface RestoredShard {
  id: number;
  start: Buffer;
  end: Buffer | null;
  epoch: number;
}

export interface RestoreReport {
  clusterId: string;
  /** The backed-up cluster's id, from the file's header. */
  sourceClusterId: string;
  keys: number;
  /** The restored cluster's shards (the backup's ranges, with this cluster's ids and epochs). */
  shards: RestoredShard[];
  index: number;
  sha256: string;
}

function refuse(message: string): never {
  throw new TesseraError('CONFIG', message);
}

/** The new cluster's id (see the header). */
export function restoredClusterId(
  token: string | null,
  peers: ReadonlyMap<NodeId, string>,
  backupSha256: Buffer,
): string {
  if (token !== null) return deriveClusterId(token, new Map());
  const members = [...peers.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([id, a]) => `${id}=${a}`)
    .join(',');
  const material = `tessera-restored-cluster\0${backupSha256.toString('hex')}\0${members}`;
  return createHash('sha256').update(material, 'utf8').digest('hex').slice(0, 32);
}

/** The data dir must be absent or an empty directory; resolves true when it exists. */
async function checkEmptyDataDir(dataDir: string): Promise<boolean> {
  const s = await stat(dataDir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return null;
    return refuse(`--data-dir ${dataDir}: cannot access it (${e.code ?? e.message})`);
  });
  if (s === null) return false;
  if (!s.isDirectory()) refuse(`--data-dir ${dataDir} exists and is not a directory`);
  const entries = await readdir(dataDir);
  if (entries.length > 0)
    refuse(
      `--data-dir ${dataDir} is not empty (${entries.length} entries, e.g. ${entries[0]}); restore seeds a new node: give it an empty or new directory`,
    );
  return true;
}

export async function restoreBackup(o: RestoreOptions): Promise<RestoreReport> {
  if (!o.peers.has(o.nodeId)) refuse(`--id ${o.nodeId} is not one of --peers (${[...o.peers.keys()].join(',')})`);
  const existed = await checkEmptyDataDir(o.dataDir);
  const verified = await verifyBackup(o.file);
  const clusterId = restoredClusterId(o.clusterToken ?? null, o.peers, verified.sha256);
  if (clusterId === verified.header.clusterId)
    refuse(
      `--cluster-token gives the backed-up cluster's id ${clusterId.slice(0, 8)}...; a restored cluster is a new cluster: give it a new token`,
    );
  const staging = join(o.dataDir, 'restoring');
  try {
    const { keys, shards } = await seed(staging, o, verified, clusterId);
    await rename(join(staging, 'db'), join(o.dataDir, 'db'));
    await rm(staging, { recursive: true, force: true });
    // Opened as a node opens it: every Raft and metadata record verified, the meta shard's state checked.
    const store = await NodeStore.open(o.dataDir);
    try {
      await MetaStateMachine.open(store, META_SHARD_ID);
    } finally {
      await store.close();
    }
    return {
      clusterId,
      sourceClusterId: verified.header.clusterId,
      keys,
      shards,
      index: RESTORE_INDEX,
      sha256: verified.sha256.toString('hex'),
    };
  } catch (e) {
    await rm(staging, { recursive: true, force: true });
    await rm(join(o.dataDir, 'db'), { recursive: true, force: true });
    if (!existed) await rm(o.dataDir, { recursive: true, force: true });
    throw e;
  }
}

/** Group `g`'s Raft state as right after a snapshot at `index` (term RESTORE_TERM) with every --peers node a voter. */
function raftStateOps(g: number, index: number, voters: NodeId[]): BatchOp[] {
  return [
    { type: 'put', key: hardStateKey(g), value: encodeHardState({ term: RESTORE_TERM, vote: 0, commit: index }) },
    {
      type: 'put',
      key: snapshotMetaKey(g),
      value: encodeSnapshotMeta({ index, term: RESTORE_TERM, config: { voters, learners: [], votersOutgoing: [] } }),
    },
  ];
}

/**
 * The meta shard's state as the real commands make it: `bootstrap` (the cluster id, the --peers nodes,
 * the meta group and data shard 1 over the whole keyspace), then for each boundary of the backup, in key
 * order, `reserveShardIds` and `split` of the last shard there. Resolves with the data shards' descriptors
 * (ascending) once the meta state machine applied them (its records and applied index are in the store).
 */
async function seedMeta(
  store: NodeStore,
  o: RestoreOptions,
  header: BackupHeader,
  clusterId: string,
): Promise<{ applied: number; shards: RestoredShard[] }> {
  const sm = await MetaStateMachine.open(store, META_SHARD_ID);
  let index = 0;
  const run = async (command: MetaCommand): Promise<MetaResult> => {
    index++;
    const entry: Entry = { kind: 'normal', term: RESTORE_TERM, index, data: encodeMetaCommand(command) };
    const result = (await sm.apply([entry])).get(index) as MetaResult;
    if (result.type === 'refused')
      throw new TesseraError('INTERNAL', `restore: the meta shard refused ${command.type}: ${result.message}`);
    return result;
  };
  const nodes = [...o.peers.entries()].sort((a, b) => a[0] - b[0]).map(([id, address]) => ({ id, address }));
  const atMs = header.createdAtMs;
  await run({
    type: 'bootstrap',
    clusterId,
    nodes,
    metaShardId: META_SHARD_ID,
    dataShardId: FIRST_DATA_SHARD_ID,
    atMs,
  });
  let last = sm.descriptor(FIRST_DATA_SHARD_ID) as ShardDescriptor;
  for (const s of header.shards.slice(1)) {
    const reserved = await run({ type: 'reserveShardIds', count: 1 });
    if (reserved.type !== 'shardIdsReserved')
      throw new TesseraError('INTERNAL', `restore: reserveShardIds gave ${reserved.type}`);
    const split = await run({
      type: 'split',
      shard: last.id,
      epoch: last.epoch,
      key: s.start,
      rightId: reserved.first,
    });
    if (split.type !== 'split') throw new TesseraError('INTERNAL', `restore: split gave ${split.type}`);
    last = split.right;
  }
  const shards = (sm.shardMap?.descriptors() ?? []).map((d) => ({
    id: d.id as number,
    start: Buffer.from(d.start),
    end: d.end === null ? null : Buffer.from(d.end),
    epoch: d.epoch as number,
  }));
  return { applied: sm.applied, shards };
}

/** Writes the seeded node store under `dir` (dir/db); resolves with the keys written and the shards. */
async function seed(
  dir: string,
  o: RestoreOptions,
  verified: VerifiedBackup,
  clusterId: string,
): Promise<{ keys: number; shards: RestoredShard[] }> {
  const store = await NodeStore.open(dir);
  try {
    const db = store.db;
    const voters = [...o.peers.keys()].sort((a, b) => a - b);
    const meta = await seedMeta(store, o, verified.header, clusterId);
    const ops: BatchOp[] = raftStateOps(META_SHARD_ID, meta.applied, voters);
    for (const d of meta.shards) {
      ops.push(...raftStateOps(d.id, RESTORE_INDEX, voters));
      ops.push({ type: 'put', key: appliedKey(d.id), value: encodeIndex(RESTORE_INDEX) });
      ops.push({
        type: 'put',
        key: shardRecordKey(d.id),
        value: encodeShardRecord({ start: d.start, end: d.end, epoch: d.epoch }),
      });
    }
    const keys = await seedData(db, o.file, verified);
    await writeBatch(db, ops, true);
    const bootstrapPeers = [...o.peers.entries()].sort((a, b) => a[0] - b[0]);
    await saveIdentity(db, { nodeId: o.nodeId, clusterId, bootstrapPeers });
    const same = (a: Buffer | null, b: Buffer | null): boolean => (a === null || b === null ? a === b : a.equals(b));
    const backup = verified.header.shards;
    const kept =
      meta.shards.length === backup.length &&
      meta.shards.every((d, i) => same(d.start, backup[i]!.start) && same(d.end, backup[i]!.end));
    if (!kept) throw new TesseraError('INTERNAL', "restore: the seeded shards do not have the backup's ranges");
    return { keys, shards: meta.shards };
  } finally {
    await store.close();
  }
}

/** Writes every user key of the backup (value records verbatim) in bounded batches; resolves with the count. */
async function seedData(db: StoreDb, file: string, verified: VerifiedBackup): Promise<number> {
  let ops: BatchOp[] = [];
  let bytes = 0;
  let keys = 0;
  await scanBackup(file, verified.header, async (_shard, chunk) => {
    for (const it of chunk.items) {
      if (it.kind !== ITEM_DATA) continue;
      ops.push({ type: 'put', key: dataKey(it.key), value: Buffer.from(it.value) });
      bytes += it.key.length + it.value.length;
      keys++;
      if (ops.length >= BATCH_OPS_MAX || bytes >= BATCH_BYTES_MAX) {
        await writeBatch(db, ops, false);
        ops = [];
        bytes = 0;
      }
    }
  });
  if (ops.length > 0) await writeBatch(db, ops, false);
  return keys;
}
