/**
 * The shards a node reports (Admin.ListShards / Admin.SplitShard, proto/admin.proto) in the SDK's public
 * shape, and as descriptors for the routing cache (shard-cache.ts).
 * Trust: a reply is hostile. Every field is checked (ids, epoch and counts are safe integers in range,
 * keys are bytes, start < end, replicas are distinct node ids); a malformed shard makes the whole reply
 * an INTERNAL error, never a half-understood routing entry. An empty `end` on the wire is +infinity (null).
 */
import { TesseraError, epochOf, isEpoch, isNodeId, isShardId, shardIdOf } from '../base';
import { makeDescriptor } from '../shard';
import type { ShardDescriptor } from '../shard';
import type { ShardInfo } from './types';

/** proto ShardInfo as proto-loader gives it (camelCase, uint64 as numbers, bytes as Buffers): end empty = +infinity. */
export type WireShardInfo = Omit<ShardInfo, 'end'> & { end: Buffer };

export interface WireListShards {
  nodeId: number;
  shards: WireShardInfo[];
}

export interface WireSplitShard {
  left: WireShardInfo | null;
  right: WireShardInfo | null;
}

/** Most shards accepted in one reply (a cluster holds far fewer per node). */
const SHARDS_PER_REPLY_MAX = 100_000;

function count(n: unknown): boolean {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

function malformed(what: string, why: string): TesseraError {
  return new TesseraError('INTERNAL', `${what}: the node sent a malformed shard (${why})`);
}

/** One wire shard in the public shape; throws INTERNAL when malformed. */
export function shardInfoOf(w: WireShardInfo | null | undefined, what: string): ShardInfo {
  if (w === null || w === undefined || typeof w !== 'object') throw malformed(what, 'missing');
  if (!isShardId(w.id)) throw malformed(what, `id ${String(w.id)}`);
  if (!isEpoch(w.epoch)) throw malformed(what, `epoch ${String(w.epoch)}`);
  if (!Buffer.isBuffer(w.start) || !Buffer.isBuffer(w.end)) throw malformed(what, 'keys are not bytes');
  if (!(w.leader === 0 || isNodeId(w.leader))) throw malformed(what, `leader ${String(w.leader)}`);
  if (!count(w.keys) || !count(w.bytes) || !count(w.applied)) throw malformed(what, 'counts');
  if (!Array.isArray(w.replicas)) throw malformed(what, 'replicas');
  const replicas = w.replicas.map((r) => ({ id: r.id, voter: r.voter === true }));
  const info: ShardInfo = {
    id: w.id,
    start: w.start,
    end: w.end.length === 0 ? null : w.end,
    epoch: w.epoch,
    replicas,
    leader: w.leader,
    keys: w.keys,
    bytes: w.bytes,
    applied: w.applied,
  };
  try {
    descriptorOf(info);
  } catch (e) {
    throw malformed(what, e instanceof Error ? e.message : String(e));
  }
  return info;
}

/** Every shard of a ListShards reply (ascending by start, as the node sends them); throws INTERNAL when malformed. */
export function shardListOf(w: WireListShards): ShardInfo[] {
  const shards = Array.isArray(w?.shards) ? w.shards : [];
  if (shards.length > SHARDS_PER_REPLY_MAX) throw malformed('ListShards', `${shards.length} shards`);
  return shards.map((s) => shardInfoOf(s, 'ListShards'));
}

/** The routing descriptor of a checked ShardInfo (throws INVALID_ARGUMENT when it breaks a descriptor rule). */
export function descriptorOf(info: ShardInfo): ShardDescriptor {
  return makeDescriptor({
    id: shardIdOf(info.id),
    epoch: epochOf(info.epoch),
    start: info.start,
    end: info.end,
    replicas: info.replicas.map((r) => {
      if (!isNodeId(r.id)) throw new RangeError(`replica id ${String(r.id)}`);
      return { node: r.id, role: r.voter ? ('voter' as const) : ('learner' as const) };
    }),
  });
}
