import { describe, expect, it } from 'vitest';
import { Random } from '../../../src/base';
import { RaftCore, defaultRaftConfig } from '../../../src/raft';
import type { Message } from '../../../src/raft';
import { Harness } from './harness';

const restoreFor = (voters: number[]) => ({
  hardState: { term: 0, vote: 0, commit: 0 },
  snapshot: null,
  entries: [],
  initialConfig: { voters, learners: [], votersOutgoing: [] },
  applied: 0,
});

describe('elections', () => {
  it('randomized election timeout lies in [electionTicks, 2*electionTicks) and varies by seed', () => {
    const seen = new Set<number>();
    for (let seed = 1; seed <= 200; seed++) {
      const core = new RaftCore({ ...defaultRaftConfig(1), preVote: false }, restoreFor([1, 2, 3]), new Random(seed));
      let ticks = 0;
      while (core.status().role === 'follower') {
        core.tick();
        ticks++;
        expect(ticks).toBeLessThan(20);
      }
      expect(ticks).toBeGreaterThanOrEqual(10);
      seen.add(ticks);
    }
    expect(seen.size).toBeGreaterThan(5);
  });

  it('a single-voter cluster elects itself only after persisting its vote, then commits', () => {
    const h = new Harness([1]);
    const core = h.core(1);
    for (let i = 0; i < 20 && core.status().role === 'follower'; i++) core.tick();
    expect(core.status().role).toBe('candidate');
    const rd = core.ready();
    expect(rd.hardState).toEqual({ term: 1, vote: 1, commit: 0 });
    expect(core.status().role).toBe('candidate');
    core.advance(rd);
    expect(core.status().role).toBe('leader');
    h.stabilize();
    expect(core.status().commit).toBe(1);
    expect(h.propose(1, 'x')).toEqual({ ok: true, index: 2, term: 1 });
    expect(h.node(1).sm).toEqual(['x']);
  });

  it('elects a leader without PreVote; everyone learns it; log holds the leader empty entry', () => {
    const h = new Harness([1, 2, 3]);
    h.elect(1);
    expect(h.leaders()).toEqual([1]);
    for (const id of [1, 2, 3]) {
      const st = h.core(id).status();
      expect(st.term).toBe(1);
      expect(st.leader).toBe(1);
      expect(st.commit).toBe(1);
    }
    expect(h.node(2).appliedEntries.map((e) => e.kind)).toEqual(['empty']);
  });

  it('elects a leader with PreVote; pre-vote does not bump terms', () => {
    const h = new Harness([1, 2, 3], { preVote: true });
    const core = h.core(1);
    for (let i = 0; i < 100 && core.status().role === 'follower'; i++) core.tick();
    expect(core.status().role).toBe('preCandidate');
    expect(core.status().term).toBe(0);
    h.stabilize();
    expect(h.leaders()).toEqual([1]);
    expect(core.status().term).toBe(1);
  });

  it('PreVote: a partitioned node does not inflate its term and does not disrupt on return', () => {
    const h = new Harness([1, 2, 3], { preVote: true });
    h.elect(1);
    h.isolate(3);
    for (let i = 0; i < 100; i++) {
      h.tick(3);
      h.stabilize();
    }
    expect(h.core(3).status().term).toBe(1);
    h.heal();
    h.tickAll(3);
    expect(h.leaders()).toEqual([1]);
    expect(h.core(1).status().term).toBe(1);
  });

  it('without PreVote a partitioned node inflates its term and deposes the leader on return', () => {
    const h = new Harness([1, 2, 3]);
    h.elect(1);
    h.isolate(3);
    for (let i = 0; i < 100; i++) {
      h.tick(3);
      h.stabilize();
    }
    expect(h.core(3).status().term).toBeGreaterThan(2);
    h.heal();
    h.tickAll(30);
    expect(h.leaders().length).toBe(1);
    expect(h.core(1).status().term).toBeGreaterThan(2);
  });

  it('a split vote elects nobody in its term and is resolved by randomized timeouts', () => {
    for (let seed = 1; seed <= 10; seed++) {
      const h = new Harness([1, 2, 3, 4], { seed });
      // 2 only hears 1, 4 only hears 3: both campaign in term 1 and get 2 of 4 votes each.
      h.cut(1, 4);
      h.cut(3, 2);
      for (const id of [1, 3]) {
        const core = h.core(id);
        for (let i = 0; i < 30 && core.status().role === 'follower'; i++) core.tick();
      }
      h.stabilize();
      expect(h.core(1).status()).toMatchObject({ role: 'candidate', term: 1 });
      expect(h.core(3).status()).toMatchObject({ role: 'candidate', term: 1 });
      expect(h.leaders()).toEqual([]);
      h.heal();
      for (let i = 0; i < 100 && h.leaders().length === 0; i++) h.tickAll(1);
      expect(h.leaders().length, `seed ${seed}`).toBe(1);
      expect(h.core(h.leaders()[0]!).status().term).toBeGreaterThan(1);
    }
  });

  it('a stale leader steps down when it sees a higher term', () => {
    const h = new Harness([1, 2, 3]);
    h.elect(1);
    h.isolate(1);
    h.elect(2);
    expect(h.core(1).status().role).toBe('leader');
    h.heal();
    h.tickAll(1); // 1's heartbeat reaches followers at term 2; their response carries term 2
    expect(h.core(1).status().role).toBe('follower');
    expect(h.core(1).status().leader).toBe(2);
    expect(h.leaders()).toEqual([2]);
  });

  it('a voter rejects a candidate whose log is less up to date', () => {
    const h = new Harness([1, 2, 3]);
    h.elect(1);
    h.isolate(3);
    h.propose(1, 'a');
    h.heal();
    h.isolate(1);
    // 3 lacks entry 2: it cannot win 2's vote; 2 can win.
    const core3 = h.core(3);
    for (let i = 0; i < 100 && core3.status().role === 'follower'; i++) core3.tick();
    h.stabilize();
    expect(core3.status().role).not.toBe('leader');
    h.elect(2);
    expect(h.core(2).status().lastIndex).toBe(3);
  });

  it('votes go out only after the vote is persisted (messagesAfterPersist)', () => {
    const core = new RaftCore(
      { ...defaultRaftConfig(2), preVote: false, checkQuorum: false },
      restoreFor([1, 2, 3]),
      new Random(1),
    );
    const vote: Message = { type: 'vote', from: 1, to: 2, term: 1, lastLogIndex: 0, lastLogTerm: 0, transfer: false };
    core.step(vote);
    const rd = core.ready();
    expect(rd.hardState).toEqual({ term: 1, vote: 1, commit: 0 });
    expect(rd.messagesNow).toEqual([]);
    expect(rd.messagesAfterPersist).toEqual([{ type: 'voteResp', from: 2, to: 1, term: 1, reject: false }]);
    core.advance(rd);
  });

  it('unsafe.ackBeforePersist releases votes at once', () => {
    const core = new RaftCore(
      { ...defaultRaftConfig(2), preVote: false, checkQuorum: false, unsafe: { ackBeforePersist: true } },
      restoreFor([1, 2, 3]),
      new Random(1),
    );
    core.step({ type: 'vote', from: 1, to: 2, term: 1, lastLogIndex: 0, lastLogTerm: 0, transfer: false });
    const rd = core.ready();
    expect(rd.messagesNow.map((m) => m.type)).toEqual(['voteResp']);
    expect(rd.messagesAfterPersist).toEqual([]);
  });

  it('a node grants one vote per term', () => {
    const core = new RaftCore(
      { ...defaultRaftConfig(2), preVote: false, checkQuorum: false },
      restoreFor([1, 2, 3]),
      new Random(1),
    );
    core.step({ type: 'vote', from: 1, to: 2, term: 1, lastLogIndex: 0, lastLogTerm: 0, transfer: false });
    core.step({ type: 'vote', from: 3, to: 2, term: 1, lastLogIndex: 0, lastLogTerm: 0, transfer: false });
    const rd = core.ready();
    expect(rd.messagesAfterPersist.map((m) => [m.to, m.type === 'voteResp' && m.reject])).toEqual([
      [1, false],
      [3, true],
    ]);
  });
});
