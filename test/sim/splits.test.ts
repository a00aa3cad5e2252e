/**
 * Splits in the simulator's fault schedules (issue 10; split-replicas.ts): seeds with the `splits` fault mix
 * forced on pass (the nemesis splits groups at keys of the workload; clients follow WRONG_SHARD; crashes
 * rebuild every group of a node), and the checkers catch a broken split within the same seeds: a state
 * machine that applies a right-side write on the left after the split, and one whose right-hand group
 * starts without the parent's sessions. Replay: npm run sim -- --seeds 1 --from SEED --mix '{"splits":true}' --trace
 */
import { describe, expect, it } from 'vitest';
import type { SeedOptions, SeedResult } from './run-seed';
import { runSeed } from './run-seed';
import { formatFailure, range } from './seed-runner';
import { blocks, expectSeedsPass } from './seed-suite';

const seedCount = 150;
const mixOverride = { splits: true };

/** Failures of the simulator's safety checkers (not a core assertion or a liveness timeout). */
const safetyCheckers = [
  'election-safety',
  'log-matching',
  'apply-agreement',
  'linearizability',
  'durability',
  'acked-write-lost',
  'final-state',
  'config-agreement',
  'applied-twice',
  'split-ownership',
  'split-cover',
];

function firstSafetyFailure(base: Omit<SeedOptions, 'seed'>): { result: SeedResult | null; tried: number } {
  let tried = 0;
  for (const seed of range(1, seedCount)) {
    tried++;
    const r = runSeed({ ...base, seed });
    if (!r.ok && safetyCheckers.includes(r.failure!.checker)) return { result: r, tried };
  }
  return { result: null, tried };
}

describe('simulator: splits in the fault schedule', () => {
  for (const b of blocks(1, seedCount, 50)) {
    it(
      `seeds ${b.from}..${b.from + b.count - 1} pass with splits`,
      () => expectSeedsPass(range(b.from, b.count), { mixOverride }),
      120_000,
    );
  }

  it('the seeds really split: most end with several groups', () => {
    let split = 0;
    for (const seed of range(1, 20)) if (runSeed({ seed, mixOverride }).stats.groups > 1) split++;
    expect(split).toBeGreaterThanOrEqual(15);
  }, 60_000);

  it(`a right-side write applied on the left after the split is caught within ${seedCount} seeds`, () => {
    const { result, tried } = firstSafetyFailure({ mixOverride, unsafe: 'splitWrongSide' });
    expect(result, `no checker failed in ${tried} seeds`).not.toBeNull();
    console.log(`splitWrongSide caught after ${tried} seed(s):\n${formatFailure(result!)}`);
  }, 120_000);

  it(`a right-hand group without the parent's sessions is caught within ${seedCount} seeds`, () => {
    const { result, tried } = firstSafetyFailure({ mixOverride, unsafe: 'splitSkipSessions' });
    expect(result, `no checker failed in ${tried} seeds`).not.toBeNull();
    console.log(`splitSkipSessions caught after ${tried} seed(s) by ${result!.failure!.checker}`);
  }, 120_000);
});
