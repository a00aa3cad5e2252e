/**
 * The driver's snapshot (src/placement/view.ts): which source wins for each shard (the leader's report,
 * then the meta descriptor, then a follower's report), status only from leaders, the meta group's epoch
 * from the meta shard, liveness from the table, and the view for the Admin API.
 */
import { describe, expect, it } from 'vitest';
import type { Epoch, NodeId, ShardId } from '../../../src/base';
import { buildSnapshot, type NodeReport, type ReportedGroup, type SnapshotInput } from '../../../src/placement';
import { makeDescriptor, type ShardDescriptor } from '../../../src/shard';

const group = (
  id: number,
  o: { epoch?: number; start?: string; end?: string | null; leader: NodeId; term?: number; isLeader?: boolean },
  members: [NodeId, boolean, number][],
): ReportedGroup => ({
  id: id as ShardId,
  epoch: (o.epoch ?? 1) as Epoch,
  start: Buffer.from(o.start ?? ''),
  end: o.end === undefined ? null : o.end === null ? null : Buffer.from(o.end),
  leader: o.leader,
  term: o.term ?? 1,
  isLeader: o.isLeader ?? false,
  commit: o.isLeader ? 100 : 0,
  members: members.map(([node, voter, match]) => ({ node, voter, match })),
});

const report = (nodeId: NodeId, groups: ReportedGroup[]): NodeReport => ({
  nodeId,
  clusterId: null,
  sentAtMs: 0,
  client: '',
  peer: '',
  groups,
});

const descriptor = (id: number, voters: NodeId[], epoch: number, start = '', end: string | null = null) =>
  makeDescriptor({
    id: id as ShardId,
    start: Buffer.from(start),
    end: end === null ? null : Buffer.from(end),
    epoch: epoch as Epoch,
    replicas: voters.map((node) => ({ node, role: 'voter' as const })),
  });

function input(reports: NodeReport[], metaDescriptors: ShardDescriptor[]): SnapshotInput {
  return {
    nowMs: 10_000,
    registry: [1, 2, 3, 4].map((id) => ({ id, address: `h${id}:1`, state: 'up' as const })),
    heardMs: (id) => (id === 4 ? 1_000 : 9_500),
    heard: (id) => id !== 4,
    reports: new Map(reports.map((r) => [r.nodeId, r])),
    metaDescriptors,
    metaGroupId: 2,
    metaEpoch: 7,
    inFlight: () => [],
  };
}

describe("the driver's snapshot", () => {
  it("takes a shard's replicas, range and epoch from its leader's report over the meta descriptor", () => {
    // The meta shard still has shard 1 on 1, 2, 3 over the whole keyspace; its leader (node 1) has 1, 2, 4
    // and a narrower range after a split the meta shard has not recorded; node 2 is a stale follower.
    const leader = group(1, { epoch: 3, end: 'm', leader: 1, isLeader: true, term: 5 }, [
      [1, true, 100],
      [2, true, 90],
      [4, false, 10],
    ]);
    const stale = group(1, { epoch: 2, leader: 3, term: 4 }, [
      [1, true, 0],
      [2, true, 0],
      [3, true, 0],
    ]);
    const right = group(5, { epoch: 3, start: 'm', leader: 0 }, [
      [1, true, 0],
      [2, true, 0],
    ]);
    const { snapshot, view } = buildSnapshot(
      input([report(1, [leader]), report(2, [stale, right])], [descriptor(1, [1, 2, 3], 2)]),
      77,
    );
    const s1 = snapshot.shards.find((d) => d.id === 1)!;
    expect(s1.epoch).toBe(3);
    expect(Buffer.from(s1.end!).toString()).toBe('m');
    expect(s1.replicas).toEqual([
      { node: 1, role: 'voter' },
      { node: 2, role: 'voter' },
      { node: 4, role: 'learner' },
    ]);
    // The split's right half is known only from a follower's report: included, but with no status.
    expect(Buffer.from(snapshot.shards.find((d) => d.id === 5)!.start).toString()).toBe('m');
    expect(snapshot.status.map((s) => s.shard)).toEqual([1]);
    expect(snapshot.status[0]).toMatchObject({ leader: 1, commitIndex: 100 });
    expect(snapshot.status[0]!.match.get(2)).toBe(90);
    expect(snapshot.nodes.find((n) => n.id === 4)?.lastHeartbeatMs).toBe(1_000);
    expect(view.atMs).toBe(77);
    expect(view.nodes.find((n) => n.id === 4)).toMatchObject({ replicas: 1, leaders: 0, lastHeardAgoMs: null });
    expect(view.nodes.find((n) => n.id === 1)).toMatchObject({ replicas: 2, leaders: 1, lastHeardAgoMs: 500 });
  });

  it('believes the claimed leader with the highest term, and the meta descriptor when no leader reports', () => {
    const old = group(1, { leader: 1, isLeader: true, term: 3 }, [
      [1, true, 5],
      [2, true, 5],
    ]);
    const current = group(1, { leader: 2, isLeader: true, term: 4 }, [
      [1, true, 9],
      [2, true, 9],
      [3, true, 9],
    ]);
    const { snapshot } = buildSnapshot(
      input([report(1, [old]), report(2, [current])], [descriptor(1, [1, 2], 1), descriptor(9, [3, 4], 4, 'x')]),
      0,
    );
    expect(snapshot.status.find((s) => s.shard === 1)?.leader).toBe(2);
    expect(snapshot.shards.find((d) => d.id === 1)?.replicas.map((r) => r.node)).toEqual([1, 2, 3]);
    expect(snapshot.shards.find((d) => d.id === 9)?.epoch).toBe(4);
    expect(snapshot.status.some((s) => s.shard === 9)).toBe(false);
  });

  it("gives the meta group the meta shard's epoch, and leaves out a group that reports no voter", () => {
    const meta = group(2, { epoch: 1, start: 'meta', leader: 1, isLeader: true }, [[1, true, 3]]);
    const broken = group(6, { leader: 1, isLeader: true }, [[3, false, 0]]);
    const { snapshot } = buildSnapshot(input([report(1, [meta, broken])], []), 0);
    expect(snapshot.shards.find((d) => d.id === 2)?.epoch).toBe(7);
    expect(snapshot.shards.some((d) => d.id === 6)).toBe(false);
    expect(snapshot.status.some((s) => s.shard === 6)).toBe(false);
  });
});
