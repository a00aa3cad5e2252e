/**
 * The `--shards N` hint (issue 10): before the workload starts, the workload's keyspace is cut into about N
 * shards by Admin.SplitShard at N - 1 distinct seeded keys of the workload (split-keys.ts), so the register
 * and set keys spread over many shards (and many Raft groups) from the first operation on.
 *
 * Invariants: the keys are a function of the rng state (pure); at most N - 1 splits, one after the other,
 * each a bounded splitAt (split.ts), tried again a few times while the refusal is transient (no leader yet:
 * the right-hand shard of the previous split is still electing); a split that does not happen is reported,
 * never fatal (the run goes on with fewer shards); fewer distinct keys than asked (a small key space) give
 * fewer shards.
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

/** A refusal worth another try: the shard has no leader yet (a right-hand group just created, a leadership
 * transfer of the placement driver) or did not answer in time. */
const transient = (message: string): boolean => /: (UNAVAILABLE|NO_ANSWER)\b/.test(message);

export interface PreSplitOptions {
  /** Tries per key while the refusal is transient. */
  attempts: number;
  /** Pause before the next try (times the try's number). */
  backoffMs: number;
}

export const defaultPreSplitOptions: PreSplitOptions = { attempts: 5, backoffMs: 250 };

/** Splits at each key in turn (transient refusals retried); resolves to what happened (never rejects). */
export async function preSplit(
  c: SplitCluster,
  keys: readonly string[],
  rng: Random,
  opts: PreSplitOptions = defaultPreSplitOptions,
): Promise<PreSplitReport> {
  const out: PreSplitReport = { done: [], failed: [] };
  for (const k of keys) {
    const key = Buffer.from(k);
    for (let attempt = 1; ; attempt++) {
      try {
        out.done.push(describeSplit(key, await splitAt(c, key, rng)));
        break;
      } catch (e) {
        const message = e instanceof Error ? e.message : String(e);
        if (attempt >= opts.attempts || !transient(message)) {
          out.failed.push(attempt > 1 ? `${message} (try ${attempt})` : message);
          break;
        }
        await new Promise((r) => setTimeout(r, opts.backoffMs * attempt));
      }
    }
  }
  return out;
}
