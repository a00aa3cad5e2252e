/**
 * Splits in the simulator's fault schedules (issue 10; split-replicas.ts): seeds with the `splits` fault mix
 * forced on pass (the nemesis splits groups at keys of the workload; clients follow WRONG_SHARD; crashes
 * rebuild every group of a node), and the checkers catch a broken split within the same seeds: a state
 * machine that applies a right-side write on the left after the split, and one whose right-hand group
 * starts without the parent's sessions. Replay: npm run sim -- --seeds 1 --from SEED --mix '{"splits":true}' --trace
 */
import { describe, expect, it } from 'vitest';
import { CheckerSuite } from './checkers';
import { KvState } from './kv-model';
import type { SeedOptions, SeedResult } from './run-seed';
import { runSeed } from './run-seed';
import { formatFailure, range } from './seed-runner';
import { blocks, expectSeedsPass } from './seed-suite';
import { GroupSuites } from './split-cluster';

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

  it('with moves forced, groups change members beside the splits, removed and stale replicas are destroyed, and every seed passes', () => {
    let changes = 0;
    let destroys = 0;
    for (const seed of range(1, 60)) {
      const r = runSeed({ seed, mixOverride: { splits: true, moves: true } });
      changes += r.stats.membershipChanges;
      destroys += r.stats.destroys;
      expect(r.ok, formatFailure(r)).toBe(true);
    }
    expect(changes).toBeGreaterThan(30); // none without moves: split seeds skip membership
    expect(destroys).toBeGreaterThan(10);
  }, 120_000);

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

describe('split state and checkers', () => {
  const split = (op: number, k: string, epoch: number, right: number) =>
    ({ op, t: 'split', k, epoch, newEpoch: epoch + 1, right }) as const;

  it('a split narrows the parent, moves keys and sessions right, and later writes there are WRONG_SHARD', () => {
    const s = new KvState();
    s.apply(1, { op: 1, t: 'put', k: 'a', v: '1' });
    s.apply(2, { op: 2, t: 'put', k: 'm', v: '2' });
    expect(s.apply(3, split(100, 'm', 2, 2))).toEqual({ t: 'split', ok: false }); // planned against another epoch
    expect(s.apply(4, split(101, 'm', 1, 2))).toEqual({ t: 'split', ok: true });
    const right = s.splitRight!;
    expect(right.range).toEqual({ start: 'm', end: null, epoch: 2 });
    expect(right.applied).toBe(5);
    expect([...right.kv]).toEqual([['m', '2']]);
    expect([...right.results.keys()]).toEqual([1, 2]);
    expect(s.fingerprint()).toBe(JSON.stringify([['a', '1']]));
    expect(s.apply(5, { op: 3, t: 'put', k: 'z', v: '3' })).toEqual({ t: 'wrongShard' });
    expect(s.apply(6, { op: 2, t: 'put', k: 'm', v: '2' })).toEqual({ t: 'put' }); // remembered, as a session
    expect(s.apply(7, split(102, 'z', 2, 3))).toEqual({ t: 'split', ok: false }); // not inside the range
  });

  it('a right-hand model starts from the parent model at the split; an op applied in two groups fails', () => {
    const suites = new GroupSuites(true);
    const g1 = suites.first;
    const entry = (index: number, data: object) => ({
      kind: 'normal' as const,
      index,
      term: 1,
      data: new TextEncoder().encode(JSON.stringify(data)),
    });
    const put = { op: 1, t: 'put' as const, k: 'q', v: 'x' };
    g1.onApply(1, entry(1, put), put, 1);
    g1.onNodeEffect(1, 1, 1, true);
    const cut = split(100, 'm', 1, 2);
    g1.onApply(1, entry(2, cut), cut, 2);
    expect(suites.routes().map((r) => r.group)).toEqual([1, 2]);
    suites.checkCover();
    const g2: CheckerSuite = suites.get(2);
    expect(g2.model.fingerprintAt(5)).toBe(JSON.stringify([['q', 'x']]));
    expect(g1.model.fingerprintAt(2)).toBe('[]');
    g2.onApply(1, entry(6, put), put, 6);
    expect(() => g2.onNodeEffect(1, 1, 6, true)).toThrow(/applied-twice/);
    expect(() => g1.onNodeEffect(2, 1, 1, false)).toThrow(/did not apply/);
  });

  it('a split seed replays identically', () => {
    const a = runSeed({ seed: 3, mixOverride, traceAll: true });
    const b = runSeed({ seed: 3, mixOverride, traceAll: true });
    expect(a.stats.groups).toBeGreaterThan(1);
    expect(b.trace).toEqual(a.trace);
  });
});
