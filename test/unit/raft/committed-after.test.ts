/**
 * RaftCore.committedAfter: the committed entries a host may hand a removed replica (node/farewells.ts), with
 * the term at the start, bounded to one append, and nothing that is uncommitted or compacted away.
 */
import { describe, expect, it } from 'vitest';
import { Harness } from './harness';

describe('committedAfter', () => {
  it('returns committed entries after prevIndex with its term; null past the commit index or before the log', () => {
    const h = new Harness([1]);
    h.elect(1);
    for (let i = 0; i < 5; i++) h.propose(1, `v${i}`);
    const core = h.core(1);
    const { commit, term } = core.status();
    const all = core.committedAfter(0, commit, 1 << 20)!;
    expect(all.prevTerm).toBe(0);
    expect(all.entries.map((e) => e.index)).toEqual(Array.from({ length: commit }, (_, i) => i + 1));
    const tail = core.committedAfter(3, commit, 1 << 20)!;
    expect(tail.prevTerm).toBe(term);
    expect(tail.entries[0]!.index).toBe(4);
    expect(tail.entries.at(-1)!.index).toBe(commit);
    // One append's worth: a byte budget smaller than one entry still gives one entry.
    expect(core.committedAfter(3, commit, 1)!.entries).toHaveLength(1);
    expect(core.committedAfter(commit, commit + 1, 1 << 20)).toBeNull(); // not committed
    expect(core.committedAfter(commit, commit, 1 << 20)).toBeNull(); // nothing after
    h.node(1).compact(4);
    expect(core.committedAfter(2, commit, 1 << 20)).toBeNull(); // compacted away
    expect(core.committedAfter(4, commit, 1 << 20)!.prevTerm).toBe(term); // the snapshot's own index
  });
});
