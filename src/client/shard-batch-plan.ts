/**
 * Routing a request's keys by shard from the ShardCache (issue 10, "Routing"): `groupKeysByShard` sorts
 * the keys of many independent requests (a coalesced Multi) by owning shard; `planBatch` decides where an
 * atomic batch goes. A batch (and compareAndSwap) is atomic within one shard only: a batch whose keys span
 * shards is refused with INVALID_ARGUMENT naming the shards (cross-shard transactions come later).
 * Why the cache may refuse on its own: until shards merge, a range is only ever cut (split), never joined,
 * so keys that two cached descriptors put in different shards are in different shards now, however old
 * those descriptors are. When merges come, a 'spans' verdict must be confirmed with fresh descriptors.
 * A key no cached descriptor owns is reported as missing: load its descriptor and plan again. Pure.
 */
import { TesseraError } from '../base';
import type { ShardId } from '../base';
import { compareKeys, describeShard } from '../shard';
import type { Key, ShardDescriptor } from '../shard';
import type { CachedShard, ShardCache } from './shard-cache';

export interface KeyGroup extends CachedShard {
  /** Indexes into the keys given, in their order. */
  readonly indexes: number[];
}

export interface KeyGrouping {
  /** In key order of the shards. */
  readonly groups: KeyGroup[];
  /** Indexes of keys no cached descriptor owns. */
  readonly missing: number[];
}

export type BatchRoute =
  /** No keys at all: any node may answer. */
  | { readonly kind: 'any' }
  | ({ readonly kind: 'one' } & CachedShard)
  /** Some keys have no cached owner (and the known ones are all in one shard): load these, plan again. */
  | { readonly kind: 'miss'; readonly keys: readonly Key[] }
  /** The keys span these shards (key order): refuse with crossShardBatchError. */
  | { readonly kind: 'spans'; readonly shards: readonly ShardDescriptor[] };

export function groupKeysByShard(cache: ShardCache, keys: readonly Key[]): KeyGrouping {
  const byId = new Map<ShardId, KeyGroup>();
  const missing: number[] = [];
  keys.forEach((key, i) => {
    const hit = cache.locate(key);
    if (hit.kind === 'miss') return void missing.push(i);
    const group = byId.get(hit.descriptor.id);
    if (group !== undefined) group.indexes.push(i);
    else byId.set(hit.descriptor.id, { descriptor: hit.descriptor, leader: hit.leader, indexes: [i] });
  });
  const groups = [...byId.values()].sort((a, b) => compareKeys(a.descriptor.start, b.descriptor.start));
  return { groups, missing };
}

/** Where an atomic batch over `keys` (its compares' and ops' keys) goes. */
export function planBatch(cache: ShardCache, keys: readonly Key[]): BatchRoute {
  if (keys.length === 0) return { kind: 'any' };
  const { groups, missing } = groupKeysByShard(cache, keys);
  if (groups.length > 1) return { kind: 'spans', shards: groups.map((g) => g.descriptor) };
  if (missing.length > 0) return { kind: 'miss', keys: missing.map((i) => keys[i] as Key) };
  const only = groups[0] as KeyGroup;
  return { kind: 'one', descriptor: only.descriptor, leader: only.leader };
}

/** The INVALID_ARGUMENT for a batch whose keys span `shards`: names them (ids in details.shards). */
export function crossShardBatchError(shards: readonly ShardDescriptor[]): TesseraError {
  const named = shards.map(describeShard).join('; ');
  return new TesseraError(
    'INVALID_ARGUMENT',
    `batch: its keys span ${shards.length} shards (${named}); a batch is atomic within one shard only ` +
      '(cross-shard transactions are not supported yet)',
    { limit: 'shards', rule: 'cross-shard-batch', shards: shards.map((d) => d.id) },
  );
}
