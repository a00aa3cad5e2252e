import { describe, expect, it } from 'vitest';
import { Harness } from './harness';

describe('ReadIndex', () => {
  it('a follower answers notLeader with the leader hint (the host forwards); noLeader without one', () => {
    const h = new Harness([1, 2, 3]);
    expect(h.core(2).readIndex(7)).toEqual({ ok: false, reason: 'noLeader', leader: 0 });
    h.elect(1);
    expect(h.core(2).readIndex(7)).toEqual({ ok: false, reason: 'notLeader', leader: 1 });
  });

  it('a single-voter cluster answers at once with the commit index', () => {
    const h = new Harness([1]);
    h.elect(1);
    h.propose(1, 'a');
    expect(h.core(1).readIndex(5)).toEqual({ ok: true });
    h.stabilize();
    expect(h.node(1).readStates).toEqual([{ context: 5, index: 2 }]);
  });

  it('confirms leadership with one heartbeat round shared by reads arriving before it goes out', () => {
    const h = new Harness([1, 2, 3]);
    h.elect(1);
    h.propose(1, 'a');
    const leader = h.core(1);
    leader.readIndex(1);
    leader.readIndex(2);
    const rd = leader.ready();
    const heartbeats = rd.messagesNow.filter((m) => m.type === 'heartbeat');
    expect(heartbeats.length).toBe(2); // one round: one heartbeat per follower
    expect(new Set(heartbeats.map((m) => m.type === 'heartbeat' && m.context)).size).toBe(1);
    expect(rd.readStates).toEqual([]);
    h.queue.push(...rd.messagesNow);
    leader.advance(rd);
    h.stabilize();
    expect(h.node(1).readStates).toEqual([
      { context: 1, index: 2 },
      { context: 2, index: 2 },
    ]);
  });

  it('needs a quorum of acks: no read state while the leader is cut off', () => {
    const h = new Harness([1, 2, 3]);
    h.elect(1);
    h.isolate(1);
    h.core(1).readIndex(9);
    h.stabilize();
    h.tickAll(3);
    expect(h.node(1).readStates).toEqual([]);
    h.heal();
    h.tickAll(1);
    expect(h.node(1).readStates).toEqual([{ context: 9, index: 1 }]);
  });

  it('a new leader defers reads until it has committed an entry of its term', () => {
    const h = new Harness([1, 2, 3]);
    h.elect(1);
    h.propose(1, 'a');
    h.isolate(1);
    // 2 wins, but its appends are lost, so its term-2 empty entry stays uncommitted; heartbeats flow.
    h.dropIf = (m) => m.from === 2 && m.type === 'append';
    h.elect(2);
    const leader2 = h.core(2);
    const emptyIndex = leader2.status().lastIndex;
    expect(leader2.status().commit).toBeLessThan(emptyIndex);
    expect(leader2.readIndex(3)).toEqual({ ok: true });
    h.tickAll(3); // heartbeat rounds are acknowledged by 3, yet the read must wait
    expect(h.node(2).readStates).toEqual([]);
    h.dropIf = null;
    h.tickAll(2);
    const rs = h.node(2).readStates;
    expect(rs.length).toBe(1);
    expect(rs[0]!.context).toBe(3);
    // The read index covers the new term's first entry (hence everything committed before it).
    expect(rs[0]!.index).toBeGreaterThanOrEqual(emptyIndex);
  });

  it('reads pending at a deposed leader fail; they are never answered from the old term', () => {
    const h = new Harness([1, 2, 3]);
    h.elect(1);
    h.isolate(1);
    h.core(1).readIndex(4);
    h.stabilize();
    h.elect(2);
    h.propose(2, 'newer');
    h.heal();
    h.tickAll(2);
    expect(h.core(1).status().role).toBe('follower');
    expect(h.node(1).readStates).toEqual([]);
    expect(h.node(1).readsFailed).toEqual([{ context: 4, reason: 'notLeader' }]);
  });

  it('a read answered after a leader change reflects writes committed by the new leader', () => {
    const h = new Harness([1, 2, 3]);
    h.elect(1);
    h.propose(1, 'a');
    h.isolate(1);
    h.elect(2);
    h.propose(2, 'b');
    h.heal();
    h.tickAll(2);
    h.core(2).readIndex(11);
    h.stabilize();
    const rs = h.node(2).readStates.find((r) => r.context === 11)!;
    expect(rs.index).toBe(h.core(2).status().commit);
    expect(h.node(2).sm.slice(0, 2)).toEqual(['a', 'b']);
  });

  it('bounds the queue of pending reads', () => {
    const h = new Harness([1, 2, 3], { pendingReadsMax: 2 });
    h.elect(1);
    h.isolate(1);
    expect(h.core(1).readIndex(1).ok).toBe(true);
    expect(h.core(1).readIndex(2).ok).toBe(true);
    expect(h.core(1).readIndex(3)).toEqual({ ok: false, reason: 'tooLarge', leader: 1 });
  });
});
