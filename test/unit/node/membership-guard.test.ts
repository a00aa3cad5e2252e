import { describe, expect, it } from 'vitest';
import {
  checkMembershipChange,
  quorumOf,
  type GuardInput,
  type GuardRefusal,
  type MemberProgress,
} from '../../../src/node/membership-guard';

/** Progress for members: 'a' active and caught up to `match`, 'd' down (not heard from), 'l' active but lagging. */
function progress(spec: Record<number, [boolean, number]>): Map<number, MemberProgress> {
  return new Map(Object.entries(spec).map(([id, [active, match]]) => [Number(id), { active, match }]));
}

interface Row {
  name: string;
  voters: number[];
  learners?: number[];
  progress: Record<number, [boolean, number]>;
  change: GuardInput['change'];
  catchUpIndex?: number;
  want: 'ok' | GuardRefusal;
}

// The leader is node 1 in every row (it always counts as active).
const rows: Row[] = [
  {
    name: 'remove a voter with every voter alive',
    voters: [1, 2, 3],
    progress: { 2: [true, 10], 3: [true, 10] },
    change: { type: 'removeNode', node: 3 },
    want: 'ok',
  },
  {
    name: 'remove the dead voter of three',
    voters: [1, 2, 3],
    progress: { 2: [true, 10], 3: [false, 4] },
    change: { type: 'removeNode', node: 3 },
    want: 'ok',
  },
  {
    name: 'remove a live voter while another is dead',
    voters: [1, 2, 3],
    progress: { 2: [true, 10], 3: [false, 4] },
    change: { type: 'removeNode', node: 2 },
    want: 'quorumAtRisk',
  },
  {
    name: 'remove the leader itself with both followers alive',
    voters: [1, 2, 3],
    progress: { 2: [true, 10], 3: [true, 10] },
    change: { type: 'removeNode', node: 1 },
    want: 'ok',
  },
  {
    name: 'remove the leader itself with one follower dead',
    voters: [1, 2, 3],
    progress: { 2: [true, 10], 3: [false, 10] },
    change: { type: 'removeNode', node: 1 },
    want: 'quorumAtRisk',
  },
  {
    name: 'remove a voter of five with two dead',
    voters: [1, 2, 3, 4, 5],
    progress: { 2: [true, 9], 3: [true, 9], 4: [false, 0], 5: [false, 0] },
    change: { type: 'removeNode', node: 2 },
    want: 'quorumAtRisk',
  },
  {
    name: 'remove a dead voter of five with two dead',
    voters: [1, 2, 3, 4, 5],
    progress: { 2: [true, 9], 3: [true, 9], 4: [false, 0], 5: [false, 0] },
    change: { type: 'removeNode', node: 5 },
    want: 'ok',
  },
  {
    name: 'remove a learner, even a dead one',
    voters: [1, 2, 3],
    learners: [4],
    progress: { 2: [false, 1], 3: [true, 9], 4: [false, 0] },
    change: { type: 'removeNode', node: 4 },
    want: 'ok',
  },
  {
    name: 'add a learner with a voter dead',
    voters: [1, 2, 3],
    progress: { 2: [false, 1], 3: [true, 9] },
    change: { type: 'addLearner', node: 4 },
    want: 'ok',
  },
  {
    name: 'add a node that is not a member as a voter',
    voters: [1, 2, 3],
    progress: { 2: [true, 10], 3: [true, 10] },
    change: { type: 'addVoter', node: 4 },
    want: 'notLearner',
  },
  {
    name: 'promote a caught-up learner',
    voters: [1, 2, 3],
    learners: [4],
    progress: { 2: [true, 10], 3: [true, 10], 4: [true, 10] },
    change: { type: 'addVoter', node: 4 },
    catchUpIndex: 10,
    want: 'ok',
  },
  {
    name: 'promote a learner past the catch-up index',
    voters: [1, 2, 3],
    learners: [4],
    progress: { 2: [true, 12], 3: [true, 12], 4: [true, 12] },
    change: { type: 'addVoter', node: 4 },
    catchUpIndex: 10,
    want: 'ok',
  },
  {
    name: 'promote a lagging learner',
    voters: [1, 2, 3],
    learners: [4],
    progress: { 2: [true, 10], 3: [true, 10], 4: [true, 9] },
    change: { type: 'addVoter', node: 4 },
    catchUpIndex: 10,
    want: 'notCaughtUp',
  },
  {
    name: 'promote an unreachable learner (never heard from)',
    voters: [1, 2, 3],
    learners: [4],
    progress: { 2: [true, 10], 3: [true, 10], 4: [false, 0] },
    change: { type: 'addVoter', node: 4 },
    catchUpIndex: 10,
    want: 'notCaughtUp',
  },
  {
    name: 'promote a learner the leader has no progress for',
    voters: [1, 2, 3],
    learners: [4],
    progress: { 2: [true, 10], 3: [true, 10] },
    change: { type: 'addVoter', node: 4 },
    catchUpIndex: 1,
    want: 'notCaughtUp',
  },
  {
    name: 'promote a caught-up learner of a 1-voter cluster',
    voters: [1],
    learners: [2],
    progress: { 2: [true, 5] },
    change: { type: 'addVoter', node: 2 },
    catchUpIndex: 5,
    want: 'ok',
  },
  // 3 voters, 1 dead, promoting a 4th: 3 of 4 active >= quorum 3.
  {
    name: 'promote with one voter dead (3 of 4 active)',
    voters: [1, 2, 3],
    learners: [4],
    progress: { 2: [true, 10], 3: [false, 2], 4: [true, 10] },
    change: { type: 'addVoter', node: 4 },
    catchUpIndex: 10,
    want: 'ok',
  },
  // 4 voters, 2 dead: promoting a 5th gives 3 of 5 active = quorum 3, fine; with 3 dead of 5 + 1 it is not.
  {
    name: 'promote with two of four voters dead',
    voters: [1, 2, 3, 4],
    learners: [5],
    progress: { 2: [true, 9], 3: [false, 0], 4: [false, 0], 5: [true, 9] },
    change: { type: 'addVoter', node: 5 },
    catchUpIndex: 9,
    want: 'ok',
  },
  {
    name: 'promote with three of five voters dead',
    voters: [1, 2, 3, 4, 5],
    learners: [6],
    progress: { 2: [true, 9], 3: [false, 0], 4: [false, 0], 5: [false, 0], 6: [true, 9] },
    change: { type: 'addVoter', node: 6 },
    catchUpIndex: 9,
    want: 'quorumAtRisk',
  },
  {
    name: 'add an existing voter again (no change)',
    voters: [1, 2, 3],
    progress: { 2: [false, 0], 3: [false, 0] },
    change: { type: 'addVoter', node: 2 },
    want: 'ok',
  },
  {
    name: 'demote a live voter while another is dead',
    voters: [1, 2, 3],
    progress: { 2: [true, 10], 3: [false, 4] },
    change: { type: 'addLearner', node: 2 },
    want: 'quorumAtRisk',
  },
];

describe('checkMembershipChange (etcd strict reconfiguration and learner promotion)', () => {
  it.each(rows)('$name: $want', (row) => {
    const decision = checkMembershipChange({
      self: 1,
      voters: row.voters,
      learners: row.learners ?? [],
      progress: progress(row.progress),
      change: row.change,
      catchUpIndex: row.catchUpIndex ?? 0,
    });
    expect(decision.ok ? 'ok' : decision.reason).toBe(row.want);
    if (!decision.ok) expect(decision.message).toContain(String(row.change.node));
  });

  it('adding three unreachable voters one by one: the first promotion is already refused', () => {
    // The reported brick: 3 live voters + 3 added at dead addresses. Each joins as a learner that never
    // answers, so it is never promoted and never counts toward a quorum.
    for (const node of [4, 5, 6]) {
      const d = checkMembershipChange({
        self: 1,
        voters: [1, 2, 3],
        learners: [4, 5, 6],
        progress: progress({ 2: [true, 20], 3: [true, 20], 4: [false, 0], 5: [false, 0], 6: [false, 0] }),
        change: { type: 'addVoter', node },
        catchUpIndex: 20,
      });
      expect(d).toMatchObject({ ok: false, reason: 'notCaughtUp' });
    }
  });

  it('quorumOf', () => {
    expect([1, 2, 3, 4, 5, 6].map(quorumOf)).toEqual([1, 2, 2, 3, 3, 4]);
  });
});
