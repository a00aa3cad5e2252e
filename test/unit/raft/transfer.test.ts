import { describe, expect, it } from 'vitest';
import { Harness, enc } from './harness';

describe('leadership transfer', () => {
  it('to an up-to-date follower: TimeoutNow, the target wins at once, the old leader follows', () => {
    const h = new Harness([1, 2, 3], { preVote: true, checkQuorum: true });
    h.elect(1);
    h.propose(1, 'a');
    expect(h.core(1).transferLeader(2)).toEqual({ ok: true });
    h.stabilize();
    expect(h.leaders()).toEqual([2]);
    expect(h.core(1).status()).toMatchObject({ role: 'follower', leader: 2 });
    expect(h.propose(2, 'b').ok).toBe(true);
    expect(h.node(1).sm).toEqual(['a', 'b']);
  });

  it('to a lagging follower: proposals stop, the target catches up first, then takes over', () => {
    const h = new Harness([1, 2, 3], { checkQuorum: true });
    h.elect(1);
    h.isolate(3);
    for (let i = 0; i < 5; i++) h.propose(1, `v${i}`);
    h.heal();
    const leader = h.core(1);
    expect(leader.transferLeader(3)).toEqual({ ok: true });
    expect(leader.status().transferee).toBe(3);
    expect(leader.propose(enc('blocked'))).toEqual({ ok: false, reason: 'transferInProgress', leader: 1 });
    expect(leader.readIndex(1)).toEqual({ ok: false, reason: 'transferInProgress', leader: 1 });
    h.stabilize();
    h.tickAll(2);
    expect(h.leaders()).toEqual([3]);
    expect(h.node(3).sm).toEqual(['v0', 'v1', 'v2', 'v3', 'v4']);
  });

  it('aborts after an election timeout when the target does not take over', () => {
    const h = new Harness([1, 2, 3], { electionTicks: 10 });
    h.elect(1);
    h.isolate(3);
    h.propose(1, 'a');
    expect(h.core(1).transferLeader(3).ok).toBe(true);
    for (let i = 0; i < 9; i++) h.tickAll(1);
    expect(h.core(1).status().transferee).toBe(3);
    h.tickAll(1);
    expect(h.core(1).status()).toMatchObject({ role: 'leader', transferee: 0 });
    expect(h.propose(1, 'b').ok).toBe(true);
  });

  it('rejects bad targets', () => {
    const h = new Harness([1, 2, 3, 4], { learners: [4] });
    expect(h.core(1).transferLeader(2)).toEqual({ ok: false, reason: 'notLeader', leader: 0 });
    h.elect(1);
    expect(h.core(1).transferLeader(1)).toEqual({ ok: false, reason: 'isSelf', leader: 1 });
    expect(h.core(1).transferLeader(9)).toEqual({ ok: false, reason: 'unknownNode', leader: 1 });
    expect(h.core(1).transferLeader(4)).toEqual({ ok: false, reason: 'learner', leader: 1 });
  });
});
