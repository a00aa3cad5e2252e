/**
 * The rules every role applies before its own step handler (Raft figure 2 "all servers", PreVote and
 * CheckQuorum from the thesis 9.6): compare the message term with ours, step down on a higher term,
 * answer stale leaders so they learn the new term, and answer (pre)vote requests.
 */
import { campaign } from './candidate';
import { isMember, isVoter } from './membership';
import { IGNORED, OK, type RaftState } from './raft-state';
import type { Message, StepOutcome } from './types';

const STALE: StepOutcome = { ok: false, reason: 'staleTerm' };

export function stepWithTermRules(s: RaftState, m: Message): StepOutcome {
  if (m.term > s.term) {
    if (m.type === 'vote' || m.type === 'preVote') {
      const force = m.type === 'vote' && m.transfer;
      // Lease: a follower that heard from a leader within the election timeout does not help depose it.
      // The election timer of a node that cannot campaign keeps running (tickElection), so the lease of a
      // learner or removed node expires too once the leader falls silent.
      const inLease = s.cfg.checkQuorum && s.leader !== 0 && s.electionElapsed < s.cfg.electionTicks;
      if (!force && inLease) return IGNORED;
    }
    if (m.type === 'preVote') {
      // A pre-vote never changes our term.
    } else if (m.type === 'preVoteResp' && !m.reject) {
      // Granted pre-votes carry the term the candidate will campaign in; counted by the candidate.
    } else {
      const fromLeader = m.type === 'append' || m.type === 'heartbeat' || m.type === 'snapshot';
      s.becomeFollower(m.term, fromLeader ? m.from : 0);
    }
  } else if (m.term < s.term) {
    if (m.type === 'append' || m.type === 'heartbeat') {
      // A stale leader (back from a partition, or removed from the configuration so that no successor
      // ever contacts it) learns our term from this and steps down. With PreVote/CheckQuorum terms may
      // not otherwise reach it at all. The reply carries only the term (as etcd-io/raft's): it is no
      // rejection, because a rejection at index 0 asks for a snapshot (receive.ts, an uninitialized
      // replica), and a leader that is already in our term (the stale append was its own from an earlier
      // term, delivered late) would answer it with one: one a replica that applied a split must refuse.
      s.send({
        type: 'appendResp',
        from: s.id,
        to: m.from,
        term: s.term,
        reject: false,
        index: 0,
        rejectHint: 0,
        hintTerm: 0,
      });
    } else if (m.type === 'preVote') {
      s.send({ type: 'preVoteResp', from: s.id, to: m.from, term: s.term, reject: true });
    }
    return STALE;
  }

  if (m.type === 'vote' || m.type === 'preVote') {
    const rejectedForLog = handleVoteRequest(s, m);
    if (
      rejectedForLog &&
      s.role === 'follower' &&
      s.leader === 0 &&
      !isMember(s.config, s.id) &&
      isVoter(s.config, m.from)
    ) {
      // We were removed, yet a voter of our last configuration is campaigning with a log behind ours: it
      // may never win without entries only we hold (e.g. we led, committed our own removal and crashed
      // before the others learned of it). Lead once more, then hand over (leader.ts handOver).
      campaign(s, s.cfg.preVote ? 'preVote' : 'election', true);
    }
    return OK;
  }
  return s.handlers[s.role].step(s, m);
}

/**
 * Answers a (pre)vote request; returns true when it was rejected because our log is more up to date.
 * The answer depends only on the term, our vote and the log up-to-date rule, never on whether our own
 * configuration lists us as a voter (etcd "learner may vote"): a learner or removed node may have been
 * promoted by entries it has not received yet, and the candidate, which sent the request because its
 * configuration has us as a voter, may need our vote. Only the candidate's configuration decides whether
 * the vote counts; our own elections count only the voters of our configuration (quorum.ts).
 */
function handleVoteRequest(s: RaftState, m: Message & { type: 'vote' | 'preVote' }): boolean {
  const canVote = s.vote === m.from || (s.vote === 0 && s.leader === 0) || (m.type === 'preVote' && m.term > s.term);
  const upToDate = s.log.isUpToDate(m.lastLogIndex, m.lastLogTerm);
  if (canVote && upToDate) {
    if (m.type === 'vote') {
      s.electionElapsed = 0;
      s.vote = m.from;
      s.send({ type: 'voteResp', from: s.id, to: m.from, term: m.term, reject: false });
    } else {
      s.send({ type: 'preVoteResp', from: s.id, to: m.from, term: m.term, reject: false });
    }
    return false;
  }
  if (m.type === 'vote') s.send({ type: 'voteResp', from: s.id, to: m.from, term: s.term, reject: true });
  else s.send({ type: 'preVoteResp', from: s.id, to: m.from, term: s.term, reject: true });
  return !upToDate;
}
