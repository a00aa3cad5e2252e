/** Simulator seeds 1..1100 (fixed range, part A). Replay any seed with `npm run sim -- --seeds 1 --from SEED --trace`. */
import { describe, it } from 'vitest';
import { blocks, expectSeedsPass } from './seed-suite';
import { range } from './seed-runner';

describe('simulator: fixed seeds, part A', () => {
  for (const b of blocks(1, 1100, 100)) {
    it(`seeds ${b.from}..${b.from + b.count - 1}`, () => expectSeedsPass(range(b.from, b.count)), 120_000);
  }
});
