/**
 * The `--shards N` hint (issue 10): before the workload starts, the workload's keyspace is cut into about N
 * shards by Admin.SplitShard at N - 1 distinct seeded keys of the workload (split-keys.ts), so the register
 * and set keys spread over many shards (and many Raft groups) from the first operation on.
 *
 * Invariants: the keys are a function of the rng state (pure); at most N - 1 splits, one after the other,
 * each a bounded splitAt (split.ts); a split that does not happen is reported, never fatal (the run goes
 * on with fewer shards); fewer distinct keys than asked (a small key space) give fewer shards.
 */
import type { Random } from '../../src/base';
import { describeSplit, splitAt, type SplitCluster } from './split';
import type { SplitKeyPicker } from './split-keys';

/** Upper bound of --shards. */
export const shardsMax = 64;

/** N - 1 distinct split keys drawn with `pick`, ascending (fewer when the picker has fewer to give). */
export function preSplitKeys(pick: SplitKeyPicker, shards: number, rng: Random): string[] {
  const want = Math.max(0, Math.min(shards, shardsMax) - 1);
  const keys = new Set<string>();
  for (let tries = 0; keys.size < want && tries < want * 50; tries++) keys.add(pick(rng));
  return [...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

export interface PreSplitReport {
  /** Splits that happened: their nemesis.jsonl description. */
  done: string[];
  /** Splits that did not: why. */
  failed: string[];
}

/** Splits at each key in turn; resolves to what happened (never rejects). */
export async function preSplit(c: SplitCluster, keys: readonly string[], rng: Random): Promise<PreSplitReport> {
  const out: PreSplitReport = { done: [], failed: [] };
  for (const k of keys) {
    const key = Buffer.from(k);
    try {
      out.done.push(describeSplit(key, await splitAt(c, key, rng)));
    } catch (e) {
      out.failed.push(e instanceof Error ? e.message : String(e));
    }
  }
  return out;
}
