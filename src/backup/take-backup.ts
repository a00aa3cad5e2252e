/**
 * `tessera backup`: a consistent copy of every shard into one file (format.ts), while the cluster serves.
 *
 * The keyspace is walked in key order from "": the shard owning the cursor (from every reachable node's
 * ListShards, folded by id, highest epoch first) is copied from its leader (Admin.BackupShard: one read
 * index, one LevelDB snapshot; shard-stream.ts), then the cursor moves to the end of the range the copy
 * itself reports. So a split during the backup never loses or doubles a key: a shard copied after it
 * split reports its narrowed range, and the next step copies the right-hand shard. A copy whose range does
 * not start at the cursor (the listing was stale), a NOT_LEADER answer (followed to the named leader), or
 * a retryable failure retries after refreshing the listing, at most attemptsMax times per shard and within
 * the backup's deadline; a final error (e.g. DATA_LOSS of a damaged replica) fails the backup.
 *
 * Each shard is copied at its own read index (no cross-shard snapshot: like per-range backups of TiKV or
 * CockroachDB without MVCC, a write that spans shards is not atomic across them, and Tessera's batches are
 * atomic within one shard only). Every write acknowledged before the backup started is in the file.
 */
import { TesseraError, isTesseraError } from '../base';
import type { Client, ShardInfo } from '../client';
import { BackupWriter } from './backup-writer';
import type { BackupShard } from './format';
import { AdminStreams } from './shard-stream';

export interface TakeBackupOptions {
  /** Lists the shards and carries the backup streams (its TLS and login: Client.adminStream). */
  client: Client;
  out: string;
  /** Bytes per chunk asked from the nodes (0: the node's --snapshot-chunk-bytes). */
  chunkBytes?: number;
  /** The whole backup's budget (default one hour). */
  deadlineMs?: number;
  /** Attempts per shard before the backup fails (default 20). */
  attemptsMax?: number;
  /** Pause before a retry (default 200 ms). */
  retryDelayMs?: number;
  /** Called after each shard's copy was written (awaited before the next shard). */
  onShard?: (shard: BackupShard) => void | Promise<void>;
}

export interface BackupSummary {
  file: string;
  bytes: number;
  sha256: string;
  clusterId: string;
  createdAtMs: number;
  shards: BackupShard[];
}

interface ShardView {
  shards: ShardInfo[];
  addresses: Map<number, string>;
  endpoints: string[];
}

const NODES_ASKED_MAX = 256;

/** Every shard reachable nodes report (folded by id: highest epoch), and the addresses of the nodes. */
export async function shardView(client: Client, timeoutMs: number): Promise<ShardView> {
  const addresses = new Map<number, string>();
  const toAsk = new Set(client.endpoints());
  for (const s of await client.clusterStatus({ timeoutMs })) {
    if (!s.ok) continue;
    addresses.set(s.status.nodeId, s.endpoint);
    for (const g of s.status.groups)
      for (const m of g.members) {
        if (!addresses.has(m.id) && m.address !== '') addresses.set(m.id, m.address);
        if (m.address !== '') toAsk.add(m.address);
      }
  }
  const errors: unknown[] = [];
  const reports = await Promise.all(
    [...toAsk].slice(0, NODES_ASKED_MAX).map((endpoint) =>
      client.listShards({ endpoint, timeoutMs }).catch((e: unknown) => {
        errors.push(e);
        return [];
      }),
    ),
  );
  // No node listed anything: its refusal (UNAUTHENTICATED, PERMISSION_DENIED, UNAVAILABLE...) is the answer.
  if (errors.length === reports.length && errors.length > 0) throw errors[0];
  const byId = new Map<number, ShardInfo>();
  for (const report of reports)
    for (const s of report) {
      const known = byId.get(s.id);
      if (known === undefined || s.epoch > known.epoch || (s.epoch === known.epoch && known.leader === 0))
        byId.set(s.id, s);
    }
  const shards = [...byId.values()].sort((a, b) => Buffer.compare(a.start, b.start));
  return { shards, addresses, endpoints: [...toAsk] };
}

/** The listed shard owning `key` (the highest epoch among overlapping reports), or null. */
function ownerOf(shards: readonly ShardInfo[], key: Buffer): ShardInfo | null {
  let best: ShardInfo | null = null;
  for (const s of shards) {
    const inside = Buffer.compare(key, s.start) >= 0 && (s.end === null || Buffer.compare(key, s.end) < 0);
    if (inside && (best === null || s.epoch > best.epoch)) best = s;
  }
  return best;
}

/** Where to ask for a shard: its leader, else a replica, else any endpoint. */
function addressFor(view: ShardView, s: ShardInfo): string | null {
  const leader = view.addresses.get(s.leader);
  if (leader !== undefined) return leader;
  for (const r of s.replicas) {
    const a = view.addresses.get(r.id);
    if (a !== undefined) return a;
  }
  return view.endpoints[0] ?? null;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function takeBackup(o: TakeBackupOptions): Promise<BackupSummary> {
  const createdAtMs = Date.now();
  const deadline = createdAtMs + (o.deadlineMs ?? 60 * 60 * 1000);
  const writer = await BackupWriter.create(o.out);
  const streams = new AdminStreams(o.client);
  try {
    let clusterId = '';
    let cursor: Buffer | null = Buffer.alloc(0);
    let view = await shardView(o.client, Math.min(5000, deadline - Date.now()));
    while (cursor !== null) {
      const step = await copyOwner(o, streams, writer, cursor, view, deadline);
      view = step.view;
      if (clusterId === '') clusterId = step.clusterId;
      await o.onShard?.(step.shard);
      cursor = step.shard.end;
    }
    const { bytes, sha256 } = await writer.finish(clusterId, createdAtMs);
    return { file: o.out, bytes, sha256, clusterId, createdAtMs, shards: [...writer.completed] };
  } catch (e) {
    await writer.abort();
    throw e;
  }
}

/** Copies the shard owning `cursor` (retrying as the header says); resolves with its entry and the view. */
async function copyOwner(
  o: TakeBackupOptions,
  streams: AdminStreams,
  writer: BackupWriter,
  cursor: Buffer,
  first: ShardView,
  deadline: number,
): Promise<{ shard: BackupShard; clusterId: string; view: ShardView }> {
  let view = first;
  let hinted: string | null = null;
  let last = 'no attempt';
  const attemptsMax = o.attemptsMax ?? 20;
  for (let attempt = 0; attempt < attemptsMax && Date.now() < deadline; attempt++) {
    if (attempt > 0 && hinted === null) {
      await sleep(o.retryDelayMs ?? 200);
      try {
        view = await shardView(o.client, Math.max(1, Math.min(5000, deadline - Date.now())));
      } catch (e) {
        if (isTesseraError(e) && !e.retryable) throw e;
        last = `listing the shards: ${(e as Error).message}`;
        continue;
      }
    }
    const s = ownerOf(view.shards, cursor);
    const address = hinted ?? (s === null ? null : addressFor(view, s));
    hinted = null;
    if (s === null || address === null) {
      last = `no node reports the shard owning key 0x${cursor.toString('hex')}`;
      continue;
    }
    const r = await streams.copyShard(address, s.id, o.chunkBytes ?? 0, writer, cursor, deadline - Date.now());
    if (r.ok)
      return { shard: writer.completed[writer.completed.length - 1] as BackupShard, clusterId: r.clusterId, view };
    last = `shard ${s.id} at ${address}: ${r.failure.message}`;
    if (r.failure.kind === 'final')
      throw new TesseraError('INTERNAL', `backup of shard ${s.id} failed (${r.failure.code}): ${r.failure.message}`);
    if (r.failure.kind === 'notLeader') hinted = r.failure.leaderAddress;
  }
  throw new TesseraError('UNAVAILABLE', `backup: gave up on the shard owning key 0x${cursor.toString('hex')}: ${last}`);
}
