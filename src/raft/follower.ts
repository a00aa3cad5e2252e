/**
 * The follower role: accept the leader's appends, heartbeats and snapshots (resetting the election
 * timer), start a transfer election on TimeoutNow, and campaign when the election timer fires.
 * A node outside the configuration (e.g. a new member not yet added) follows but never campaigns.
 */
import { campaign, tickElection } from './candidate';
import { IGNORED, OK, type RaftState, type RoleHandler } from './raft-state';
import { handleAppend, handleHeartbeat, handleSnapshot } from './receive';
import type { Message, StepOutcome } from './types';

/** A message only the current leader sends: it is the leader, and the election timer restarts. */
function heardFromLeader(s: RaftState, leader: Message['from']): void {
  s.electionElapsed = 0;
  s.leader = leader;
}

export const followerHandler: RoleHandler = {
  step(s: RaftState, m: Message): StepOutcome {
    switch (m.type) {
      case 'append':
        heardFromLeader(s, m.from);
        handleAppend(s, m);
        return OK;
      case 'heartbeat':
        heardFromLeader(s, m.from);
        handleHeartbeat(s, m);
        return OK;
      case 'snapshot':
        heardFromLeader(s, m.from);
        handleSnapshot(s, m);
        return OK;
      case 'timeoutNow':
        // The leader asked us to take over now (leadership transfer): skip PreVote and the lease. If a
        // committed config change is still to be applied (we may only become a voter by it), wait for it.
        if (s.promotable()) campaign(s, 'transfer');
        else if (s.hasUnappliedConfigChange()) s.transferCampaignTerm = s.term;
        return OK;
      default:
        return IGNORED;
    }
  },
  tick: tickElection,
  onPersisted(s: RaftState): void {
    if (s.transferCampaignTerm !== 0 && s.transferCampaignTerm === s.term && !s.hasUnappliedConfigChange()) {
      s.transferCampaignTerm = 0;
      campaign(s, 'transfer');
    }
  },
  onConfigChanged: () => {},
};
