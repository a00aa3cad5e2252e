/**
 * Identifiers. Node ids and group ids are positive integers; 0 means "none" (no leader, no vote).
 * Shard ids and epochs are branded numbers (issue 10): a ShardId or Epoch cannot be passed where the other,
 * or a plain count, is expected; make them only through `shardIdOf` / `epochOf`, which check the range.
 */
export type NodeId = number;
export type GroupId = number;
export const NO_NODE: NodeId = 0;

declare const idBrand: unique symbol;
/** A shard (a range of the user keyspace and its replica group): a positive 32-bit integer. */
export type ShardId = number & { readonly [idBrand]: 'ShardId' };
/** A descriptor's version: bumped by every change of its range or replicas; a non-negative safe integer. */
export type Epoch = number & { readonly [idBrand]: 'Epoch' };

export function isNodeId(n: unknown): n is NodeId {
  return typeof n === 'number' && Number.isInteger(n) && n > 0 && n <= 0xffff_ffff;
}

export function isShardId(n: unknown): n is ShardId {
  return typeof n === 'number' && Number.isInteger(n) && n > 0 && n <= 0xffff_ffff;
}

export function isEpoch(n: unknown): n is Epoch {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

/** `n` as a ShardId; throws RangeError when it is not a positive 32-bit integer. */
export function shardIdOf(n: number): ShardId {
  if (!isShardId(n)) throw new RangeError(`not a shard id: ${n}`);
  return n;
}

/** `n` as an Epoch; throws RangeError when it is not a non-negative safe integer. */
export function epochOf(n: number): Epoch {
  if (!isEpoch(n)) throw new RangeError(`not an epoch: ${n}`);
  return n;
}
