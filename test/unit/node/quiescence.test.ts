/**
 * The quiescence policy (src/node/quiescence.ts), without processes: when a leader may go quiet, which
 * messages wake a quiet group, the idle-tick count, and waking the groups that depend on a silent node.
 */
import { describe, expect, it } from 'vitest';
import type { GroupId, NodeId } from '../../../src/base';
import { Quiescence, leaderMayQuiesce, quiesceHeartbeats, wakesQuietGroup } from '../../../src/node/quiescence';
import type { ProgressStatus, Status } from '../../../src/raft';

const pr = (match: number): ProgressStatus => ({
  match,
  next: match + 1,
  state: 'replicate',
  inflight: 0,
  recentActive: true,
});

function leaderStatus(
  over: Partial<Status> = {},
  matches: [number, number][] = [
    [1, 10],
    [2, 10],
    [3, 10],
  ],
): Status {
  return {
    id: 1,
    role: 'leader',
    term: 4,
    vote: 1,
    leader: 1,
    commit: 10,
    applied: 10,
    firstIndex: 1,
    lastIndex: 10,
    config: { voters: [1, 2, 3], learners: [], votersOutgoing: [] },
    progress: new Map(matches.map(([id, m]) => [id as NodeId, pr(m)])),
    transferee: 0,
    termExhausted: false,
    ...over,
  };
}

const idle = { applied: 10, pending: false };
const allHeard = (): boolean => true;

describe('leaderMayQuiesce', () => {
  it('holds for an idle leader whose members replicated everything and are live', () => {
    expect(leaderMayQuiesce(leaderStatus(), idle, allHeard)).toBe(true);
  });

  it('does not hold while anything is left to do or someone is behind or silent', () => {
    expect(leaderMayQuiesce(leaderStatus({ role: 'follower', progress: null }), idle, allHeard)).toBe(false);
    expect(leaderMayQuiesce(leaderStatus(), { applied: 10, pending: true }, allHeard)).toBe(false);
    expect(leaderMayQuiesce(leaderStatus(), { applied: 9, pending: false }, allHeard)).toBe(false);
    expect(leaderMayQuiesce(leaderStatus({ commit: 9 }), { applied: 9, pending: false }, allHeard)).toBe(false);
    expect(
      leaderMayQuiesce(
        leaderStatus({}, [
          [1, 10],
          [2, 10],
          [3, 9],
        ]),
        idle,
        allHeard,
      ),
    ).toBe(false);
    expect(leaderMayQuiesce(leaderStatus({ transferee: 2 }), idle, allHeard)).toBe(false);
    const joint = { voters: [1, 2, 3], learners: [], votersOutgoing: [1, 2] };
    expect(leaderMayQuiesce(leaderStatus({ config: joint }), idle, allHeard)).toBe(false);
    expect(leaderMayQuiesce(leaderStatus(), idle, (id) => id !== 3)).toBe(false);
  });

  it('counts learners: a learner behind keeps the group awake', () => {
    const st = leaderStatus({ config: { voters: [1, 2, 3], learners: [4], votersOutgoing: [] } }, [
      [1, 10],
      [2, 10],
      [3, 10],
      [4, 3],
    ]);
    expect(leaderMayQuiesce(st, idle, allHeard)).toBe(false);
  });
});

describe('messages and quiesce heartbeats', () => {
  it('a quiet group wakes on anything but a heartbeat or a heartbeat response', () => {
    expect(wakesQuietGroup({ type: 'heartbeat', from: 1, to: 2, term: 4, commit: 10, context: 0, quiesce: true })).toBe(
      false,
    );
    expect(wakesQuietGroup({ type: 'heartbeatResp', from: 2, to: 1, term: 4, context: 0 })).toBe(false);
    expect(wakesQuietGroup({ type: 'heartbeat', from: 1, to: 2, term: 4, commit: 10, context: 0 })).toBe(false);
    expect(wakesQuietGroup({ type: 'preVote', from: 2, to: 1, term: 5, lastLogIndex: 10, lastLogTerm: 4 })).toBe(true);
    expect(
      wakesQuietGroup({
        type: 'append',
        from: 1,
        to: 2,
        term: 4,
        prevLogIndex: 10,
        prevLogTerm: 4,
        entries: [],
        commit: 10,
      }),
    ).toBe(true);
  });

  it('quiesceHeartbeats go to every member but the leader, with the commit index', () => {
    const hb = quiesceHeartbeats(leaderStatus());
    expect(hb.map((m) => m.to)).toEqual([2, 3]);
    expect(hb.every((m) => m.type === 'heartbeat' && m.quiesce === true && m.commit === 10 && m.term === 4)).toBe(true);
  });
});

describe('Quiescence', () => {
  const g = (n: number): GroupId => n as GroupId;

  it('asks to quiesce only after the configured consecutive idle ticks; a busy tick restarts the count', () => {
    const q = new Quiescence({ idleTicksToQuiesce: 3, suspectAfterMs: 1000 });
    expect(q.leaderTicked(g(1), true)).toBe(false);
    expect(q.leaderTicked(g(1), true)).toBe(false);
    expect(q.leaderTicked(g(1), false)).toBe(false);
    expect(q.leaderTicked(g(1), true)).toBe(false);
    expect(q.leaderTicked(g(1), true)).toBe(false);
    expect(q.leaderTicked(g(1), true)).toBe(true);
  });

  it('tracks quiet groups, wakes them once, and forgets them', () => {
    const q = new Quiescence({ idleTicksToQuiesce: 1, suspectAfterMs: 1000 });
    q.quiesce(g(5), [2, 3]);
    q.quiesce(g(6), [2]);
    expect(q.quietCount).toBe(2);
    expect(q.isQuiet(g(5))).toBe(true);
    expect(q.wake(g(5))).toBe(true);
    expect(q.wake(g(5))).toBe(false);
    q.forget(g(6));
    expect(q.quietCount).toBe(0);
  });

  it('keeps every tracked group either awake (visited by tick and the ready loop) or quiet, never both', () => {
    const q = new Quiescence({ idleTicksToQuiesce: 1, suspectAfterMs: 1000 });
    for (const id of [1, 2, 3, 4]) q.track(g(id));
    expect([...q.awakeIds()]).toEqual([1, 2, 3, 4]);
    q.quiesce(g(2), [5]);
    q.quiesce(g(3), [5]);
    expect([...q.awakeIds()]).toEqual([1, 4]);
    expect(q.trackedCount).toBe(4);
    expect(q.wake(g(2))).toBe(true);
    expect([...q.awakeIds()].sort()).toEqual([1, 2, 4]);
    expect(q.wakeSuspected(10_000, () => undefined)).toEqual([3]);
    expect([...q.awakeIds()].sort()).toEqual([1, 2, 3, 4]);
    q.quiesce(g(4), [5]);
    q.forget(g(4)); // a quiet group removed from the node
    q.forget(g(1)); // an awake one
    expect([...q.awakeIds()].sort()).toEqual([2, 3]);
    expect(q.trackedCount).toBe(2);
    // Tracking a group that is quiet already (re-opened under the same id) leaves it quiet.
    q.quiesce(g(2), [5]);
    q.track(g(2));
    expect([...q.awakeIds()]).toEqual([3]);
  });

  it('wakes exactly the quiet groups that depend on a node not heard within suspectAfterMs', () => {
    const q = new Quiescence({ idleTicksToQuiesce: 1, suspectAfterMs: 1000 });
    q.quiesce(g(1), [2]); // a follower whose leader is node 2
    q.quiesce(g(2), [3]); // a follower whose leader is node 3
    q.quiesce(g(3), [2, 3]); // a leader with members 2 and 3
    const heard = new Map<NodeId, number>([
      [2, 5_000],
      [3, 9_500],
    ]);
    expect(q.wakeSuspected(10_000, (id) => heard.get(id)).sort()).toEqual([1, 3]);
    expect(q.isQuiet(g(2))).toBe(true);
    expect(q.wakeSuspected(10_000, (id) => heard.get(id))).toEqual([]);
    heard.delete(3); // never heard: suspected
    expect(q.wakeSuspected(10_000, (id) => heard.get(id))).toEqual([2]);
    expect(q.quietCount).toBe(0);
  });
});
