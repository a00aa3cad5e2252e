/**
 * Stale replicas (src/placement/stale-replicas.ts, pure): which node's replica the driver asks to destroy.
 */
import { describe, expect, it } from 'vitest';
import type { Epoch, NodeId, ShardId } from '../../../src/base';
import { findStaleReplicas } from '../../../src/placement/stale-replicas';
import type { NodeReport, ReportedGroup } from '../../../src/placement/wire';

function group(id: number, over: Omit<Partial<ReportedGroup>, 'members'> & { members: number[] }): ReportedGroup {
  return {
    id: id as ShardId,
    epoch: 1 as Epoch,
    start: Buffer.alloc(0),
    end: null,
    leader: 0,
    term: 3,
    isLeader: false,
    commit: 0,
    applied: 0,
    ...over,
    members: over.members.map((node) => ({ node: node as NodeId, voter: true, match: 0 })),
  };
}

const report = (node: number, groups: ReportedGroup[]): [NodeId, NodeReport] => [
  node as NodeId,
  { nodeId: node as NodeId, clusterId: null, sentAtMs: 0, client: '', peer: '', groups },
];

describe('findStaleReplicas', () => {
  it("names a replica whose group's leader reports a configuration without its node", () => {
    const reports = new Map([
      report(1, [group(7, { isLeader: true, leader: 1, applied: 40, members: [1, 2, 4] })]),
      report(2, [group(7, { leader: 1, members: [1, 2, 4] })]),
      report(3, [group(7, { leader: 1, term: 2, members: [1, 2, 3] })]),
    ]);
    expect(findStaleReplicas(reports)).toEqual([{ node: 3, shard: 7, appliedMax: 40 }]);
  });

  it('names nothing without a leader report, or when the leader still lists the node', () => {
    const noLeader = new Map([
      report(2, [group(7, { members: [1, 2, 4] })]),
      report(3, [group(7, { members: [1, 2, 3] })]),
    ]);
    expect(findStaleReplicas(noLeader)).toEqual([]);
    const listed = new Map([
      report(1, [group(7, { isLeader: true, applied: 40, members: [1, 2, 3] })]),
      report(3, [group(7, { members: [1, 2, 3] })]),
    ]);
    expect(findStaleReplicas(listed)).toEqual([]);
  });

  it('trusts the leader of the highest term, and never a replica of a higher term than that leader', () => {
    const reports = new Map([
      report(1, [group(7, { isLeader: true, term: 2, applied: 10, members: [1, 2, 5] })]),
      report(2, [group(7, { isLeader: true, term: 5, applied: 30, members: [2, 3, 4] })]),
      report(5, [group(7, { term: 2, members: [1, 2, 5] })]),
    ]);
    // Node 1's old leadership (term 2) is not trusted over node 2's (term 5): node 5 is stale (and node 1,
    // a deposed leader that does not know it yet, is left alone: a leader is never destroyed).
    expect(findStaleReplicas(reports)).toEqual([{ node: 5, shard: 7, appliedMax: 30 }]);
    const newer = new Map([
      report(2, [group(7, { isLeader: true, term: 5, applied: 30, members: [2, 3, 4] })]),
      report(1, [group(7, { term: 6, members: [1, 2] })]),
    ]);
    expect(findStaleReplicas(newer)).toEqual([]);
  });

  it('ignores a leader report without an applied index (an older node)', () => {
    const reports = new Map([
      report(1, [group(7, { isLeader: true, applied: 0, members: [1, 2] })]),
      report(3, [group(7, { members: [1, 2, 3] })]),
    ]);
    expect(findStaleReplicas(reports)).toEqual([]);
  });
});
