/**
 * Votes of nodes whose own configuration does not list them as voters (learners, removed nodes). Such a
 * node may have been promoted, or another voter removed, by entries it has not received yet; the voters
 * that did apply them may then need its vote. It answers (pre)votes by the term and log rules only, and
 * its lease on the last leader it heard from expires like anyone's, although it never campaigns.
 * Simulator seeds 1018099 (removed node, PreVote) and 1014458 (promoted learner) in
 * test/sim/regressions.json are the end-to-end versions.
 */
import { describe, expect, it } from 'vitest';
import type { Message, StepOutcome } from '../../../src/raft';
import { Harness } from './harness';

const ELECTION_TICKS = 10;

/** Steps `m` into node `id` and returns the outcome and the (pre)vote responses it produced. */
function ask(h: Harness, id: number, m: Message): { outcome: StepOutcome; answers: Message[] } {
  const outcome = h.core(id).step(m);
  const out: Message[] = [];
  while (h.node(id).handleReady(out)) {
    // Drain every Ready: votes leave only after persistence.
  }
  return { outcome, answers: out.filter((x) => x.type === 'voteResp' || x.type === 'preVoteResp') };
}

/**
 * Voters {1, 2, 3}, leader 2, PreVote + CheckQuorum. 2 removes 3; 3 applies its own removal (config
 * {1, 2}) and then hears nothing more, still remembering leader 2.
 */
function removedNodeWithOldLeader(): Harness {
  const h = new Harness([1, 2, 3], { preVote: true, checkQuorum: true, electionTicks: ELECTION_TICKS });
  h.elect(2);
  h.propose(2, 'a');
  expect(h.core(2).proposeMembership({ type: 'removeNode', node: 3 }).ok).toBe(true);
  h.stabilize();
  h.isolate(3);
  const st = h.core(3).status();
  expect(st).toMatchObject({
    role: 'follower',
    leader: 2,
    config: { voters: [1, 2], learners: [], votersOutgoing: [] },
  });
  expect(st.applied).toBe(st.lastIndex);
  return h;
}

/**
 * Voters {1, 2}, learner 3, leader 2, CheckQuorum, no PreVote. 3 receives the log, then is cut off; 2
 * promotes 3 and removes 1, so 2's configuration is voters {2, 3} while 3 still believes it is a learner.
 */
function promotedLearnerCutOff(): Harness {
  const h = new Harness([1, 2, 3], { learners: [3], checkQuorum: true, electionTicks: ELECTION_TICKS });
  h.elect(2);
  h.propose(2, 'a');
  h.tickAll(1);
  expect(h.core(3).status()).toMatchObject({ role: 'follower', leader: 2, config: { voters: [1, 2], learners: [3] } });
  h.isolate(3);
  expect(h.core(2).proposeMembership({ type: 'addVoter', node: 3 }).ok).toBe(true);
  h.stabilize();
  expect(h.core(2).proposeMembership({ type: 'removeNode', node: 1 }).ok).toBe(true);
  h.stabilize();
  expect(h.core(2).status().config.voters).toEqual([2, 3]);
  expect(h.core(3).status().config).toEqual({ voters: [1, 2], learners: [3], votersOutgoing: [] });
  return h;
}

describe('votes of learners and removed nodes', () => {
  it('a removed node keeps its lease on the old leader only for the election timeout, then grants pre-votes (seed 1018099)', () => {
    const h = removedNodeWithOldLeader();
    const n3 = h.core(3);
    const { term, lastIndex } = n3.status();
    const lastLogTerm = term;
    const preVote: Message = {
      type: 'preVote',
      from: 1,
      to: 3,
      term: term + 1,
      lastLogIndex: lastIndex + 5,
      lastLogTerm,
    };
    // Within the lease: it does not help depose the leader it just heard from.
    expect(ask(h, 3, preVote).outcome).toEqual({ ok: false, reason: 'ignored' });
    for (let ticks = 1; ticks <= 5 * ELECTION_TICKS; ticks++) {
      n3.tick();
      // It never campaigns: it is not in its own configuration.
      expect(n3.status()).toMatchObject({ role: 'follower', term });
      if (ticks < ELECTION_TICKS) continue;
      // The leader has been silent for the election timeout: the lease is over, at every later tick
      // (before the fix the timer restarted at each timeout and the lease kept rolling).
      const { outcome, answers } = ask(h, 3, { ...preVote, from: ticks % 2 === 0 ? 1 : 2 });
      expect(outcome, `tick ${ticks}`).toEqual({ ok: true });
      expect(answers).toEqual([
        { type: 'preVoteResp', from: 3, to: ticks % 2 === 0 ? 1 : 2, term: term + 1, reject: false },
      ]);
      expect(n3.status().term).toBe(term);
    }
  });

  it('a removed node past its lease still refuses a pre-vote whose log is behind its own', () => {
    const h = removedNodeWithOldLeader();
    const n3 = h.core(3);
    const { term, lastIndex } = n3.status();
    for (let i = 0; i < 3 * ELECTION_TICKS; i++) n3.tick();
    const { outcome, answers } = ask(h, 3, {
      type: 'preVote',
      from: 1,
      to: 3,
      term: term + 1,
      lastLogIndex: lastIndex - 1,
      lastLogTerm: term,
    });
    expect(outcome).toEqual({ ok: true });
    expect(answers).toEqual([{ type: 'preVoteResp', from: 3, to: 1, term, reject: true }]);
  });

  it('a learner that has not yet learned of its promotion grants the vote of a voter with an up-to-date log (seed 1014458)', () => {
    // The lease phase at which the request arrives depends on the randomized timeout: try every tick.
    for (let ticks = ELECTION_TICKS; ticks < 4 * ELECTION_TICKS; ticks++) {
      const h = promotedLearnerCutOff();
      const n3 = h.core(3);
      const { term } = n3.status();
      for (let i = 0; i < ticks; i++) n3.tick();
      expect(n3.status()).toMatchObject({ role: 'follower', term, leader: 2 });
      const n2 = h.core(2).status();
      const vote: Message = {
        type: 'vote',
        from: 2,
        to: 3,
        term: term + 1,
        lastLogIndex: n2.lastIndex,
        lastLogTerm: term,
        transfer: false,
      };
      const { outcome, answers } = ask(h, 3, vote);
      expect(outcome, `after ${ticks} ticks`).toEqual({ ok: true });
      expect(answers).toEqual([{ type: 'voteResp', from: 3, to: 2, term: term + 1, reject: false }]);
      expect(n3.status()).toMatchObject({ role: 'follower', term: term + 1, vote: 2, leader: 0 });
      expect(h.node(3).hardState).toMatchObject({ term: term + 1, vote: 2 });
    }
  });

  it('a learner grants or refuses votes by the log rules only, and one vote per term', () => {
    const h = promotedLearnerCutOff();
    const n3 = h.core(3);
    const { term, lastIndex } = n3.status();
    for (let i = 0; i < 3 * ELECTION_TICKS; i++) n3.tick();
    // Behind our log: refused (the term is adopted all the same).
    let r = ask(h, 3, {
      type: 'vote',
      from: 1,
      to: 3,
      term: term + 1,
      lastLogIndex: lastIndex - 1,
      lastLogTerm: term,
      transfer: false,
    });
    expect(r.answers).toEqual([{ type: 'voteResp', from: 3, to: 1, term: term + 1, reject: true }]);
    expect(n3.status()).toMatchObject({ term: term + 1, vote: 0 });
    // Up to date: granted; a second candidate of the same term is refused.
    r = ask(h, 3, {
      type: 'vote',
      from: 2,
      to: 3,
      term: term + 1,
      lastLogIndex: lastIndex,
      lastLogTerm: term,
      transfer: false,
    });
    expect(r.answers).toEqual([{ type: 'voteResp', from: 3, to: 2, term: term + 1, reject: false }]);
    r = ask(h, 3, {
      type: 'vote',
      from: 1,
      to: 3,
      term: term + 1,
      lastLogIndex: lastIndex + 9,
      lastLogTerm: term,
      transfer: false,
    });
    expect(r.answers).toEqual([{ type: 'voteResp', from: 3, to: 1, term: term + 1, reject: true }]);
    // It still never campaigns itself.
    for (let i = 0; i < 5 * ELECTION_TICKS; i++) n3.tick();
    expect(n3.status()).toMatchObject({ role: 'follower', term: term + 1 });
  });

  it('after the heal the voters {2, 3} elect 2 with the vote of 3, which then learns it was promoted', () => {
    const h = promotedLearnerCutOff();
    // 2 loses its quorum (3 unreachable) and steps down; it cannot win alone.
    for (let i = 0; i < 4 * ELECTION_TICKS; i++) h.tickAll(1);
    expect(h.leaders()).toEqual([]);
    h.heal();
    for (let i = 0; i < 20 * ELECTION_TICKS && h.leaders().length === 0; i++) h.tickAll(1);
    expect(h.leaders()).toEqual([2]);
    h.propose(2, 'b');
    h.tickAll(2);
    expect(h.core(3).status().config).toEqual({ voters: [2, 3], learners: [], votersOutgoing: [] });
    expect(h.node(3).sm).toEqual(['a', 'b']);
  });

  it('a removed node with a lease still ignores pre-votes right after hearing from its leader', () => {
    const h = removedNodeWithOldLeader();
    const n3 = h.core(3);
    const { term, lastIndex } = n3.status();
    for (let i = 0; i < ELECTION_TICKS - 1; i++) n3.tick();
    const r = ask(h, 3, {
      type: 'preVote',
      from: 1,
      to: 3,
      term: term + 1,
      lastLogIndex: lastIndex,
      lastLogTerm: term,
    });
    expect(r.outcome).toEqual({ ok: false, reason: 'ignored' });
    expect(r.answers).toEqual([]);
  });
});
