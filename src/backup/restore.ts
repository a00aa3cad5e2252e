/**
 * `tessera restore FILE --id N --peers ID=HOST:PORT,... --data-dir DIR [--cluster-token T]`: seeds the data
 * dir of one node of a NEW cluster from a backup (run it once per node with the same FILE and --peers,
 * like `etcdutl snapshot restore`); then `tessera start --id N --peers ... --data-dir DIR` on every node.
 *
 * Layout (this version): every key of the backup goes to the bootstrap layout, the one data shard
 * (group 1) over the whole keyspace; the meta shard bootstraps itself on first start as in any new
 * cluster, and auto-split (--split-max-keys / --split-max-bytes) or `tessera shard split` re-splits it.
 * The backup's shard boundaries are printed so an operator can split at them again.
 *
 * What a node's seeded data dir holds (the same on every node, so all start with identical state at the
 * same applied index): the user data (d/ value records, verbatim from the backup, CRC-checked), group 1's
 * Raft state as after a snapshot at RESTORE_INDEX (snapshot meta with every --peers node a voter, hard
 * state term RESTORE_TERM and commit RESTORE_INDEX, applied RESTORE_INDEX, an empty log), and the node's
 * identity (node id, the new cluster id, --peers as its bootstrap membership). Client sessions of the
 * old cluster are not restored (clients open new ones).
 *
 * The new cluster id: from --cluster-token when given (every node must then start with that token), else
 * derived from the backup's checksum and --peers (the same on every node, never the old cluster's). A
 * token that gives the backed-up cluster's id is refused: the restored cluster must not be taken for the
 * old one by its peers.
 *
 * Safety: the file's checksum and structure are verified before anything is written; the data dir must be
 * empty or absent; the LevelDB is built in DIR/db.restoring and renamed to DIR/db only once complete and
 * synced (then opened as a node would, which verifies every Raft record), so a failed restore leaves the
 * data dir as it found it (a directory it created is removed again).
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Level } from 'level';
import { TesseraError, type NodeId } from '../base';
import {
  appliedKey,
  dataKey,
  encodeHardState,
  encodeIndex,
  encodeSnapshotMeta,
  hardStateKey,
  snapshotMetaKey,
} from '../codec';
import { WHOLE_KEYSPACE_GROUP } from '../node';
import { NodeStore, deriveClusterId, saveIdentity, writeBatch, type BatchOp, type StoreDb } from '../storage';
import { scanBackup, verifyBackup, type VerifiedBackup } from './backup-reader';
import type { BackupShard } from './format';

/** The Raft position of the seeded data shard on every node. */
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

export interface RestoreReport {
  clusterId: string;
  /** The backed-up cluster's id, from the file's header. */
  sourceClusterId: string;
  keys: number;
  /** The backup's shards (their boundaries: where to split again to get the old layout back). */
  shards: BackupShard[];
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
  const staging = join(o.dataDir, 'db.restoring');
  await mkdir(staging, { recursive: true });
  try {
    const keys = await seed(staging, o, verified, clusterId);
    await rename(staging, join(o.dataDir, 'db'));
    // Opened as a node opens it: every Raft and metadata record verified.
    const store = await NodeStore.open(o.dataDir);
    await store.close();
    return {
      clusterId,
      sourceClusterId: verified.header.clusterId,
      keys,
      shards: verified.header.shards,
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

/** Writes the seeded LevelDB at `path`; resolves with the number of keys. */
async function seed(path: string, o: RestoreOptions, verified: VerifiedBackup, clusterId: string): Promise<number> {
  const db: StoreDb = new Level<Buffer, Buffer>(path, { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  await db.open();
  try {
    let ops: BatchOp[] = [];
    let bytes = 0;
    let keys = 0;
    await scanBackup(o.file, verified.header, async (_shard, chunk) => {
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
    const voters = [...o.peers.keys()].sort((a, b) => a - b);
    const g = WHOLE_KEYSPACE_GROUP;
    ops.push(
      {
        type: 'put',
        key: hardStateKey(g),
        value: encodeHardState({ term: RESTORE_TERM, vote: 0, commit: RESTORE_INDEX }),
      },
      {
        type: 'put',
        key: snapshotMetaKey(g),
        value: encodeSnapshotMeta({
          index: RESTORE_INDEX,
          term: RESTORE_TERM,
          config: { voters, learners: [], votersOutgoing: [] },
        }),
      },
      { type: 'put', key: appliedKey(g), value: encodeIndex(RESTORE_INDEX) },
    );
    await writeBatch(db, ops, true);
    const bootstrapPeers = [...o.peers.entries()].sort((a, b) => a[0] - b[0]);
    await saveIdentity(db, { nodeId: o.nodeId, clusterId, bootstrapPeers });
    return keys;
  } finally {
    await db.close();
  }
}
