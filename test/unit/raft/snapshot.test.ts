import { describe, expect, it } from 'vitest';
import { TesseraError } from '../../../src/base';
import type { Message } from '../../../src/raft';
import { Harness } from './harness';

describe('snapshots and compaction', () => {
  it('compact(index) drops the log prefix; compacting beyond applied is rejected', () => {
    const h = new Harness([1]);
    h.elect(1);
    for (let i = 0; i < 5; i++) h.propose(1, `v${i}`);
    const core = h.core(1);
    expect(() => core.compact(100)).toThrow(TesseraError);
    h.node(1).compact(4);
    expect(core.status()).toMatchObject({ firstIndex: 5, lastIndex: 6, applied: 6 });
    h.propose(1, 'after');
    expect(h.node(1).sm).toEqual(['v0', 'v1', 'v2', 'v3', 'v4', 'after']);
  });

  it('the leader sends a snapshot (meta at its applied index) to a follower whose entries were compacted', () => {
    const h = new Harness([1, 2, 3]);
    h.elect(1);
    h.crash(3);
    for (let i = 0; i < 10; i++) h.propose(1, `v${i}`);
    h.node(1).compact(h.core(1).status().applied);
    h.node(2).compact(h.core(2).status().applied);
    h.restart(3);
    h.delivered = [];
    h.tickAll(2);
    const snaps = h.delivered.filter((m): m is Message & { type: 'snapshot' } => m.type === 'snapshot');
    expect(snaps.length).toBe(1);
    expect(snaps[0]!.snapshot.meta).toEqual({
      index: 11,
      term: 1,
      config: { voters: [1, 2, 3], learners: [], votersOutgoing: [] },
    });
    expect(h.node(3).sm).toEqual(['v0', 'v1', 'v2', 'v3', 'v4', 'v5', 'v6', 'v7', 'v8', 'v9']);
    expect(h.core(3).status()).toMatchObject({ commit: 11, applied: 11, firstIndex: 12 });
    h.propose(1, 'next');
    expect(h.node(3).sm.at(-1)).toBe('next');
    expect(h.core(1).status().progress!.get(3)).toMatchObject({ state: 'replicate', match: 12 });
  });

  it('a failed snapshot send is retried', () => {
    const h = new Harness([1, 2, 3]);
    h.elect(1);
    h.crash(3);
    for (let i = 0; i < 5; i++) h.propose(1, `v${i}`);
    h.node(1).compact(h.core(1).status().applied);
    h.restart(3);
    let dropped = 0;
    h.dropIf = (m) => m.type === 'snapshot' && dropped++ < 1;
    h.tickAll(5);
    expect(dropped).toBe(2);
    expect(h.node(3).sm.length).toBe(5);
  });

  it('restarts from RestoreState: snapshot + entries + hard state; keeps serving', () => {
    const h = new Harness([1, 2, 3]);
    h.elect(1);
    for (let i = 0; i < 6; i++) h.propose(1, `v${i}`);
    for (const id of [1, 2, 3]) h.node(id).compact(4);
    h.propose(1, 'v6');
    const before = h.core(2).status();
    for (const id of [1, 2, 3]) h.restart(id);
    const after = h.core(2).status();
    expect(after).toMatchObject({
      term: before.term,
      commit: before.commit,
      applied: before.applied,
      firstIndex: 5,
      lastIndex: before.lastIndex,
    });
    expect(after.role).toBe('follower');
    h.elect(2);
    h.propose(2, 'v7');
    for (const id of [1, 2, 3]) expect(h.node(id).sm).toEqual(['v0', 'v1', 'v2', 'v3', 'v4', 'v5', 'v6', 'v7']);
  });

  it('restart re-applies committed entries after the durable applied index, exactly once', () => {
    const h = new Harness([1]);
    h.elect(1);
    h.propose(1, 'a');
    const n = h.node(1);
    // Pretend the state machine had durably applied only index 1 before the crash.
    n.appliedIndex = 1;
    n.sm = [];
    n.appliedEntries = n.appliedEntries.slice(0, 1);
    h.restart(1);
    h.stabilize();
    expect(n.sm).toEqual(['a']);
  });

  it('a restarted node never regresses its hard state', () => {
    const h = new Harness([1, 2, 3]);
    h.elect(1);
    h.propose(1, 'x');
    const hs = { ...h.node(2).hardState };
    h.restart(2);
    h.tickAll(3);
    expect(h.node(2).hardState.term).toBeGreaterThanOrEqual(hs.term);
    expect(h.node(2).hardState.commit).toBeGreaterThanOrEqual(hs.commit);
  });
});
