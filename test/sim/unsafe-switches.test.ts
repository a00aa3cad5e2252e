/**
 * The simulator catches real bugs: with each of the core's deliberately unsafe switches on, the
 * checkers fail within a bounded number of seeds of the aggressive fault profile (crashes that lose
 * unsynced writes, figure-8-like leader churn). Without the switch the same seeds pass.
 */
import { describe, expect, it } from 'vitest';
import type { SeedOptions, SeedResult } from './run-seed';
import { runSeed } from './run-seed';
import { formatFailure, range } from './seed-runner';

/** Failures that come from the simulator's checkers (not a core assertion or a liveness timeout). */
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
];
const seedBound = 150;

function firstSafetyFailure(
  base: Omit<SeedOptions, 'seed'>,
  bound = seedBound,
): { result: SeedResult | null; tried: number } {
  let tried = 0;
  for (const seed of range(1, bound)) {
    tried++;
    const r = runSeed({ ...base, seed });
    if (!r.ok && safetyCheckers.includes(r.failure!.checker)) return { result: r, tried };
  }
  return { result: null, tried };
}

describe('simulator catches unsafe cores', { timeout: 180_000 }, () => {
  it(`commitOldTermByCount (figure 8) is caught within ${seedBound} seeds`, () => {
    const { result, tried } = firstSafetyFailure({ profile: 'aggressive', unsafe: 'commitOldTermByCount' });
    expect(result, `no checker failed in ${tried} seeds`).not.toBeNull();
    console.log(`commitOldTermByCount caught after ${tried} seed(s):\n${formatFailure(result!)}`);
  });

  it(`ackBeforePersist is caught within ${seedBound} seeds by the end-to-end checkers alone`, () => {
    const { result, tried } = firstSafetyFailure({
      profile: 'aggressive',
      unsafe: 'ackBeforePersist',
      checkAckOrder: false,
    });
    expect(result, `no checker failed in ${tried} seeds`).not.toBeNull();
    expect(result!.failure!.checker).not.toBe('durability');
    console.log(`ackBeforePersist caught after ${tried} seed(s) by ${result!.failure!.checker}`);
  });

  it(`ackBeforePersist is caught by the ack-order checker`, () => {
    const { result } = firstSafetyFailure({ profile: 'aggressive', unsafe: 'ackBeforePersist' });
    expect(result?.failure?.checker).toBe('durability');
  });

  // Membership changes, a catch-up nemesis, compaction after every entry, and persists and applies of the
  // real ready loop held while steps arrive: a snapshot restored between ready() and advance() of a Ready
  // committing an older config entry (issue 9). The order is rare, so this mix holds most waits (0.9) and
  // the search may take up to configSeedBound seeds ("within a few hundred seeds").
  const configMix = { membership: true, holdReadyRate: 0.9, compactEveryEntries: 1 };
  const configSeedBound = 300;

  it(`regressConfigOnAdvance is caught within ${configSeedBound} seeds of a membership mix with held waits`, () => {
    const { result, tried } = firstSafetyFailure(
      { unsafe: 'regressConfigOnAdvance', mixOverride: configMix },
      configSeedBound,
    );
    expect(result, `no checker failed in ${tried} seeds`).not.toBeNull();
    console.log(
      `regressConfigOnAdvance caught after ${tried} seed(s) by ${result!.failure!.checker}: ${result!.failure!.message}`,
    );
  });

  // Replica moves beside splits: a replica destroyed and added again (uninitialized) that replays the group's
  // log from index 1 rebuilds neither the configuration nor its range (raft/receive.ts). Seeds 1..600 with
  // the switch: 29 failed, the first at seed 9; without it they all pass (splits.test.ts runs 1..60).
  it(`uninitializedTakesEntries is caught within ${seedBound} seeds of splits with moves`, () => {
    const { result, tried } = firstSafetyFailure({
      unsafe: 'uninitializedTakesEntries',
      mixOverride: { splits: true, moves: true },
    });
    expect(result, `no checker failed in ${tried} seeds`).not.toBeNull();
    console.log(`uninitializedTakesEntries caught after ${tried} seed(s) by ${result!.failure!.checker}`);
  });

  it('the same membership seeds pass with the safe core', () => {
    for (const seed of range(1, 40)) {
      const r = runSeed({ seed, mixOverride: configMix });
      if (!r.ok) expect.fail(formatFailure(r));
    }
  });

  it('the same aggressive seeds pass with the safe core', () => {
    for (const seed of range(1, 40)) {
      const r = runSeed({ seed, profile: 'aggressive' });
      if (!r.ok) expect.fail(formatFailure(r));
    }
  });
});
