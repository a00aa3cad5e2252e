import { describe, expect, it } from 'vitest';
import { committedIndex, isSoleVoter, majorityIndex, voteResult } from '../../../src/raft/quorum';

const src = (m: Record<number, number>) => ({ indexOf: (id: number) => m[id] ?? 0 });

describe('quorum: majority committed index', () => {
  const table: [number[], Record<number, number>, number][] = [
    [[1], { 1: 5 }, 5],
    [[1, 2], { 1: 5, 2: 3 }, 3],
    [[1, 2, 3], { 1: 5, 2: 3, 3: 1 }, 3],
    [[1, 2, 3], { 1: 5, 2: 5, 3: 1 }, 5],
    [[1, 2, 3], { 1: 5 }, 0],
    [[1, 2, 3, 4], { 1: 9, 2: 8, 3: 7, 4: 6 }, 8 - 1],
    [[1, 2, 3, 4, 5], { 1: 9, 2: 1, 3: 7, 4: 2, 5: 8 }, 7],
    [[1, 2, 3, 4, 5], { 1: 9, 2: 9 }, 0],
  ];
  it.each(table)('voters %j matches %j -> %i', (voters, matches, want) => {
    expect(majorityIndex(voters, src(matches))).toBe(want);
  });
  it('an empty voter set is neutral; joint takes the smaller majority', () => {
    expect(majorityIndex([], src({}))).toBe(Infinity);
    expect(committedIndex({ voters: [1, 2, 3], votersOutgoing: [] }, src({ 1: 4, 2: 4, 3: 1 }))).toBe(4);
    expect(
      committedIndex({ voters: [1, 2, 3], votersOutgoing: [3, 4, 5] }, src({ 1: 4, 2: 4, 3: 1, 4: 2, 5: 9 })),
    ).toBe(2);
  });
});

describe('quorum: vote result', () => {
  const v = (o: Record<number, boolean>) => new Map(Object.entries(o).map(([k, b]) => [Number(k), b]));
  const table: [number[], Record<number, boolean>, string][] = [
    [[1], { 1: true }, 'won'],
    [[1], {}, 'pending'],
    [[1], { 1: false }, 'lost'],
    [[1, 2, 3], { 1: true }, 'pending'],
    [[1, 2, 3], { 1: true, 2: true }, 'won'],
    [[1, 2, 3], { 1: true, 2: false }, 'pending'],
    [[1, 2, 3], { 1: true, 2: false, 3: false }, 'lost'],
    [[1, 2, 3, 4], { 1: true, 2: true }, 'pending'],
    [[1, 2, 3, 4], { 1: true, 2: true, 3: false, 4: false }, 'lost'],
    [[1, 2, 3, 4], { 1: true, 2: true, 3: true }, 'won'],
    [[1, 2, 3, 4, 5], { 1: true, 2: true, 3: false, 4: false }, 'pending'],
    [[1, 2, 3, 4, 5], { 1: false, 2: false, 3: false }, 'lost'],
  ];
  it.each(table)('voters %j votes %j -> %s', (voters, votes, want) => {
    expect(voteResult({ voters, votersOutgoing: [] }, v(votes))).toBe(want);
  });
  it('joint: both halves must win; a loss in either loses', () => {
    expect(voteResult({ voters: [1, 2, 3], votersOutgoing: [3, 4, 5] }, v({ 1: true, 2: true }))).toBe('pending');
    expect(
      voteResult({ voters: [1, 2, 3], votersOutgoing: [3, 4, 5] }, v({ 1: true, 2: true, 3: true, 4: true })),
    ).toBe('won');
    expect(
      voteResult(
        { voters: [1, 2, 3], votersOutgoing: [3, 4, 5] },
        v({ 1: true, 2: true, 3: false, 4: false, 5: false }),
      ),
    ).toBe('lost');
  });
  it('sole voter', () => {
    expect(isSoleVoter({ voters: [1], votersOutgoing: [] }, 1)).toBe(true);
    expect(isSoleVoter({ voters: [1, 2], votersOutgoing: [] }, 1)).toBe(false);
    expect(isSoleVoter({ voters: [2], votersOutgoing: [] }, 1)).toBe(false);
  });
});
