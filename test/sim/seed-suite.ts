/**
 * Helpers for the vitest seed files: run a block of seeds as one test case and fail it with the
 * formatted failure (seed, fault mix, last trace events, replay command) of the first failing seed.
 */
import { expect } from 'vitest';
import type { SeedOptions } from './run-seed';
import { formatFailure, runSeeds } from './seed-runner';

export function expectSeedsPass(seeds: Iterable<number>, base: Omit<SeedOptions, 'seed'> = {}): void {
  const summary = runSeeds(seeds, base, { stopOnFailure: true });
  const failure = summary.failures[0];
  if (failure) {
    const text = `${formatFailure(failure)}\n(add this seed to test/sim/regressions.json)`;
    console.error(text);
    expect.fail(text);
  }
  expect(summary.seeds).toBeGreaterThan(0);
}

/** Splits [from, from + count) into blocks of `size` for separate test cases. */
export function blocks(from: number, count: number, size: number): { from: number; count: number }[] {
  const out: { from: number; count: number }[] = [];
  for (let s = from; s < from + count; s += size) out.push({ from: s, count: Math.min(size, from + count - s) });
  return out;
}
