/**
 * Simulator seeds 1101..2000 (fixed range, part B) plus 200 fresh random seeds, printed so a failure
 * can be replayed with `npm run sim -- --seeds 1 --from SEED --trace` (splits drawn in a fifth of them).
 */
import { describe, it } from 'vitest';
import { blocks, expectSeedsPass } from './seed-suite';
import { freshSeeds, range } from './seed-runner';

describe('simulator: fixed seeds, part B, and fresh seeds', () => {
  for (const b of blocks(1101, 900, 100)) {
    it(`seeds ${b.from}..${b.from + b.count - 1}`, () => expectSeedsPass(range(b.from, b.count)), 120_000);
  }
  const fresh = freshSeeds(200);
  it(`200 fresh random seeds`, () => {
    console.log(`simulator fresh seeds: ${fresh.join(',')}`);
    expectSeedsPass(fresh);
  }, 120_000);
});
