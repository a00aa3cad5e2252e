/**
 * The regression list (regressions.json): seeds that once failed, run by regressions.test.ts on every
 * npm test. The CLI appends a failing seed of the safe core here so it keeps running until it passes
 * (then stays as a guard).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FaultMix, Profile } from './fault-mix';
import type { UnsafeSwitch } from './run-seed';

export interface Regression {
  seed: number;
  profile?: Profile;
  unsafe?: UnsafeSwitch;
  checkAckOrder?: boolean;
  expect: 'pass' | 'fail';
  /** For expect 'fail': the checkers allowed to catch it. */
  checkers?: string[];
  /** The fault mix fields the seed failed with, so later changes to fault-mix.ts do not move it. */
  mix?: Partial<FaultMix>;
  /** 'open': a known core bug not fixed yet; the test asserts it still fails and turns red once fixed. */
  status?: 'open' | 'fixed';
  note: string;
}

interface RegressionFile {
  comment: string;
  seeds: Regression[];
}

export const regressionsPath = join(__dirname, 'regressions.json');

export function loadRegressions(): Regression[] {
  return (JSON.parse(readFileSync(regressionsPath, 'utf8')) as RegressionFile).seeds;
}

/** Adds a seed that must pass (the safe core failed it); returns false when it is already listed. */
export function recordRegression(seed: number, profile: Profile, mix: FaultMix, note: string): boolean {
  const file = JSON.parse(readFileSync(regressionsPath, 'utf8')) as RegressionFile;
  if (file.seeds.some((r) => r.seed === seed && (r.profile ?? 'standard') === profile && !r.unsafe)) return false;
  file.seeds.push({ seed, ...(profile !== 'standard' ? { profile } : {}), expect: 'pass', mix, note });
  writeFileSync(regressionsPath, `${JSON.stringify(file, null, 2)}\n`);
  return true;
}
