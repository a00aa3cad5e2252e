// waitShardsCaughtUp (nemesis/away.ts): after a restart, the catchup nemesis waits until the victim caught up
// on every shard it hosts, not only the workload's. A scripted cluster of three nodes and three groups.
import { describe, expect, it } from 'vitest';
import { Random } from '../../src/base';
import type { GroupInfo } from '../cluster/admin-client';
import { waitShardsCaughtUp, type AwayCluster, type AwayContext } from '../nemesis/away';
import { NemesisLog } from '../nemesis/nemesis-log';

/** Node 3 hosts groups 1 and 5 (its applied index grows by `step` per poll); group 7 lives on 1 and 2 only. */
function cluster(step: Record<number, number>, withGroups = true): AwayCluster {
  const applied = new Map<number, number>([
    [1, 60],
    [5, 10],
  ]);
  const group = (groupId: number, role: string, commit: number, appliedIndex: number): GroupInfo => ({
    groupId,
    leader: 0,
    term: 1,
    role,
    commit,
    applied: appliedIndex,
    firstIndex: 1,
    lastIndex: commit,
    members: [],
    start: Buffer.alloc(0),
    end: Buffer.alloc(0),
  });
  const groupsStatus = async (id: number): Promise<GroupInfo[] | null> => {
    if (id === 1) return [group(1, 'leader', 100, 100), group(7, 'leader', 30, 30)];
    if (id === 2) return [group(5, 'leader', 40, 40), group(7, 'follower', 30, 30)];
    for (const [g, a] of applied) applied.set(g, a + (step[g] ?? 0));
    return [group(1, 'follower', 100, applied.get(1)!), group(5, 'follower', 40, applied.get(5)!)];
  };
  const unused = () => Promise.reject(new Error('not used'));
  return {
    ids: [1, 2, 3],
    removed: new Set(),
    leader: async () => null,
    groupStatus: async () => null,
    kill: unused,
    restart: () => undefined,
    removeMember: unused,
    addMember: unused,
    writeBallast: async () => 0,
    ...(withGroups ? { groupsStatus } : {}),
  };
}

const context = (c: AwayCluster): AwayContext => ({
  cluster: c,
  rng: new Random(1),
  log: new NemesisLog(null, () => 0),
  signal: new AbortController().signal,
});

describe('waitShardsCaughtUp', () => {
  it("waits for every shard the node hosts to reach its leader's commit, and skips shards it does not host", async () => {
    const r = await waitShardsCaughtUp(context(cluster({ 1: 20, 5: 10 })), 3, 5000);
    expect(r).toMatchObject({ caughtUp: 2, behind: [] });
    expect(r!.ms).toBeGreaterThanOrEqual(150); // group 1 was behind at the first poll: it waited one round
  });

  it('names the shards still behind when the budget ends', async () => {
    const r = await waitShardsCaughtUp(context(cluster({ 1: 20, 5: 0 })), 3, 700);
    expect(r).toMatchObject({ caughtUp: 1, behind: [5] });
  });

  it('is null for a cluster that reports one group only', async () => {
    expect(await waitShardsCaughtUp(context(cluster({}, false)), 3, 500)).toBeNull();
  });
});
