// The host's pure split pieces: which groups a node opens (split-groups.ts), the parent's configuration at
// the split entry, and the bounded buffer of messages for groups that open in a moment (early-messages.ts).
import { describe, expect, it } from 'vitest';
import type { Entry } from '../../../src/raft';
import { EarlyMessages } from '../../../src/node/early-messages';
import { configAtSplit, kvGroupsToOpen, splitGroupRaftStart } from '../../../src/node/split-groups';
import { overlappingShard, overlappingStagedShard } from '../../../src/node/local-shards';

describe('kvGroupsToOpen', () => {
  it('opens the bootstrap shard, every split group, never the meta group, and finds split groups without Raft state', () => {
    expect(kvGroupsToOpen(1, 2, [1, 2, 3], [1, 3, 7])).toEqual({
      open: [1, 3, 7],
      withoutRaftState: [7],
      uninitialized: [],
    });
    expect(kvGroupsToOpen(1, 2, [], [])).toEqual({ open: [1], withoutRaftState: [], uninitialized: [] });
  });
  it('a group with Raft state but no shard record (not the bootstrap shard) is an uninitialized replica', () => {
    expect(kvGroupsToOpen(1, 2, [1, 2, 9], [1])).toEqual({ open: [1, 9], withoutRaftState: [], uninitialized: [9] });
  });
});

describe('the Raft start of a right-hand group', () => {
  it('is a snapshot at (5, 5) with the configuration given, a hard state at term 5 without a vote', () => {
    const w = splitGroupRaftStart(4, { voters: [1, 2, 3], learners: [4], votersOutgoing: [] });
    expect(w).toEqual({
      groupId: 4,
      hardState: { term: 5, vote: 0, commit: 5 },
      entries: [],
      snapshot: { index: 5, term: 5, config: { voters: [1, 2, 3], learners: [4], votersOutgoing: [] } },
    });
  });
  it('keeps the term and vote an uninitialized replica of the group gave before the split applied here', () => {
    const config = { voters: [1, 2, 3], learners: [], votersOutgoing: [] };
    expect(splitGroupRaftStart(4, config, { term: 7, vote: 2, commit: 0 }).hardState).toEqual({
      term: 7,
      vote: 2,
      commit: 5,
    });
    expect(splitGroupRaftStart(4, config, { term: 0, vote: 0, commit: 0 }).hardState).toEqual({
      term: 5,
      vote: 0,
      commit: 5,
    });
  });
  it('takes the configuration as of the split entry: config entries before it in the batch, not after', () => {
    const base = { voters: [1, 2, 3], learners: [], votersOutgoing: [] };
    const cfg = (index: number, node: number): Entry =>
      ({ kind: 'config', index, term: 2, change: { type: 'addLearner', node } }) as unknown as Entry;
    const normal = (index: number): Entry => ({ kind: 'normal', index, term: 2, data: new Uint8Array() }) as Entry;
    const batch = [cfg(10, 4), normal(11), cfg(12, 5)];
    expect(configAtSplit(base, batch, 11).learners).toEqual([4]);
    expect(configAtSplit(base, batch, 10).learners).toEqual([]);
  });
});

describe('EarlyMessages', () => {
  it('keeps messages per group in order, hands them out once, and drops old ones', () => {
    const early = new EarlyMessages(1000);
    expect(early.add(7, 1, Buffer.from('a'), 0)).toBe(true);
    expect(early.add(7, 2, Buffer.from('b'), 500)).toBe(true);
    expect(early.take(7, 600).map((m) => m.buf.toString())).toEqual(['a', 'b']);
    expect(early.take(7, 600)).toEqual([]);
    early.add(8, 1, Buffer.from('old'), 0);
    expect(early.take(8, 1001)).toEqual([]);
  });
  it('is bounded in groups, messages per group and bytes', () => {
    const early = new EarlyMessages(10_000);
    for (let g = 0; g < 64; g++) expect(early.add(g, 1, Buffer.alloc(1), 0)).toBe(true);
    expect(early.add(64, 1, Buffer.alloc(1), 0)).toBe(false);
    for (let i = 1; i < 16; i++) expect(early.add(0, 1, Buffer.alloc(1), 0)).toBe(true);
    expect(early.add(0, 1, Buffer.alloc(1), 0)).toBe(false);
    expect(early.add(1, 1, Buffer.alloc(1024 * 1024), 0)).toBe(false);
    expect(early.size).toBe(64 + 15);
  });
});

describe('overlappingShard (rule 2 of the split/snapshot race)', () => {
  const g = (id: number, start: string, end: string | null) =>
    ({ id, kvSm: { shard: { start: Buffer.from(start), end: end === null ? null : Buffer.from(end) } } }) as never;
  const range = (start: string, end: string | null) => ({
    start: Buffer.from(start),
    end: end === null ? null : Buffer.from(end),
  });
  it('finds a group not yet narrowed by the split, never the receiving group itself', () => {
    const parent = g(1, '', null); // this node has not applied the split at m yet
    const right = g(3, '', null); // the uninitialized replica receiving [m, +inf)
    expect(overlappingShard(range('m', null), [parent, right], right)).toBe(parent);
  });
  it('passes once the parent narrowed, and for ranges that only touch', () => {
    const parent = g(1, '', 'm');
    const right = g(3, '', null);
    expect(overlappingShard(range('m', null), [parent, right], right)).toBeNull();
    expect(overlappingShard(range('a', 'c'), [g(5, 'c', 'f'), g(6, '', 'a')], right)).toBeNull();
    expect(overlappingShard(range('a', 'd'), [g(5, 'c', 'f')], right)).not.toBeNull();
  });
});

describe('overlappingStagedShard (rule 2 against snapshots staged, not installed yet)', () => {
  const range = (start: string, end: string | null) => ({
    start: Buffer.from(start),
    end: end === null ? null : Buffer.from(end),
  });
  /** A group staging a snapshot of `staged` (undefined: still streaming; null: none staging). */
  const g = (id: number, staged: ReturnType<typeof range> | undefined | null) =>
    ({
      id,
      staging: staged === null ? null : { id: `s${id}` },
      kv: {
        stagedShard: () => {
          if (staged === undefined) throw new Error('snapshot s is incomplete');
          return staged;
        },
      },
    }) as never;
  it("refuses a snapshot overlapping another group's completely staged one (the parent's from before a split and the right-hand group's, both new here)", () => {
    const parent = g(2, range('k2', null)); // staged: [k2, +inf), taken before the split at k3
    const right = g(3, null); // receiving [k3, +inf) now
    expect(overlappingStagedShard(range('k3', null), [parent, right], right)).toBe(parent);
  });
  it('passes when the other snapshot is still streaming (it checks itself when complete), when none is staged, and when ranges only touch', () => {
    const receiving = g(3, null);
    expect(overlappingStagedShard(range('k3', null), [g(2, undefined), receiving], receiving)).toBeNull();
    expect(overlappingStagedShard(range('k3', null), [g(2, null), receiving], receiving)).toBeNull();
    expect(overlappingStagedShard(range('k3', null), [g(2, range('a', 'k3')), receiving], receiving)).toBeNull();
    const self = g(3, range('k3', null));
    expect(overlappingStagedShard(range('k3', null), [self], self)).toBeNull(); // its own staged snapshot
  });
});
