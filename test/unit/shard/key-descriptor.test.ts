import { describe, expect, it } from 'vitest';
import { epochOf, shardIdOf } from '../../../src/base';
import {
  addLearner,
  compareEnds,
  compareKeys,
  containsKey,
  makeDescriptor,
  printableKey,
  promoteLearner,
  rangesOverlap,
  removeReplica,
  validateDescriptor,
} from '../../../src/shard';
import { codeAndRule, desc, k, reps } from './helpers';

describe('byte keys', () => {
  it('compare bytewise and unsigned, a prefix first', () => {
    expect(compareKeys(k('a'), k('b'))).toBe(-1);
    expect(compareKeys(k('b'), k('a'))).toBe(1);
    expect(compareKeys(k('ab'), k('ab'))).toBe(0);
    expect(compareKeys(k('a'), k('ab'))).toBe(-1);
    expect(compareKeys(new Uint8Array(0), k('a'))).toBe(-1);
    expect(compareKeys(new Uint8Array([0x7f]), new Uint8Array([0x80]))).toBe(-1); // unsigned, not signed
    expect(compareKeys(new Uint8Array([0xff]), new Uint8Array([0x00, 0x00]))).toBe(1);
  });
  it('compare ends with null as +infinity', () => {
    expect(compareEnds(null, null)).toBe(0);
    expect(compareEnds(k('zzz'), null)).toBe(-1);
    expect(compareEnds(null, new Uint8Array([0xff, 0xff]))).toBe(1);
  });
  it('overlap of half-open ranges: touching ranges do not overlap', () => {
    expect(rangesOverlap(k('a'), k('m'), k('m'), null)).toBe(false);
    expect(rangesOverlap(k('a'), k('n'), k('m'), null)).toBe(true);
    expect(rangesOverlap(k(''), null, k('x'), k('y'))).toBe(true);
  });
  it('print printable ASCII as itself, anything else as 0x hex', () => {
    expect(printableKey(k('user/42'))).toBe('user/42');
    expect(printableKey(new Uint8Array([0, 0xff, 0x10]))).toBe('0x00ff10');
    expect(printableKey(k('a\n'))).toBe('0x610a');
    expect(printableKey(new Uint8Array(0))).toBe('0x');
    expect(printableKey(null)).toBe('null');
  });
});

describe('ShardId and Epoch', () => {
  it('are checked when made: shard ids positive 32-bit, epochs non-negative safe integers', () => {
    expect(shardIdOf(1)).toBe(1);
    expect(epochOf(0)).toBe(0);
    for (const bad of [0, -1, 1.5, 2 ** 32, Number.NaN]) expect(() => shardIdOf(bad)).toThrow(RangeError);
    for (const bad of [-1, 0.5, 2 ** 53, Infinity]) expect(() => epochOf(bad)).toThrow(RangeError);
  });
});

describe('descriptors', () => {
  const base = { id: shardIdOf(1), start: k('a'), end: k('m'), replicas: reps('1v 2v 3v'), epoch: epochOf(1) };
  const cases: [string, object, string][] = [
    ['start = end', { end: k('a') }, 'empty-range'],
    ['start > end', { start: k('n') }, 'empty-range'],
    ['duplicate replica', { replicas: reps('1v 2v 1l') }, 'duplicate-replica'],
    ['no voter', { replicas: reps('1l 2l') }, 'no-voter'],
    ['no replica at all', { replicas: [] }, 'no-voter'],
    ['node id 0', { replicas: reps('0v 2v') }, 'bad-node-id'],
    ['shard id 0', { id: 0 }, 'bad-shard-id'],
    ['negative epoch', { epoch: -1 }, 'bad-epoch'],
    ['fractional epoch', { epoch: 1.5 }, 'bad-epoch'],
    ['unknown role', { replicas: [{ node: 1, role: 'witness' }] }, 'bad-role'],
  ];
  for (const [name, patch, rule] of cases) {
    it(`refuses ${name} with INVALID_ARGUMENT (${rule})`, () => {
      expect(codeAndRule(() => validateDescriptor({ ...base, ...patch } as never))).toEqual({
        code: 'INVALID_ARGUMENT',
        rule,
      });
    });
  }
  it('accepts the whole keyspace [empty, null) and a single learner beside a voter', () => {
    expect(() => desc(1, '', null, '1v 2l')).not.toThrow();
  });
  it('owns private copies of its keys and sorts replicas by node', () => {
    const start = k('a');
    const d = makeDescriptor({ ...base, start, replicas: reps('3v 1v 2l') });
    start[0] = 0x7a;
    expect(printableKey(d.start)).toBe('a');
    expect(d.replicas.map((r) => r.node)).toEqual([1, 2, 3]);
    expect(Object.isFrozen(d)).toBe(true);
  });
  it('contains [start, end): start in, end out, null end unbounded', () => {
    const d = desc(1, 'b', 'd');
    expect(containsKey(d, k('b'))).toBe(true);
    expect(containsKey(d, k('c\xff'))).toBe(true);
    expect(containsKey(d, k('d'))).toBe(false);
    expect(containsKey(d, k('a'))).toBe(false);
    expect(containsKey(desc(1, 'b', null), k('zzzz'))).toBe(true);
    expect(containsKey(desc(1, '', 'b'), new Uint8Array(0))).toBe(true);
  });
});

describe('replica changes', () => {
  it('each bumps the epoch by one: add learner, promote, remove', () => {
    const d0 = desc(7, 'a', 'b', '1v 2v 3v', 4);
    const d1 = addLearner(d0, 4);
    expect(d1.epoch).toBe(5);
    expect(d1.replicas).toContainEqual({ node: 4, role: 'learner' });
    const d2 = promoteLearner(d1, 4);
    expect(d2.epoch).toBe(6);
    expect(d2.replicas).toContainEqual({ node: 4, role: 'voter' });
    const d3 = removeReplica(d2, 1);
    expect(d3.epoch).toBe(7);
    expect(d3.replicas.map((r) => r.node)).toEqual([2, 3, 4]);
    expect(d0.epoch).toBe(4); // immutable
  });
  it('refuses adding a node twice, promoting a voter, removing a stranger or the last voter', () => {
    const d = desc(7, 'a', 'b', '1v 2l');
    expect(codeAndRule(() => addLearner(d, 2)).code).toBe('INVALID_ARGUMENT');
    expect(codeAndRule(() => promoteLearner(d, 1)).code).toBe('INVALID_ARGUMENT');
    expect(codeAndRule(() => removeReplica(d, 9)).code).toBe('INVALID_ARGUMENT');
    expect(codeAndRule(() => removeReplica(d, 1))).toEqual({ code: 'INVALID_ARGUMENT', rule: 'no-voter' });
  });
});
