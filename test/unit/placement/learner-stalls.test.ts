/**
 * The driver's tracking of learners that do not catch up (src/placement/learner-stalls.ts): stalled past the
 * limit, reset when caught up or gone, and the avoided targets after a stalled learner's removal, bounded and
 * expiring.
 */
import { describe, expect, it } from 'vitest';
import type { NodeId } from '../../../src/base';
import { AVOIDED_MAX, LearnerStalls } from '../../../src/placement/learner-stalls';
import type { ClusterSnapshot } from '../../../src/shard';
import { desc } from '../shard/helpers';

function snapshot(spec: string, match: Record<number, number>, commit = 100): ClusterSnapshot {
  return {
    nowMs: 0,
    nodes: [],
    shards: [desc(7, '', null, spec)],
    status: [
      {
        shard: desc(7, '', null, spec).id,
        leader: 1 as NodeId,
        commitIndex: commit,
        match: new Map(Object.entries(match).map(([n, m]) => [Number(n) as NodeId, m])),
        inFlight: [],
      },
    ],
  };
}

const statusOf = (s: ClusterSnapshot) => s.status[0]!;

describe('LearnerStalls', () => {
  it('marks a learner behind for longer than the limit, and forgets it once caught up or gone', () => {
    const stalls = new LearnerStalls(1000, 5000);
    const behind = snapshot('1v 2v 3l', { 1: 100, 2: 100, 3: 0 });
    expect(statusOf(stalls.mark(behind, 0, 8)).stalledLearners).toBeUndefined();
    expect(statusOf(stalls.mark(behind, 1000, 8)).stalledLearners).toBeUndefined();
    expect(statusOf(stalls.mark(behind, 1001, 8)).stalledLearners).toEqual([3]);
    // Caught up (within the lag): not behind any more; behind again later starts a new count.
    expect(statusOf(stalls.mark(snapshot('1v 2v 3l', { 3: 95 }), 1100, 8)).stalledLearners).toBeUndefined();
    expect(stalls.tracked).toBe(0);
    expect(statusOf(stalls.mark(behind, 1200, 8)).stalledLearners).toBeUndefined();
    expect(statusOf(stalls.mark(behind, 2201, 8)).stalledLearners).toEqual([3]);
    // Gone from the shard (removed): dropped.
    stalls.mark(snapshot('1v 2v', {}), 2300, 8);
    expect(stalls.tracked).toBe(0);
    // Voters are never marked, however far behind.
    expect(statusOf(stalls.mark(snapshot('1v 2v 3v', { 3: 0 }), 10_000, 8)).stalledLearners).toBeUndefined();
  });

  it('avoids the node of a removed stalled learner for that shard only, until it expires; bounded', () => {
    const stalls = new LearnerStalls(1000, 5000);
    stalls.noteRemoved(7, 3 as NodeId, 0);
    stalls.noteRemoved(8, 4 as NodeId, 0);
    const s = snapshot('1v 2v', { 1: 100, 2: 100 });
    expect(statusOf(stalls.mark(s, 4999, 8)).avoidTargets).toEqual([3]);
    expect(statusOf(stalls.mark(s, 5000, 8)).avoidTargets).toBeUndefined();
    for (let i = 0; i < AVOIDED_MAX + 10; i++) stalls.noteRemoved(100 + i, 3 as NodeId, 10_000);
    stalls.noteRemoved(7, 3 as NodeId, 10_000);
    expect(statusOf(stalls.mark(s, 10_001, 8)).avoidTargets).toEqual([3]); // the newest kept
  });
});
