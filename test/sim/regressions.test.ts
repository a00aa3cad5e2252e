/** Every seed in regressions.json, on every run: fixed bugs stay fixed, unsafe cores stay caught. */
import { describe, expect, it } from 'vitest';
import { loadRegressions } from './regression-list';
import { runSeed } from './run-seed';
import { formatFailure } from './seed-runner';

const list = loadRegressions();

describe('simulator regressions', () => {
  it('has a well-formed list', () => {
    expect(list.length).toBeGreaterThan(0);
    for (const r of list) {
      expect(Number.isInteger(r.seed)).toBe(true);
      expect(['pass', 'fail']).toContain(r.expect);
      if (r.expect === 'fail') expect(r.unsafe).toBeDefined();
    }
  });
  for (const r of list) {
    const name = `seed ${r.seed}${r.profile ? ` ${r.profile}` : ''}${r.unsafe ? ` unsafe ${r.unsafe}` : ''} must ${r.expect}${r.status === 'open' ? ' (OPEN: still fails)' : ''}: ${r.note}`;
    // Seeds recorded before held Readys existed (mix.holdReadyRate) keep running without them, as found.
    const mixOverride = { holdReadyRate: 0, ...r.mix };
    const run = () =>
      runSeed({ seed: r.seed, profile: r.profile, unsafe: r.unsafe, checkAckOrder: r.checkAckOrder, mixOverride });
    if (r.status === 'open') {
      // A known, unfixed core bug: assert it still reproduces. Once the core is fixed this turns red:
      // then set "status": "fixed" so the seed guards against the bug coming back.
      it(name, () => {
        const res = run();
        expect(res.ok, `seed ${r.seed} passes now: mark it "fixed" in regressions.json`).toBe(false);
        if (r.checkers) expect(r.checkers).toContain(res.failure!.checker);
      });
      continue;
    }
    it(name, () => {
      const res = run();
      if (r.expect === 'pass') {
        if (!res.ok) expect.fail(formatFailure(res));
      } else {
        expect(res.ok, `seed ${r.seed} should be caught by the checkers`).toBe(false);
        if (r.checkers) expect(r.checkers).toContain(res.failure!.checker);
      }
    });
  }
});
