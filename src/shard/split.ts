/**
 * Split planning and the split of a descriptor (issue 10, "Split").
 *
 * `planSplit(shard, stats, limits)` decides whether a shard has grown past `splitMaxKeys` or
 * `splitMaxBytes` and, if so, at which key: the sample boundary that cuts the shard's weight (bytes when
 * the byte limit is passed, else keys) closest to half. Samples are buckets `{ key, keys, bytes }`: the
 * bucket starting at `key` holds about `keys` keys and `bytes` bytes (how a node collects them is its
 * business: every k-th key of a scan, SST properties...). The key returned is always strictly inside the
 * range, so both halves are non-empty ranges.
 *
 * `splitDescriptor(parent, key, rightId)`: the left half keeps the parent's id, the right half gets
 * `rightId`; both have the parent's replicas and epoch parent+1 (so each is newer than the parent for
 * ShardMap.apply). Defaults follow TiKV's region split size (96 MiB) and keys (960,000).
 */
import { TesseraError, epochOf } from '../base';
import type { ShardId } from '../base';
import { containsKey, describeShard, makeDescriptor } from './descriptor';
import type { ShardDescriptor } from './descriptor';
import { compareKeys, printableKey } from './key';
import type { Key } from './key';

export interface SplitLimits {
  readonly splitMaxKeys: number;
  readonly splitMaxBytes: number;
}

export const defaultSplitLimits: SplitLimits = Object.freeze({
  splitMaxKeys: 960_000,
  splitMaxBytes: 96 * 1024 * 1024,
});

export interface SplitSample {
  readonly key: Key;
  readonly keys: number;
  readonly bytes: number;
}

export interface ShardStats {
  readonly keys: number;
  readonly bytes: number;
  /** Buckets in any order; those outside the shard's range are ignored. */
  readonly samples: readonly SplitSample[];
}

export type SplitPlan =
  | { readonly kind: 'split'; readonly key: Key; readonly reason: string }
  | { readonly kind: 'none'; readonly reason: string };

const isCount = (n: unknown): boolean => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/** Throws TesseraError(INVALID_ARGUMENT) on negative, fractional or non-numeric statistics or limits. */
export function validateSplitInputs(stats: ShardStats, limits: SplitLimits): void {
  const bad = (what: string): never => {
    throw new TesseraError('INVALID_ARGUMENT', `split planning: ${what}`, { rule: 'bad-stats' });
  };
  if (!isCount(limits.splitMaxKeys) || limits.splitMaxKeys < 1) bad(`splitMaxKeys ${limits.splitMaxKeys}`);
  if (!isCount(limits.splitMaxBytes) || limits.splitMaxBytes < 1) bad(`splitMaxBytes ${limits.splitMaxBytes}`);
  if (!isCount(stats.keys) || !isCount(stats.bytes)) bad(`keys ${stats.keys} / bytes ${stats.bytes}`);
  for (const s of stats.samples)
    if (!(s.key instanceof Uint8Array) || !isCount(s.keys) || !isCount(s.bytes)) bad('a malformed sample');
}

export function planSplit(
  shard: ShardDescriptor,
  stats: ShardStats,
  limits: SplitLimits = defaultSplitLimits,
): SplitPlan {
  validateSplitInputs(stats, limits);
  const overBytes = stats.bytes > limits.splitMaxBytes;
  const overKeys = stats.keys > limits.splitMaxKeys;
  if (!overBytes && !overKeys)
    return { kind: 'none', reason: `within limits (${stats.keys} keys, ${stats.bytes} bytes)` };
  const weight = (s: SplitSample): number => (overBytes ? s.bytes : s.keys);
  const samples = stats.samples.filter((s) => containsKey(shard, s.key)).sort((a, b) => compareKeys(a.key, b.key));
  const total = samples.reduce((sum, s) => sum + weight(s), 0);
  let before = 0;
  let best: { key: Key; distance: number } | null = null;
  let previous: Key | null = null;
  for (const s of samples) {
    // A boundary at s.key puts the weight of the buckets before s on the left (the first of equal keys).
    const boundary = previous === null || compareKeys(previous, s.key) !== 0;
    if (boundary && compareKeys(s.key, shard.start) > 0) {
      const distance = Math.abs(2 * before - total);
      if (best === null || distance < best.distance) best = { key: s.key, distance };
    }
    before += weight(s);
    previous = s.key;
  }
  const why = overBytes
    ? `${stats.bytes} bytes > splitMaxBytes ${limits.splitMaxBytes}`
    : `${stats.keys} keys > splitMaxKeys ${limits.splitMaxKeys}`;
  if (best === null) return { kind: 'none', reason: `${why}, but no sampled key inside the range to split at` };
  return {
    kind: 'split',
    key: best.key,
    reason: `${describeShard(shard)}: ${why}; split at ${printableKey(best.key)}`,
  };
}

/** Both halves of `parent` cut at `key`; throws TesseraError(INVALID_ARGUMENT) for a key not strictly inside. */
export function splitDescriptor(
  parent: ShardDescriptor,
  key: Key,
  rightId: ShardId,
): { readonly left: ShardDescriptor; readonly right: ShardDescriptor } {
  const refuse = (message: string): never => {
    throw new TesseraError('INVALID_ARGUMENT', `split of ${describeShard(parent)}: ${message}`, {
      rule: 'bad-split',
      shard: parent.id,
    });
  };
  if (!(key instanceof Uint8Array)) refuse('the split key is not bytes');
  if (compareKeys(key, parent.start) <= 0) refuse(`key ${printableKey(key)} is not after the start`);
  if (!containsKey(parent, key)) refuse(`key ${printableKey(key)} is outside the range`);
  if (rightId === parent.id) refuse(`the right half needs a new id, not ${rightId}`);
  const epoch = epochOf(parent.epoch + 1);
  return {
    left: makeDescriptor({ ...parent, end: key, epoch }),
    right: makeDescriptor({ ...parent, id: rightId, start: key, epoch }),
  };
}
