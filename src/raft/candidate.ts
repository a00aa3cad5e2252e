/**
 * Elections: PreVote (a pre-candidate asks whether it could win without disturbing anyone's term),
 * the real election (term + 1, vote for self), and the candidate roles' step and tick handlers.
 * Invariants: a candidate's own vote counts only once its term and vote are persisted (onPersisted),
 * unless unsafe.ackBeforePersist; a node that is not promotable (not a voter, installing a snapshot,
 * or with an unapplied config change) never campaigns; no campaign ever uses a term above TERM_MAX.
 */
import type { NodeId } from '../base';
import { becomeLeader } from './leader';
import { TERM_MAX } from './limits';
import { voteResult } from './quorum';
import { IGNORED, OK, type RaftState, type RoleHandler } from './raft-state';
import { handleAppend, handleHeartbeat, handleSnapshot } from './receive';
import type { Message, StepOutcome } from './types';

export type CampaignKind = 'preVote' | 'election' | 'transfer';

/** Voters of the current configuration other than this node. */
function otherVoters(s: RaftState): NodeId[] {
  const out: NodeId[] = [];
  for (const id of s.config.voters) if (id !== s.id) out.push(id);
  for (const id of s.config.votersOutgoing) if (id !== s.id && !out.includes(id)) out.push(id);
  return out;
}

/**
 * Starts a (pre-)election if this node may. `asRemovedNode`: a node outside its configuration whose log
 * is needed by the remaining voters (see term-rules.ts) may campaign; votes are still counted over the
 * configuration's voters only, and once elected it hands leadership over at once.
 */
export function campaign(s: RaftState, kind: CampaignKind, asRemovedNode = false): void {
  const mayCampaign = asRemovedNode ? s.log.pendingSnapshot === null && !s.hasUnappliedConfigChange() : s.promotable();
  if (!mayCampaign) return;
  // Safety net: the next term would be past TERM_MAX, which every peer refuses (status().termExhausted).
  if (s.term >= TERM_MAX) return;
  if (kind === 'preVote') becomePreCandidate(s);
  else becomeCandidate(s, kind === 'transfer');
}

function becomePreCandidate(s: RaftState): void {
  // Term and vote stay as they are: a pre-vote changes nothing durable.
  s.role = 'preCandidate';
  s.leader = 0;
  s.votes.clear();
  s.electionElapsed = 0;
  s.resetRandomizedElectionTimeout();
  s.votes.set(s.id, true);
  if (poll(s)) return;
  const lastLogIndex = s.log.lastIndex();
  const lastLogTerm = s.log.lastTerm();
  for (const to of otherVoters(s)) {
    s.send({ type: 'preVote', from: s.id, to, term: s.term + 1, lastLogIndex, lastLogTerm });
  }
}

function becomeCandidate(s: RaftState, transfer: boolean): void {
  s.reset(s.term + 1);
  s.role = 'candidate';
  s.vote = s.id;
  if (s.ackBeforePersist) {
    s.votes.set(s.id, true);
    if (poll(s)) return;
  }
  const lastLogIndex = s.log.lastIndex();
  const lastLogTerm = s.log.lastTerm();
  for (const to of otherVoters(s)) {
    s.send({ type: 'vote', from: s.id, to, term: s.term, lastLogIndex, lastLogTerm, transfer });
  }
}

/** Counts the votes; acts on a decision. Returns true when the campaign ended. */
function poll(s: RaftState): boolean {
  const result = voteResult(s.config, s.votes);
  if (result === 'pending') return false;
  if (result === 'lost') {
    s.becomeFollower(s.term, 0);
    return true;
  }
  if (s.role === 'preCandidate') becomeCandidate(s, false);
  else becomeLeader(s);
  return true;
}

/**
 * Election timer shared by followers and candidates (etcd tickElection). Only a promotable node restarts
 * the timer and campaigns when it fires; any other node (a learner, a removed node, or one that is
 * installing a snapshot or has a committed config change to apply) lets it run on, so its lease on the
 * last leader it heard from expires (term-rules.ts) and it answers the (pre)votes of a successor. Such a
 * node may well be a voter already without knowing it (its promotion, or the removal of another voter, is
 * committed but has not reached it), and the remaining voters may need its vote.
 */
export function tickElection(s: RaftState): void {
  s.electionElapsed++;
  if (s.pastElectionTimeout() && s.promotable()) {
    s.electionElapsed = 0;
    campaign(s, s.cfg.preVote ? 'preVote' : 'election');
  }
}

function stepCandidate(s: RaftState, m: Message, responseType: 'preVoteResp' | 'voteResp'): StepOutcome {
  switch (m.type) {
    case 'append':
      s.becomeFollower(m.term, m.from);
      handleAppend(s, m);
      return OK;
    case 'heartbeat':
      s.becomeFollower(m.term, m.from);
      handleHeartbeat(s, m);
      return OK;
    case 'snapshot':
      s.becomeFollower(m.term, m.from);
      handleSnapshot(s, m);
      return OK;
    case 'preVoteResp':
    case 'voteResp': {
      if (m.type !== responseType) return IGNORED;
      // A granted pre-vote carries the term we would campaign in; a stale one from an older round is ignored.
      if (m.type === 'preVoteResp' && !m.reject && m.term !== s.term + 1) return IGNORED;
      s.votes.set(m.from, !m.reject);
      poll(s);
      return OK;
    }
    default:
      return IGNORED;
  }
}

export const preCandidateHandler: RoleHandler = {
  step: (s, m) => stepCandidate(s, m, 'preVoteResp'),
  tick: tickElection,
  onPersisted: () => {},
  onConfigChanged: () => {},
};

export const candidateHandler: RoleHandler = {
  step: (s, m) => stepCandidate(s, m, 'voteResp'),
  tick: tickElection,
  onPersisted(s: RaftState): void {
    const hs = s.persistedHardState;
    if (!s.votes.has(s.id) && hs.term === s.term && hs.vote === s.id) {
      s.votes.set(s.id, true);
      poll(s);
    }
  },
  onConfigChanged: () => {},
};
