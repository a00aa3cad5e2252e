// The seeded nemesis schedule, partition shapes and kill/pause targets (pure), and option parsing.
import { describe, expect, it } from 'vitest';
import { Random } from '../../src/base';
import { dropKey } from '../net/grudge';
import { describeFault, parseNemesisList, planFaults } from '../nemesis/plan';
import { partitionDrops, partitionShapes } from '../nemesis/partitions';
import { resolveTargets } from '../nemesis/targets';
import { parseRunArgs, splitArgs, UsageError } from '../run/options';
import { completionForError, HarnessTimeout } from '../workload/outcome';
import { planWorkers } from '../workload/workers';
import { TesseraError } from '../../src/base';

/** Can a message get from a to b (directly)? */
const canSend = (drops: Set<string>, a: number, b: number): boolean => !drops.has(dropKey(a, b));

describe('nemesis plan', () => {
  const opts = {
    kinds: parseNemesisList('all'),
    activeMs: 60_000,
    quietMs: [2000, 4000] as const,
    faultMs: [3000, 6000] as const,
  };

  it('is a function of the seed, non-overlapping and within the active phase', () => {
    const a = planFaults(new Random(42), opts);
    const b = planFaults(new Random(42), opts);
    const c = planFaults(new Random(43), opts);
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(a.length).toBeGreaterThan(5);
    for (let i = 0; i < a.length; i++) {
      const e = a[i]!;
      expect(e.endMs).toBeLessThanOrEqual(60_000);
      expect(e.endMs).toBeGreaterThanOrEqual(e.startMs);
      if (i > 0) expect(e.startMs).toBeGreaterThanOrEqual(a[i - 1]!.endMs + 2000);
      expect(describeFault(e.fault)).toBeTruthy();
    }
  });

  it('uses only the requested kinds, and none for an empty list', () => {
    const p = planFaults(new Random(1), { ...opts, kinds: ['pause'] });
    expect(new Set(p.map((e) => e.fault.kind))).toEqual(new Set(['pause']));
    expect(planFaults(new Random(1), { ...opts, kinds: [] })).toEqual([]);
  });

  it('parses nemesis lists and rejects unknown names', () => {
    expect(parseNemesisList('kill, partition')).toEqual(['kill', 'partition']);
    expect(parseNemesisList('all')).toHaveLength(10);
    expect(parseNemesisList('none')).toEqual([]);
    expect(() => parseNemesisList('clock')).toThrow(/unknown nemesis 'clock'/);
  });
});

describe('partition shapes', () => {
  const five = [1, 2, 3, 4, 5];

  it('isolate-leader cuts the leader off both ways and leaves the rest connected', () => {
    const { drops } = partitionDrops('isolate-leader', five, 3, new Random(1));
    for (const o of [1, 2, 4, 5]) {
      expect(canSend(drops, 3, o)).toBe(false);
      expect(canSend(drops, o, 3)).toBe(false);
    }
    expect(canSend(drops, 1, 5)).toBe(true);
  });

  it('halves leaves no majority on the small side; bridge keeps the middle node connected to all', () => {
    for (let seed = 0; seed < 20; seed++) {
      const { drops } = partitionDrops('bridge', five, null, new Random(seed));
      const connected = five.filter((n) =>
        five.every((o) => o === n || (canSend(drops, n, o) && canSend(drops, o, n))),
      );
      expect(connected).toHaveLength(1);
      const h = partitionDrops('halves', five, null, new Random(seed)).drops;
      const reach1 = five.filter((o) => o === 1 || canSend(h, 1, o));
      expect([2, 3]).toContain(reach1.length);
    }
  });

  it('majorities-ring: every node hears a majority, no two hear the same one', () => {
    for (const ids of [[1, 2, 3], five]) {
      const { drops } = partitionDrops('majorities-ring', ids, null, new Random(5));
      const views = ids.map((n) => ids.filter((o) => o === n || canSend(drops, o, n)).join(','));
      for (const v of views) expect(v.split(',').length).toBe(Math.floor(ids.length / 2) + 1);
      expect(new Set(views).size).toBe(ids.length);
    }
  });

  it('one-way drops one direction only', () => {
    const { drops } = partitionDrops('one-way', five, 2, new Random(3));
    for (const d of drops) {
      const [a, b] = d.split('>');
      expect(drops.has(`${b}>${a}`)).toBe(false);
    }
    expect(drops.size).toBe(4);
  });

  it('every shape works for 3 and 5 nodes', () => {
    for (const shape of partitionShapes) {
      for (const ids of [[1, 2, 3], five])
        expect(partitionDrops(shape, ids, 1, new Random(9)).drops.size).toBeGreaterThan(0);
    }
  });
});

describe('targets', () => {
  it('resolves one, leader, minority, majority and all', () => {
    const ids = [1, 2, 3, 4, 5];
    const r = new Random(2);
    expect(resolveTargets('one', ids, 4, r)).toHaveLength(1);
    expect(resolveTargets('leader', ids, 4, r)).toEqual([4]);
    expect(resolveTargets('minority', ids, 4, r)).toHaveLength(2);
    expect(resolveTargets('majority', ids, 4, r)).toHaveLength(3);
    expect(resolveTargets('all', ids, 4, r)).toEqual(ids);
    expect(resolveTargets('minority', [1, 2, 3], null, r)).toHaveLength(1);
    expect(resolveTargets('majority', [1, 2, 3], null, r)).toHaveLength(2);
  });
});

describe('options', () => {
  it('defaults to a 60-second register run with kill and partition', () => {
    const o = parseRunArgs([]);
    expect(o).toMatchObject({
      workload: 'register',
      nemesis: ['kill', 'partition'],
      timeSeconds: 60,
      nodes: 3,
      clients: 10,
    });
  });

  it('parses every option and splits --node-args like a shell', () => {
    const o = parseRunArgs([
      '--workload',
      'bank',
      '--nemesis',
      'all',
      '--time',
      '300',
      '--nodes',
      '5',
      '--seed',
      '9',
      '--out',
      '/x',
      '--node-args',
      '--unsafe-stale-reads --election-ms 500',
      '--clients',
      '4',
      '--rate',
      '20',
    ]);
    expect(o).toMatchObject({
      workload: 'bank',
      timeSeconds: 300,
      nodes: 5,
      seed: 9,
      outDir: '/x',
      clients: 4,
      ratePerSec: 20,
    });
    expect(o.nemesis).toHaveLength(10);
    expect(o.nodeArgs).toEqual(['--unsafe-stale-reads', '--election-ms', '500']);
    expect(splitArgs(`a "b c" 'd'`)).toEqual(['a', 'b c', 'd']);
  });

  it('rejects bad input clearly', () => {
    expect(() => parseRunArgs(['--workload', 'queue'])).toThrow(UsageError);
    expect(() => parseRunArgs(['--nodes', 'x'])).toThrow(/--nodes needs an integer/);
    expect(() => parseRunArgs(['--time'])).toThrow(/needs a value/);
    expect(() => parseRunArgs(['--frobnicate'])).toThrow(/unknown option/);
    expect(() => parseRunArgs(['--partition-shapes', 'isolate-one,square'])).toThrow(
      /unknown partition shape 'square'/,
    );
    expect(parseRunArgs(['--partition-shapes', 'halves']).partitionShapes).toEqual(['halves']);
  });
});

describe('outcomes', () => {
  it('is conservative: unknown write outcomes are info, reads and rejected writes fail', () => {
    expect(completionForError(new TesseraError('UNAVAILABLE', 'x'), false).type).toBe('info');
    expect(completionForError(new TesseraError('DEADLINE_EXCEEDED', 'x', { indeterminate: false }), false).type).toBe(
      'info',
    );
    expect(completionForError(new HarnessTimeout(5), false)).toEqual({ type: 'info', error: 'timed-out' });
    expect(completionForError(new TesseraError('INVALID_ARGUMENT', 'x'), false).type).toBe('fail');
    expect(completionForError(new TesseraError('NOT_LEADER', 'x', { indeterminate: false }), false).type).toBe('fail');
    expect(completionForError(new TesseraError('UNAVAILABLE', 'x'), true).type).toBe('fail');
  });

  it('mixed client mode alternates all-endpoint workers and read-only pinned ones over every node', () => {
    const specs = planWorkers(6, ['a', 'b', 'c'], 'mixed', true);
    expect(specs.filter((s) => !s.readOnly).every((s) => s.endpoints.length === 3)).toBe(true);
    expect(specs.filter((s) => s.readOnly).map((s) => s.endpoints[0])).toEqual(['a', 'b', 'c']);
  });
});
