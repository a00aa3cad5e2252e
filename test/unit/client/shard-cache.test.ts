/**
 * The SDK's descriptor + leader cache (src/client/shard-cache.ts): lookups with holes, the epoch rule
 * (only newer descriptors are taken; a split's halves evict the parent; answers arriving in any order
 * never bring an older descriptor back), leader hints (voters only, inherited across a split, forgotten on
 * failures), invalidation, and the LRU bounds on count and key bytes. A randomized test checks the cache
 * against a naive model over random split/replica-change histories delivered out of order.
 * Replay a seed with SHARD_CACHE_SEED=<seed> npx vitest run test/unit/client/shard-cache.test.ts
 */
import { describe, expect, it } from 'vitest';
import { Random, epochOf, shardIdOf } from '../../../src/base';
import { ShardCache } from '../../../src/client/shard-cache';
import type { LeaderHint } from '../../../src/client/shard-cache';
import { containsKey, makeDescriptor, rangesOverlap, splitDescriptor } from '../../../src/shard';
import type { ShardDescriptor } from '../../../src/shard';
import { desc, k, str } from '../shard/helpers';
import { randomKey, seedsFor } from './shard-fixtures';

const id = shardIdOf;
const ranges = (c: ShardCache): string[] =>
  c.descriptors().map((d) => `${d.id}:${str(d.start)}-${str(d.end)}@${d.epoch}`);
const leaderOf = (c: ShardCache, key: string): number | null => {
  const hit = c.locate(k(key));
  return hit.kind === 'hit' ? (hit.leader?.node ?? null) : -1;
};
const hint = (node: number, address: string | null = null): LeaderHint => ({ node, address });

describe('ShardCache lookups', () => {
  it('finds the owner of a key and misses in holes', () => {
    const c = new ShardCache();
    c.update(desc(1, '', 'c'));
    c.update(desc(3, 'f', 'k'));
    c.update(desc(4, 'p', null));
    const owner = (key: string): number | null => {
      const hit = c.locate(k(key));
      return hit.kind === 'hit' ? hit.descriptor.id : null;
    };
    expect(['', 'a', 'bz', 'c', 'e', 'f', 'jz', 'k', 'o', 'p', 'zzz'].map(owner)).toEqual([
      1,
      1,
      1,
      null,
      null,
      3,
      3,
      null,
      null,
      4,
      4,
    ]);
    expect(new ShardCache().locate(k('a'))).toEqual({ kind: 'miss' });
  });

  it('covers a range with the cached shards in key order and the holes to load', () => {
    const c = new ShardCache();
    c.update(desc(1, '', 'c'));
    c.update(desc(3, 'f', 'k'));
    const { shards, missing } = c.cover(k('b'), k('z'));
    expect(shards.map((s) => s.descriptor.id)).toEqual([1, 3]);
    expect(missing.map((r) => [str(r.start), str(r.end)])).toEqual([
      ['c', 'f'],
      ['k', 'z'],
    ]);
    expect(c.cover(k('g'), k('h')).missing).toEqual([]);
    expect(c.cover(k('x'), null).missing.map((r) => [str(r.start), str(r.end)])).toEqual([['x', null]]);
    expect(c.cover(k('h'), k('h'))).toEqual({ shards: [], missing: [] });
  });
});

describe('ShardCache epochs', () => {
  it('replaces a parent by the halves of its split, in either order, and never takes the parent back', () => {
    const parent = desc(1, 'a', 'z', '1v 2v 3v', 4);
    const { left, right } = splitDescriptor(parent, k('m'), id(2));
    for (const order of [
      [left, right],
      [right, left],
    ]) {
      const c = new ShardCache();
      expect(c.update(parent, hint(2)).kind).toBe('added');
      const first = c.update(order[0]!);
      expect(first).toEqual({ kind: 'added', evicted: [parent] });
      // The other half is a miss until learned (the parent is gone).
      const other = order[1]!;
      expect(c.locate(other.start).kind).toBe('miss');
      expect(c.update(parent)).toMatchObject({ kind: 'stale' });
      expect(c.update(other)).toEqual({ kind: 'added', evicted: [] });
      expect(ranges(c)).toEqual(['1:a-m@5', '2:m-z@5']);
      expect(c.update(parent).kind).toBe('stale');
      expect(ranges(c)).toEqual(['1:a-m@5', '2:m-z@5']);
    }
  });

  it('takes a newer descriptor over several older ones it overlaps, and refuses equal epochs that differ', () => {
    const c = new ShardCache();
    c.update(desc(1, 'a', 'f', '1v', 3));
    c.update(desc(2, 'f', 'k', '1v', 3));
    c.update(desc(5, 'x', null, '1v', 9));
    expect(c.update(desc(7, 'b', 'h', '1v', 3))).toMatchObject({ kind: 'stale' });
    const r = c.update(desc(7, 'b', 'h', '1v', 4));
    expect(r.kind === 'added' && r.evicted.map((d) => d.id)).toEqual([1, 2]);
    expect(ranges(c)).toEqual(['7:b-h@4', '5:x-null@9']);
    expect(c.update(desc(7, 'b', 'h', '1v', 4))).toEqual({ kind: 'unchanged' });
  });

  it('replaces a descriptor by a newer one of the same id even when their ranges do not overlap', () => {
    const c = new ShardCache();
    c.update(desc(1, 'a', 'c', '1v', 1));
    expect(c.update(desc(1, 'x', 'z', '1v 2v', 2))).toMatchObject({ kind: 'added' });
    expect(ranges(c)).toEqual(['1:x-z@2']);
    expect(c.update(desc(1, 'a', 'c', '1v', 1)).kind).toBe('stale');
    expect(c.locate(k('b')).kind).toBe('miss');
  });

  it('refuses a descriptor whose keys alone pass the byte bound', () => {
    const c = new ShardCache({ keyBytesMax: 256 * 1024 });
    const big = makeDescriptor({ ...desc(1, '', null), start: new Uint8Array(257 * 1024) });
    expect(c.update(big)).toEqual({ kind: 'too-large' });
    expect(c.size).toBe(0);
  });
});

describe('ShardCache leader hints', () => {
  it('takes hints for voters only, and forgets them on failures', () => {
    const c = new ShardCache();
    c.update(desc(1, '', 'm', '1v 2v 3l'));
    c.update(desc(2, 'm', null, '1v 2v 4v'));
    expect(c.noteLeader(id(1), hint(2, '127.0.0.1:7002'))).toBe('set');
    expect(c.locate(k('a'))).toMatchObject({ leader: { node: 2, address: '127.0.0.1:7002' } });
    expect(c.noteLeader(id(1), hint(3))).toBe('not-a-voter');
    expect(c.noteLeader(id(1), hint(9))).toBe('not-a-voter');
    expect(c.noteLeader(id(1), hint(0))).toBe('not-a-voter');
    expect(c.noteLeader(id(9), hint(1))).toBe('unknown-shard');
    expect(leaderOf(c, 'a')).toBe(2);
    c.noteLeader(id(2), hint(2));
    c.forgetLeader(id(1));
    expect([leaderOf(c, 'a'), leaderOf(c, 'n')]).toEqual([null, 2]);
    c.noteLeader(id(1), hint(2));
    c.noteLeader(id(2), hint(4));
    c.forgetNode(2);
    expect([leaderOf(c, 'a'), leaderOf(c, 'n')]).toEqual([null, 4]);
  });

  it('keeps a given hint only for a voter, and passes the parent hint to the halves of a split', () => {
    const c = new ShardCache();
    const parent = desc(1, '', null, '1v 2v 3v', 1);
    c.update(parent, hint(3));
    const { left, right } = splitDescriptor(parent, k('m'), id(2));
    c.update(right);
    expect(leaderOf(c, 'x')).toBe(3);
    c.update(left, hint(1));
    expect(leaderOf(c, 'a')).toBe(1);
    // A replica change that removes the hinted leader drops the hint; a learner is never a hint.
    c.update(desc(2, 'm', null, '1v 2v 4v', 3));
    expect(leaderOf(c, 'x')).toBeNull();
    c.update(desc(2, 'm', null, '1v 2v 4l', 4), hint(4));
    expect(leaderOf(c, 'x')).toBeNull();
  });
});

describe('ShardCache invalidation and bounds', () => {
  it('drops a shard by id or by key', () => {
    const c = new ShardCache();
    c.update(desc(1, '', 'm'));
    c.update(desc(2, 'm', null));
    expect(c.invalidate(id(1))).toBe(true);
    expect(c.invalidate(id(1))).toBe(false);
    expect(c.locate(k('a')).kind).toBe('miss');
    expect(c.invalidateKey(k('q'))?.id).toBe(2);
    expect(c.invalidateKey(k('q'))).toBeNull();
    expect(c.size).toBe(0);
    // An invalidated shard may be learned again at any epoch.
    expect(c.update(desc(1, '', 'm')).kind).toBe('added');
  });

  it('evicts the least recently used descriptor past descriptorsMax', () => {
    const c = new ShardCache({ descriptorsMax: 3 });
    c.update(desc(1, 'a', 'b'));
    c.update(desc(2, 'b', 'c'));
    c.update(desc(3, 'c', 'd'));
    c.locate(k('a')); // 1 is now the most recent; 2 the least
    c.update(desc(4, 'd', 'e'));
    expect(c.descriptors().map((d) => d.id)).toEqual([1, 3, 4]);
    c.update(desc(3, 'c', 'd'), hint(1)); // an unchanged update also counts as a use
    c.update(desc(5, 'e', 'f'));
    expect(c.descriptors().map((d) => d.id)).toEqual([3, 4, 5]);
    expect(c.size).toBe(3);
  });

  it('evicts the least recently used descriptors past keyBytesMax', () => {
    const c = new ShardCache({ keyBytesMax: 256 * 1024 });
    const key = (letter: string): Uint8Array => new Uint8Array(60 * 1024).fill(letter.charCodeAt(0));
    const d = (n: number, a: string, b: string): ShardDescriptor =>
      makeDescriptor({ ...desc(n, '', null), start: key(a), end: key(b) });
    c.update(d(1, 'a', 'b'));
    c.update(d(2, 'b', 'c'));
    expect(c.keyBytes).toBe(240 * 1024);
    c.update(d(3, 'c', 'd'));
    expect(c.descriptors().map((x) => x.id)).toEqual([2, 3]);
    expect(c.keyBytes).toBe(240 * 1024);
  });

  it('refuses bounds that cannot hold a descriptor', () => {
    expect(() => new ShardCache({ descriptorsMax: 0 })).toThrow(RangeError);
    expect(() => new ShardCache({ keyBytesMax: 1000 })).toThrow(RangeError);
  });
});

/** A naive cache: a list, scanned in full (the oracle for the sorted array, binary search and LRU). */
class ModelCache {
  list: ShardDescriptor[] = [];
  constructor(private readonly max: number) {}
  locate(key: Uint8Array): ShardDescriptor | null {
    const d = this.list.find((x) => containsKey(x, key)) ?? null;
    if (d) this.list = [...this.list.filter((x) => x !== d), d];
    return d;
  }
  update(d: ShardDescriptor): string {
    // (id, epoch) names one descriptor in a history made by evolve().
    const same = this.list.find((x) => x.id === d.id && x.epoch === d.epoch);
    if (same) {
      this.list = [...this.list.filter((x) => x !== same), same];
      return 'unchanged';
    }
    const touched = this.list.filter((x) => x.id === d.id || rangesOverlap(x.start, x.end, d.start, d.end));
    if (touched.some((x) => x.epoch >= d.epoch)) return 'stale';
    this.list = [...this.list.filter((x) => !touched.includes(x)), d];
    while (this.list.length > this.max) this.list.shift();
    return 'added';
  }
}

/** A true history: shards split and change replicas; every descriptor ever made is in `history`. */
function evolve(rnd: Random, steps: number): ShardDescriptor[] {
  let live: ShardDescriptor[] = [desc(1, '', null, '1v 2v 3v', 0)];
  const history = [...live];
  let nextId = 2;
  for (let i = 0; i < steps; i++) {
    const d = rnd.pick(live);
    const at = randomKey(rnd, 4);
    if (rnd.chance(0.7) && containsKey(d, at) && Buffer.compare(at, d.start) > 0) {
      const { left, right } = splitDescriptor(d, at, id(nextId++));
      live = [...live.filter((x) => x !== d), left, right];
      history.push(left, right);
    } else {
      const replicas = rnd.chance(0.5) ? '1v 2v 3v' : rnd.pick(['1v 2v 4v', '2v 3v 5v', '1v 2v 3v 4l']);
      const next = makeDescriptor({
        ...d,
        replicas: desc(1, '', null, replicas).replicas,
        epoch: epochOf(d.epoch + 1),
      });
      live = [...live.filter((x) => x !== d), next];
      history.push(next);
    }
  }
  return history;
}

describe('ShardCache against a naive model', () => {
  it('agrees on every answer over random histories delivered out of order', () => {
    for (const seed of seedsFor('SHARD_CACHE_SEED', 'shard-cache.test.ts', [1, 2, 3])) {
      const rnd = new Random(seed);
      for (let round = 0; round < 20; round++) {
        const history = evolve(rnd, rnd.int(5, 60));
        const max = rnd.pick([2, 5, 1000]);
        const cache = new ShardCache({ descriptorsMax: max });
        const model = new ModelCache(max);
        for (let op = 0; op < 400; op++) {
          const where = `seed ${seed} round ${round} op ${op}`;
          if (rnd.chance(0.5)) {
            const d = rnd.pick(history);
            expect(cache.update(d).kind, where).toBe(model.update(d));
          } else {
            const key = randomKey(rnd, 5);
            const hit = cache.locate(key);
            expect(hit.kind === 'hit' ? hit.descriptor : null, where).toBe(model.locate(key));
          }
          expect(ranges(cache).sort(), where).toEqual(model.list.map((d) => ranges(single(d))[0]).sort());
        }
      }
    }
  });

  it('never holds two descriptors that overlap, and for a key only ever moves to newer ones', () => {
    for (const seed of seedsFor('SHARD_CACHE_SEED', 'shard-cache.test.ts', [4])) {
      const rnd = new Random(seed);
      const history = evolve(rnd, 80);
      const cache = new ShardCache();
      const probes = Array.from({ length: 50 }, () => randomKey(rnd, 5));
      const seen = probes.map(() => -1);
      for (let op = 0; op < 1500; op++) {
        cache.update(rnd.pick(history));
        const ds = cache.descriptors();
        for (let i = 1; i < ds.length; i++) {
          const [a, b] = [ds[i - 1]!, ds[i]!];
          expect(rangesOverlap(a.start, a.end, b.start, b.end), `seed ${seed} op ${op}`).toBe(false);
        }
        probes.forEach((key, i) => {
          const hit = cache.locate(key);
          if (hit.kind === 'miss') return;
          expect(hit.descriptor.epoch, `seed ${seed} op ${op}`).toBeGreaterThanOrEqual(seen[i]!);
          seen[i] = hit.descriptor.epoch;
        });
      }
    }
  });
});

function single(d: ShardDescriptor): ShardCache {
  const c = new ShardCache();
  c.update(d);
  return c;
}
