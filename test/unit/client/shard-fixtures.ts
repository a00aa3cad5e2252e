/** Test helpers for the SDK's shard routing (shard-*.test.ts): seeds for randomized tests, random keys. */
import { Random } from '../../../src/base';

/**
 * The seeds a randomized test runs: `env` replays one (e.g. SHARD_CACHE_SEED=123), else a few fixed ones
 * and one fresh. Printed, with the replay command, so any failure can be rerun.
 */
export function seedsFor(env: string, file: string, fixed: readonly number[]): number[] {
  const given = process.env[env];
  const seeds = given ? [Number(given)] : [...fixed, Math.floor(Math.random() * 2 ** 31)];
  console.log(`${file} seeds: ${seeds.join(', ')} (replay one: ${env}=<seed> npx vitest run test/unit/client/${file})`);
  return seeds;
}

/** A random key of 0..maxLen bytes over a small alphabet (so keys collide and share prefixes). */
export function randomKey(rnd: Random, maxLen: number, alphabet = 4): Uint8Array {
  const out = new Uint8Array(rnd.int(0, maxLen));
  for (let i = 0; i < out.length; i++) out[i] = 0x61 + rnd.int(0, alphabet - 1);
  return out;
}
