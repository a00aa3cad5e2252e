import { describe, expect, it } from 'vitest';
import { InvariantError } from '../../../src/base';
import type { Entry } from '../../../src/raft';
import { Inflights } from '../../../src/raft/inflights';
import { applyChange, validateChange } from '../../../src/raft/membership';
import { Progress } from '../../../src/raft/progress';
import { RaftLog } from '../../../src/raft/raft-log';

const ent = (index: number, term: number): Entry => ({ kind: 'empty', index, term });
const log = (...terms: number[]) => terms.map((t, i) => ent(i + 1, t));

describe('Inflights', () => {
  it('is a bounded FIFO freed by cumulative acks', () => {
    const f = new Inflights(3);
    f.add(2);
    f.add(5);
    f.add(9);
    expect(f.full()).toBe(true);
    expect(() => f.add(10)).toThrow(InvariantError);
    f.freeLE(5);
    expect(f.count).toBe(1);
    f.add(12);
    f.add(13);
    expect(f.full()).toBe(true);
    f.freeFirstOne();
    expect(f.count).toBe(2);
    f.freeLE(100);
    expect(f.count).toBe(0);
  });
});

describe('Progress', () => {
  it('probe sends one message at a time; replicate pipelines up to the window', () => {
    const p = new Progress(5, 2, false);
    expect(p.isPaused()).toBe(false);
    p.sentEntries(1, 5);
    expect(p.isPaused()).toBe(true);
    expect(p.maybeUpdate(5)).toBe(true);
    p.becomeReplicate();
    expect(p.next).toBe(6);
    p.sentEntries(2, 7);
    p.sentEntries(1, 8);
    expect(p.isPaused()).toBe(true);
    expect(p.next).toBe(9);
    p.maybeUpdate(7);
    p.inflights.freeLE(7);
    expect(p.isPaused()).toBe(false);
  });

  it('maybeDecrTo ignores stale rejections and uses the hint', () => {
    const table: [string, number, number, number, number, boolean, number][] = [
      // state, match, next, rejected, hint, wantChanged, wantNext
      ['probe', 0, 10, 9, 3, true, 4],
      ['probe', 0, 10, 5, 3, false, 10], // stale: not the probe in flight
      ['probe', 2, 10, 9, 0, true, 3], // never below match + 1
      ['replicate', 5, 10, 4, 0, false, 10], // stale: at or below match
      ['replicate', 5, 10, 8, 0, true, 6],
    ];
    for (const [state, match, next, rejected, hint, changed, wantNext] of table) {
      const p = new Progress(next, 4, false);
      p.match = match;
      if (state === 'replicate') {
        p.becomeReplicate();
        p.next = next;
      }
      expect(p.maybeDecrTo(rejected, hint)).toBe(changed);
      expect(p.next).toBe(wantNext);
    }
  });

  it('snapshot state pauses; leaving it probes past the snapshot', () => {
    const p = new Progress(3, 4, false);
    p.becomeSnapshot(20);
    expect(p.isPaused()).toBe(true);
    p.becomeProbe();
    expect(p.next).toBe(21);
  });
});

describe('RaftLog', () => {
  it('maybeAppend: match, skip duplicates, truncate a conflicting suffix, reject a gap', () => {
    const l = new RaftLog(null, log(1, 1, 2, 2), 1, 1);
    expect(l.maybeAppend(4, 2, [ent(5, 2)])).toBe(5);
    expect(l.maybeAppend(2, 1, [ent(3, 2)])).toBe(3); // duplicate prefix: nothing truncated
    expect(l.lastIndex()).toBe(5);
    expect(l.maybeAppend(2, 1, [ent(3, 3)])).toBe(3); // conflict at 3: suffix replaced
    expect(l.lastIndex()).toBe(3);
    expect(l.term(3)).toBe(3);
    expect(l.maybeAppend(7, 3, [ent(8, 3)])).toBe(-1);
    expect(l.maybeAppend(3, 2, [])).toBe(-1); // term mismatch
  });

  it('never truncates committed entries', () => {
    const l = new RaftLog(null, log(1, 1, 1), 3, 1);
    expect(() => l.maybeAppend(1, 1, [ent(2, 2)])).toThrow(InvariantError);
  });

  it('findConflictByTerm and isUpToDate', () => {
    const l = new RaftLog(null, log(1, 1, 2, 2, 4, 4), 0, 0);
    expect(l.findConflictByTerm(6, 3)).toBe(4);
    expect(l.findConflictByTerm(6, 4)).toBe(6);
    expect(l.findConflictByTerm(6, 1)).toBe(2);
    expect(l.findConflictByTerm(6, 0)).toBe(0);
    expect(l.isUpToDate(6, 4)).toBe(true);
    expect(l.isUpToDate(5, 4)).toBe(false);
    expect(l.isUpToDate(1, 5)).toBe(true);
  });

  it('compaction keeps terms at the boundary and slices respect byte limits', () => {
    const data = (index: number, term: number, n: number): Entry => ({
      kind: 'normal',
      index,
      term,
      data: new Uint8Array(n),
    });
    const l = new RaftLog(null, [data(1, 1, 10), data(2, 1, 10), data(3, 2, 10), data(4, 2, 10)], 4, 4);
    expect(l.slice(1, 5, 25).map((e) => e.index)).toEqual([1, 2]);
    expect(l.slice(1, 5, 1).map((e) => e.index)).toEqual([1]);
    l.compact(3);
    expect(l.firstIndex()).toBe(4);
    expect(l.term(3)).toBe(2);
    expect(l.term(2)).toBe(-1);
    expect(() => l.compact(5)).toThrow(InvariantError);
  });
});

describe('membership', () => {
  const c = { voters: [1, 2, 3], learners: [4], votersOutgoing: [] };
  it('validates one change at a time', () => {
    expect(validateChange(c, { type: 'addVoter', node: 4 })).toBeNull(); // promotion
    expect(validateChange(c, { type: 'addVoter', node: 1 })).toBe('invalidChange');
    expect(validateChange(c, { type: 'addLearner', node: 4 })).toBe('invalidChange');
    expect(validateChange(c, { type: 'removeNode', node: 9 })).toBe('unknownNode');
    expect(validateChange({ voters: [1], learners: [], votersOutgoing: [] }, { type: 'removeNode', node: 1 })).toBe(
      'invalidChange',
    );
  });
  it('applies changes', () => {
    expect(applyChange(c, { type: 'addVoter', node: 4 })).toEqual({
      voters: [1, 2, 3, 4],
      learners: [],
      votersOutgoing: [],
    });
    expect(applyChange(c, { type: 'addLearner', node: 2 })).toEqual({
      voters: [1, 3],
      learners: [4, 2],
      votersOutgoing: [],
    });
    expect(applyChange(c, { type: 'removeNode', node: 4 })).toEqual({
      voters: [1, 2, 3],
      learners: [],
      votersOutgoing: [],
    });
  });
});
