/**
 * Where the split nemesis cuts (pure, seeded): at keys of the run's workload, so that its keys spread over
 * more and more shards. Register: its keys `jl/r/k<n>` (the keys in use and the fresh ones that replace
 * retired keys); set: element keys `jl/s/<9 digits>` among those the run is expected to add; bank: never
 * inside the accounts' range (a transfer is one batch, and a batch stays within one shard), only at its
 * start or after it.
 *
 * Invariants: every key is under the workload prefix `jl/`; the same rng state gives the same key.
 */
import type { Random } from '../../src/base';
import { keyPrefix, type WorkloadName } from '../workload/workload';

export interface SplitKeySource {
  workload: WorkloadName;
  /** Register: keys in use at a time. */
  keys: number;
  /** About how many writes the run makes (set: the elements it adds). */
  writesExpected: number;
}

export type SplitKeyPicker = (rng: Random) => string;

export function splitKeyPicker(o: SplitKeySource): SplitKeyPicker {
  switch (o.workload) {
    case 'register':
      return (rng) => `${keyPrefix}r/k${rng.int(0, 4 * Math.max(1, o.keys) - 1)}`;
    case 'set':
      return (rng) => `${keyPrefix}s/${String(rng.int(0, Math.max(1, o.writesExpected))).padStart(9, '0')}`;
    case 'bank':
      return (rng) => (rng.chance(0.25) ? `${keyPrefix}b/` : `${keyPrefix}c/${rng.int(0, 99)}`);
  }
}

/** Without a workload given: register keys at the default key count. */
export const defaultSplitKeyPicker: SplitKeyPicker = splitKeyPicker({
  workload: 'register',
  keys: 8,
  writesExpected: 0,
});
