/**
 * Where the meta shard keeps its state in the node's LevelDB: its own prefix `c/`, outside the user
 * keyspace (d/) and outside m/ (NodeStore.verify refuses unknown m/ keys; c/ records are checked by the
 * meta state machine when it opens). `G` is the meta group id, u32 big-endian, as in codec/keys.ts.
 *
 *   c/ G /k          the cluster record           [clusterId, nextShardId, bootstrappedAtMs|null]
 *   c/ G /g          the meta group's descriptor  [id, start, end|null, [[node, voter]...], epoch]
 *   c/ G /s S        data shard S (u32 BE)        same descriptor tuple
 *   c/ G /n N        node N (u32 BE)              [id, address, state, registeredAtMs|null, stateSinceMs|null]
 *
 * The applied index and the install marker use the shared m/G/applied and m/G/install keys (NodeStore
 * reads and writes them for every group); snapshot staging uses t/G/ (codec stagingPrefix) with items
 * under `c` + the item's suffix. An item's suffix (what follows `c/G/`) is what travels in snapshots.
 */
import { assert } from '../base';
import type { NodeId, ShardId } from '../base';

const SLASH = 0x2f;
const PREFIX = 'c'.charCodeAt(0);

export const SUFFIX_CLUSTER = Buffer.from('k');
export const SUFFIX_META_GROUP = Buffer.from('g');
const SHARD = 's'.charCodeAt(0);
const NODE = 'n'.charCodeAt(0);

export type MetaItem =
  | { readonly kind: 'cluster' }
  | { readonly kind: 'metaGroup' }
  | { readonly kind: 'shard'; readonly id: number }
  | { readonly kind: 'node'; readonly id: number };

function groupPrefix(groupId: number): Buffer {
  assert(Number.isInteger(groupId) && groupId >= 0 && groupId <= 0xffff_ffff, () => `group id ${groupId}`);
  const out = Buffer.alloc(7);
  out[0] = PREFIX;
  out[1] = SLASH;
  out.writeUInt32BE(groupId, 2);
  out[6] = SLASH;
  return out;
}

/** Every c/ key of the meta group `groupId`. */
export function metaRange(groupId: number): { gte: Buffer; lt: Buffer } {
  const gte = groupPrefix(groupId);
  const lt = Buffer.from(gte);
  lt[6] = SLASH + 1;
  return { gte, lt };
}

export function metaKey(groupId: number, suffix: Buffer): Buffer {
  return Buffer.concat([groupPrefix(groupId), suffix]);
}

/** The suffix of a c/G/ key (a view). */
export function suffixOf(key: Buffer): Buffer {
  return key.subarray(7);
}

function idSuffix(kind: number, id: number): Buffer {
  const out = Buffer.alloc(5);
  out[0] = kind;
  out.writeUInt32BE(id, 1);
  return out;
}

export const shardSuffix = (id: ShardId): Buffer => idSuffix(SHARD, id);
export const nodeSuffix = (id: NodeId): Buffer => idSuffix(NODE, id);

/** What an item suffix names, or null when it names nothing meta/ stores (hostile or damaged). */
export function parseSuffix(suffix: Buffer): MetaItem | null {
  if (suffix.equals(SUFFIX_CLUSTER)) return { kind: 'cluster' };
  if (suffix.equals(SUFFIX_META_GROUP)) return { kind: 'metaGroup' };
  if (suffix.length !== 5) return null;
  if (suffix[0] === SHARD) return { kind: 'shard', id: suffix.readUInt32BE(1) };
  if (suffix[0] === NODE) return { kind: 'node', id: suffix.readUInt32BE(1) };
  return null;
}

/** A readable name of a suffix for errors: `c/k`, `c/s/7`, `c/n/3`, else hex. */
export function formatSuffix(suffix: Buffer): string {
  const item = parseSuffix(suffix);
  if (item === null) return `c/0x${suffix.toString('hex')}`;
  if (item.kind === 'cluster') return 'c/k';
  if (item.kind === 'metaGroup') return 'c/g';
  return `c/${item.kind === 'shard' ? 's' : 'n'}/${item.id}`;
}
