import { describe, expect, it } from 'vitest';
import { Random, epochOf, shardIdOf } from '../../../src/base';
import { ShardMap, compareKeys, splitDescriptor } from '../../../src/shard';
import type { ShardDescriptor } from '../../../src/shard';
import { codeAndRule, desc, k, str } from './helpers';

const E = epochOf;
const S = shardIdOf;
/** [ '' , b) [b, d) [d, f) [f, +inf) as shards 1..4 at epoch 3. */
const four = (): ShardMap =>
  ShardMap.create([
    desc(1, '', 'b', undefined, 3),
    desc(2, 'b', 'd', undefined, 3),
    desc(3, 'd', 'f', undefined, 3),
    desc(4, 'f', null, undefined, 3),
  ]);

describe('ShardMap.create: the keyspace exactly once', () => {
  it('accepts the whole keyspace as one shard, and descriptors in any order', () => {
    expect(ShardMap.create([desc(1, '', null)]).size).toBe(1);
    const m = ShardMap.create([desc(3, 'd', null), desc(1, '', 'b'), desc(2, 'b', 'd')]);
    expect(m.descriptors().map((d) => d.id)).toEqual([1, 2, 3]);
  });
  const cases: [string, ShardDescriptor[], string][] = [
    ['a gap in the middle', [desc(1, '', 'b'), desc(2, 'c', null)], 'gap'],
    ['a missing start', [desc(1, 'a', null)], 'gap'],
    ['a missing tail', [desc(1, '', 'x')], 'gap'],
    ['an empty map', [], 'gap'],
    ['an overlap', [desc(1, '', 'c'), desc(2, 'b', null)], 'overlap'],
    ['two open ends', [desc(1, '', null), desc(2, 'b', null)], 'overlap'],
    ['a repeated id', [desc(1, '', 'b'), desc(1, 'b', null)], 'duplicate-shard-id'],
  ];
  for (const [name, ds, rule] of cases)
    it(`refuses ${name}`, () =>
      expect(codeAndRule(() => ShardMap.create(ds))).toEqual({ code: 'INVALID_ARGUMENT', rule }));
});

describe('locate', () => {
  const m = four();
  const at = (key: string | Uint8Array): number => m.locate(typeof key === 'string' ? k(key) : key).id;
  it('on boundaries: the start is in, the end is out', () => {
    expect([at('b'), at('d'), at('f')]).toEqual([2, 3, 4]);
    expect([at('a'), at('c'), at('e')]).toEqual([1, 2, 3]);
    expect(at('b\x00')).toBe(2);
  });
  it('the empty key and the largest keys', () => {
    expect(at(new Uint8Array(0))).toBe(1);
    expect(at(new Uint8Array([0]))).toBe(1);
    expect(at(new Uint8Array(64).fill(0xff))).toBe(4);
  });
  it('agrees with a linear scan over 1,000 shards and random keys', () => {
    const rnd = new Random(7);
    const bounds = new Set<string>();
    while (bounds.size < 999) bounds.add(rnd.int(0, 0xffffff).toString(16).padStart(6, '0'));
    const starts = ['', ...[...bounds].sort()];
    const ds = starts.map((s, i) => desc(i + 1, s, starts[i + 1] ?? null));
    const big = ShardMap.create(ds);
    for (let i = 0; i < 2000; i++) {
      const key = k(rnd.int(0, 0xffffff).toString(16).padStart(rnd.int(1, 7), '0'));
      const linear = ds.filter((d) => compareKeys(d.start, key) <= 0).at(-1) as ShardDescriptor;
      expect(big.locate(key).id).toBe(linear.id);
    }
  });
});

describe('shardsIn: range iteration in key order', () => {
  const m = four();
  const ids = (s: string, e: string | null): number[] => m.shardsIn(k(s), e === null ? null : k(e)).map((d) => d.id);
  it('covers exactly the shards that overlap [start, end)', () => {
    expect(ids('', null)).toEqual([1, 2, 3, 4]);
    expect(ids('c', 'e')).toEqual([2, 3]);
    expect(ids('b', 'd')).toEqual([2]); // d is exclusive
    expect(ids('a', 'b\x00')).toEqual([1, 2]);
    expect(ids('g', null)).toEqual([4]);
    expect(ids('c', 'c')).toEqual([]);
    expect(ids('e', 'c')).toEqual([]);
  });
});

describe('apply: newer epochs only, all or nothing', () => {
  it('a split (both halves) replaces its parent', () => {
    const m = four();
    const { left, right } = splitDescriptor(m.get(S(2))!, k('c'), S(9));
    const r = m.apply([left, right]);
    expect(r.kind).toBe('applied');
    if (r.kind !== 'applied') return;
    expect(r.replaced.map((d) => d.id)).toEqual([2]);
    expect(r.map.descriptors().map((d) => [d.id, str(d.start)])).toEqual([
      [1, ''],
      [2, 'b'],
      [9, 'c'],
      [3, 'd'],
      [4, 'f'],
    ]);
    expect(r.map.locate(k('c')).id).toBe(9);
    expect(m.locate(k('c')).id).toBe(2); // the old map is unchanged
  });
  it('one half of a split alone leaves a gap: refused with the missing range', () => {
    const m = four();
    const { left } = splitDescriptor(m.get(S(2))!, k('c'), S(9));
    const r = m.apply(left);
    expect(r.kind).toBe('gap');
    if (r.kind === 'gap') expect(r.missing.map((g) => [str(g.start), str(g.end)])).toEqual([['c', 'd']]);
    expect(r.map).toBe(m);
  });
  it('a stale descriptor never overwrites a newer one', () => {
    const m = four();
    const older = desc(2, 'b', 'd', '1v 2v 4v', 2);
    const same = desc(2, 'b', 'd', '1v 2v 4v', 3);
    expect(m.apply(older).kind).toBe('stale');
    expect(m.apply(same).kind).toBe('stale'); // equal epoch, different content: not newer
    const r = m.apply(older);
    if (r.kind === 'stale') expect(r.newer.map((d) => d.id)).toEqual([2]);
    expect(m.get(S(2))!.replicas.map((x) => x.node)).toEqual([1, 2, 3]);
  });
  it('the old parent arriving after the split is refused (both halves are newer)', () => {
    const m0 = four();
    const parent = m0.get(S(2))!;
    const { left, right } = splitDescriptor(parent, k('c'), S(9));
    const r = m0.apply([left, right]);
    if (r.kind !== 'applied') throw new Error('split not applied');
    const back = r.map.apply(parent);
    expect(back.kind).toBe('stale');
    if (back.kind === 'stale') expect(back.newer.map((d) => d.id).sort()).toEqual([2, 9]);
  });
  it('a replica change with a newer epoch replaces the shard; the same descriptor again is unchanged', () => {
    const m = four();
    const moved = desc(3, 'd', 'f', '1v 2v 4v', 4);
    const r = m.apply(moved);
    expect(r.kind).toBe('applied');
    if (r.kind !== 'applied') return;
    expect(r.map.get(S(3))!.epoch).toBe(4);
    expect(r.map.apply(moved).kind).toBe('unchanged');
  });
  it('an update overlapping a newer neighbour is refused as a whole', () => {
    const m = four();
    // covers [b, f) at epoch 4 (a merge-like update) but shard 3 is at epoch 5 in this map
    const r1 = m.apply(desc(3, 'd', 'f', '1v 2v 3v', 5));
    if (r1.kind !== 'applied') throw new Error('setup');
    const r = r1.map.apply(desc(2, 'b', 'f', '1v 2v 3v', 4));
    expect(r.kind).toBe('stale');
    expect(r.map.get(S(2))!.epoch).toBe(3);
  });
  it('an id moving elsewhere replaces its old entry too (ids stay unique)', () => {
    const m = four();
    // shard 4 now claims [b, d) at a newer epoch: its old range [f, inf) would be uncovered
    const r = m.apply(desc(4, 'b', 'd', '1v 2v 3v', 9));
    expect(r.kind).toBe('gap');
  });
  it('refuses a malformed or self-overlapping update with INVALID_ARGUMENT', () => {
    const m = four();
    expect(codeAndRule(() => m.apply([desc(5, 'b', 'c', '1v', 9), desc(6, 'b\x00', 'd', '1v', 9)])).rule).toBe(
      'overlap',
    );
    expect(codeAndRule(() => m.apply({ ...desc(5, 'b', 'c'), replicas: [] })).rule).toBe('no-voter');
  });
});

describe('staleness and checkKey: the WRONG_SHARD answers', () => {
  const m = four();
  it('staleness by epoch', () => {
    expect(m.staleness(S(2), E(3)).kind).toBe('current');
    expect(m.staleness(S(2), E(2)).kind).toBe('stale');
    expect(m.staleness(S(2), E(4)).kind).toBe('ahead');
    expect(m.staleness(S(99), E(1)).kind).toBe('unknown');
  });
  it('checkKey: ok inside, wrongShard outside (with the owner), behind when the asker is newer', () => {
    expect(m.checkKey(S(2), E(3), k('c'))).toMatchObject({ kind: 'ok', askerStale: false });
    expect(m.checkKey(S(2), E(1), k('c'))).toMatchObject({ kind: 'ok', askerStale: true });
    const wrong = m.checkKey(S(2), E(3), k('d'));
    expect(wrong.kind).toBe('wrongShard');
    if (wrong.kind === 'wrongShard') expect([wrong.owner.id, wrong.descriptor?.id]).toEqual([3, 2]);
    const unknown = m.checkKey(S(77), E(1), k('a'));
    expect(unknown.kind === 'wrongShard' && unknown.owner.id === 1 && unknown.descriptor === null).toBe(true);
    expect(m.checkKey(S(2), E(9), k('c')).kind).toBe('behind');
  });
});

describe('random splits keep the map a partition', () => {
  it('200 random splits: every key located in exactly the shard containing it, epochs only grow', () => {
    const seed = 42;
    const rnd = new Random(seed);
    let m = ShardMap.create([desc(1, '', null)]);
    let next = 2;
    for (let i = 0; i < 200; i++) {
      const key = k(rnd.int(0, 99999).toString().padStart(5, '0'));
      const owner = m.locate(key);
      if (compareKeys(owner.start, key) === 0) continue;
      const { left, right } = splitDescriptor(owner, key, S(next++));
      const r = m.apply(rnd.chance(0.5) ? [left, right] : [right, left]);
      expect(r.kind, `seed ${seed}`).toBe('applied');
      if (r.kind === 'applied') m = r.map;
      expect(m.apply(owner).kind).toBe('stale');
    }
    const ds = m.descriptors();
    expect(() => ShardMap.create(ds)).not.toThrow();
    for (let i = 0; i < 500; i++) {
      const key = k(rnd.int(0, 99999).toString().padStart(rnd.int(1, 6), '0'));
      const d = m.locate(key);
      expect(compareKeys(d.start, key) <= 0 && (d.end === null || compareKeys(key, d.end) < 0)).toBe(true);
    }
  });
});

describe('replaying history never moves the map back', () => {
  // Seeded: a failure names its seed; replay with SHARD_MAP_SEED=<seed> npx vitest run test/unit/shard/shard-map.test.ts
  const seeds = process.env['SHARD_MAP_SEED'] ? [Number(process.env['SHARD_MAP_SEED'])] : [1, 2, 3, 4, 5];
  for (const seed of seeds) {
    it(`seed ${seed}: fresh splits and replica changes apply, every replayed older update is refused`, () => {
      const rnd = new Random(seed);
      let m = ShardMap.create([desc(1, '', null, '1v 2v 3v')]);
      const history: ShardDescriptor[][] = [m.descriptors().slice()];
      let next = 2;
      for (let step = 0; step < 300; step++) {
        const shards = m.descriptors();
        const target = rnd.pick(shards);
        let update: ShardDescriptor[];
        if (rnd.chance(0.4)) {
          const key = k(rnd.int(0, 9999).toString().padStart(4, '0'));
          if (!(compareKeys(key, target.start) > 0 && (target.end === null || compareKeys(key, target.end) < 0)))
            continue;
          const { left, right } = splitDescriptor(m.locate(key), key, S(next++));
          update = [left, right];
        } else {
          const node = rnd.int(1, 6);
          const has = target.replicas.some((r) => r.node === node);
          const replicas = has
            ? target.replicas.filter((r) => r.node !== node)
            : [...target.replicas, { node, role: 'learner' as const }];
          if (!replicas.some((r) => r.role === 'voter')) continue;
          update = [{ ...target, replicas, epoch: E(target.epoch + 1) }];
        }
        const fresh = m.apply(update);
        expect(fresh.kind, `seed ${seed} step ${step}`).toBe('applied');
        if (fresh.kind === 'applied') m = fresh.map;
        history.push(update);
        const old = rnd.pick(history.slice(0, -1));
        const replay = m.apply(old);
        expect(['stale', 'gap', 'unchanged'], `seed ${seed} step ${step}`).toContain(replay.kind);
        expect(replay.map, `seed ${seed} step ${step}`).toBe(m);
      }
      expect(m.size).toBeGreaterThan(8);
    });
  }
});
