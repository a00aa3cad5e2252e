import { describe, expect, it } from 'vitest';
import { shardIdOf } from '../../../src/base';
import { defaultSplitLimits, planSplit, printableKey, splitDescriptor } from '../../../src/shard';
import type { SplitSample } from '../../../src/shard';
import { codeAndRule, desc, k, str } from './helpers';

const limits = { splitMaxKeys: 100, splitMaxBytes: 10_000 };
/** One bucket per key in `keys`, each with `keysEach` keys and `bytesEach` bytes. */
const buckets = (keys: string[], keysEach = 10, bytesEach = 100): SplitSample[] =>
  keys.map((key) => ({ key: k(key), keys: keysEach, bytes: bytesEach }));

describe('planSplit', () => {
  const shard = desc(1, 'a', 'z');
  it('does nothing within the limits', () => {
    expect(planSplit(shard, { keys: 100, bytes: 10_000, samples: buckets(['b', 'c']) }, limits).kind).toBe('none');
  });
  it('splits past splitMaxKeys at the key-weighted middle', () => {
    const p = planSplit(shard, { keys: 101, bytes: 0, samples: buckets(['a', 'c', 'e', 'g', 'i', 'k']) }, limits);
    expect(p.kind).toBe('split');
    if (p.kind === 'split') expect(str(p.key)).toBe('g'); // 3 buckets left, 3 right
  });
  it('splits past splitMaxBytes at the byte-weighted middle, not the key middle', () => {
    const samples: SplitSample[] = [
      { key: k('b'), keys: 1, bytes: 9000 },
      { key: k('c'), keys: 50, bytes: 500 },
      { key: k('d'), keys: 49, bytes: 500 },
      { key: k('e'), keys: 1, bytes: 8000 },
    ];
    // bytes: a cut at c gives 9000 | 9000 (keys alone would cut at d: 51 | 50)
    const p = planSplit(shard, { keys: 101, bytes: 18_000, samples }, limits);
    expect(p.kind === 'split' && str(p.key)).toBe('c');
    const skew: SplitSample[] = [
      { key: k('b'), keys: 90, bytes: 100 },
      { key: k('c'), keys: 5, bytes: 100 },
      { key: k('d'), keys: 5, bytes: 9000 },
    ];
    const q = planSplit(shard, { keys: 100, bytes: 10_001, samples: skew }, limits);
    expect(q.kind === 'split' && str(q.key)).toBe('d');
    const r = planSplit(shard, { keys: 101, bytes: 0, samples: skew }, limits);
    expect(r.kind === 'split' && str(r.key)).toBe('c');
  });
  it('never picks the start key nor a key outside the range; reports when no key fits', () => {
    const p = planSplit(shard, { keys: 1000, bytes: 0, samples: buckets(['a', '0', 'zz', 'z']) }, limits);
    expect(p.kind).toBe('none'); // 'a' is the start, the others are outside [a, z)
    const one = planSplit(shard, { keys: 1000, bytes: 0, samples: buckets(['a', 'a', 'm']) }, limits);
    expect(one.kind === 'split' && str(one.key)).toBe('m');
    expect(planSplit(shard, { keys: 1000, bytes: 0, samples: [] }, limits).kind).toBe('none');
  });
  it('samples in any order give the same key', () => {
    const s = buckets(['q', 'b', 'x', 'f', 'm']);
    const a = planSplit(shard, { keys: 500, bytes: 0, samples: s }, limits);
    const b = planSplit(shard, { keys: 500, bytes: 0, samples: [...s].reverse() }, limits);
    expect(a.kind === 'split' && b.kind === 'split' && printableKey(a.key) === printableKey(b.key)).toBe(true);
  });
  it('refuses malformed statistics and limits', () => {
    expect(codeAndRule(() => planSplit(shard, { keys: -1, bytes: 0, samples: [] }, limits)).rule).toBe('bad-stats');
    expect(codeAndRule(() => planSplit(shard, { keys: 1, bytes: 0.5, samples: [] }, limits)).rule).toBe('bad-stats');
    const bad = [{ key: k('b'), keys: Number.NaN, bytes: 1 }];
    expect(codeAndRule(() => planSplit(shard, { keys: 1, bytes: 0, samples: bad }, limits)).rule).toBe('bad-stats');
    expect(
      codeAndRule(() => planSplit(shard, { keys: 1, bytes: 0, samples: [] }, { ...limits, splitMaxKeys: 0 })).rule,
    ).toBe('bad-stats');
  });
  it('defaults follow TiKV: 96 MiB and 960,000 keys', () => {
    expect(defaultSplitLimits).toEqual({ splitMaxKeys: 960_000, splitMaxBytes: 96 * 1024 * 1024 });
    expect(planSplit(shard, { keys: 960_000, bytes: 96 * 1024 * 1024, samples: buckets(['m']) }).kind).toBe('none');
    expect(planSplit(shard, { keys: 960_001, bytes: 0, samples: buckets(['m']) }).kind).toBe('split');
  });
});

describe('splitDescriptor', () => {
  const parent = desc(4, 'b', 'x', '1v 2v 3l', 7);
  it('gives [start, key) keeping the id and [key, end) with the new id, both at epoch+1 with the same replicas', () => {
    const { left, right } = splitDescriptor(parent, k('m'), shardIdOf(9));
    expect([left.id, str(left.start), str(left.end), left.epoch]).toEqual([4, 'b', 'm', 8]);
    expect([right.id, str(right.start), str(right.end), right.epoch]).toEqual([9, 'm', 'x', 8]);
    expect(left.replicas).toEqual(parent.replicas);
    expect(right.replicas).toEqual(parent.replicas);
  });
  it('at the edges: just after the start, and just before the end', () => {
    expect(str(splitDescriptor(parent, k('b\x00'), shardIdOf(9)).left.end)).toBe('b\x00');
    expect(str(splitDescriptor(parent, k('w\xff'), shardIdOf(9)).right.start)).toBe('w\xff');
    const open = desc(4, '', null);
    expect(splitDescriptor(open, new Uint8Array([0]), shardIdOf(9)).right.end).toBe(null);
  });
  const refused: [string, Uint8Array][] = [
    ['at the start', k('b')],
    ['before the start', k('a')],
    ['at the end', k('x')],
    ['after the end', k('y')],
  ];
  for (const [name, key] of refused)
    it(`refuses a key ${name}`, () =>
      expect(codeAndRule(() => splitDescriptor(parent, key, shardIdOf(9)))).toEqual({
        code: 'INVALID_ARGUMENT',
        rule: 'bad-split',
      }));
  it('refuses the empty key on a shard starting at the keyspace start, and reusing the parent id', () => {
    expect(codeAndRule(() => splitDescriptor(desc(1, '', null), new Uint8Array(0), shardIdOf(2))).rule).toBe(
      'bad-split',
    );
    expect(codeAndRule(() => splitDescriptor(parent, k('m'), shardIdOf(4))).rule).toBe('bad-split');
  });
});
