/**
 * The membership safeguards of etcd, as one pure decision (no I/O, no clock): may the leader propose this
 * membership change now? They hold for every caller, an admin included (DESIGN.md section 9b).
 *
 *   - Strict reconfiguration check (etcd --strict-reconfig-check): refuse a change after which the voters
 *     the leader saw active recently (the leader itself always counts) are fewer than a quorum of the new
 *     voter set. This refuses removing a voter while too few others are alive, and adding voters that are
 *     down (three unreachable voters added to a 3-node cluster left 3 of 6 alive: no leader ever again).
 *   - Catch-up before promotion: a voter is only added once it has replicated the log up to
 *     `catchUpIndex` (the leader's commit index when the promotion was attempted); until then it must be
 *     (or stay) a learner, which never counts toward a quorum. A node that is not a member yet is never
 *     added as a voter directly (the host adds it as a learner first).
 *   - Learners may always be added or removed: they change no quorum.
 * Invariant: the decision depends only on the input; `ok: false` carries a message naming the node.
 */
import type { NodeId } from '../base';

export interface MemberProgress {
  /** The highest log index known to be replicated on the member. */
  match: number;
  /** Heard from within about an election timeout (progress recentActive, or a recent message). */
  active: boolean;
}

export type GuardedChange = { type: 'addVoter' | 'addLearner' | 'removeNode'; node: NodeId };

export interface GuardInput {
  /** The leader deciding (it counts as active). */
  self: NodeId;
  voters: readonly NodeId[];
  learners: readonly NodeId[];
  /** The leader's view of every other member; a member missing here counts as inactive with match 0. */
  progress: ReadonlyMap<NodeId, MemberProgress>;
  change: GuardedChange;
  /** addVoter: the index the node must have replicated before it may become a voter. */
  catchUpIndex: number;
}

export type GuardRefusal = 'notLearner' | 'notCaughtUp' | 'quorumAtRisk';

export type GuardDecision = { ok: true } | { ok: false; reason: GuardRefusal; message: string };

const OK: GuardDecision = { ok: true };

export function quorumOf(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

export function checkMembershipChange(input: GuardInput): GuardDecision {
  const { self, voters, learners, progress, change } = input;
  const id = change.node;
  const isVoter = voters.includes(id);
  const isLearner = learners.includes(id);
  const activeOf = (v: NodeId): boolean => v === self || progress.get(v)?.active === true;

  switch (change.type) {
    case 'addLearner':
      // A voter demoted to a learner leaves the voter set: treat it like a removal of the voter.
      if (!isVoter) return OK;
      return quorumCheck(
        voters.filter((v) => v !== id),
        activeOf,
        `demoting voter ${id} to a learner`,
      );
    case 'removeNode':
      if (!isVoter) return OK;
      return quorumCheck(
        voters.filter((v) => v !== id),
        activeOf,
        `removing voter ${id}`,
      );
    case 'addVoter': {
      if (isVoter) return OK;
      if (!isLearner) {
        return {
          ok: false,
          reason: 'notLearner',
          message: `node ${id} must join as a learner and catch up before it can become a voter`,
        };
      }
      const pr = progress.get(id);
      const match = pr?.match ?? 0;
      if (match < input.catchUpIndex || pr?.active !== true) {
        const state = pr?.active === true ? 'active' : 'not heard from recently';
        return {
          ok: false,
          reason: 'notCaughtUp',
          message: `learner ${id} has not caught up (match ${match} of ${input.catchUpIndex}, ${state}); it stays a learner`,
        };
      }
      return quorumCheck([...voters, id], activeOf, `promoting learner ${id}`);
    }
  }
}

function quorumCheck(newVoters: readonly NodeId[], activeOf: (id: NodeId) => boolean, what: string): GuardDecision {
  let active = 0;
  for (const v of newVoters) if (activeOf(v)) active++;
  const quorum = quorumOf(newVoters.length);
  if (active >= quorum) return OK;
  return {
    ok: false,
    reason: 'quorumAtRisk',
    message:
      `${what} would leave ${active} recently active voter(s) of ${newVoters.length}, below the quorum of ${quorum} ` +
      `(strict reconfiguration check); bring the other voters back first`,
  };
}
