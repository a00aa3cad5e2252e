// A stale replica on real in-process nodes (harness.ts): node 3 is down while it is removed from a shard, so
// it never applies (nor hears of) its removal and still thinks it is a member when it comes back. The
// driver's rule (placement/stale-replicas.ts) then asks it to go: NodeHost.destroyStaleReplica refuses while
// the replica holds more than the leader's applied index, and otherwise destroys it (its Raft records and
// the user data of its range gone), after which it is not reopened by its old peers. Without the driver, the
// leader that removed it hands it the entries through its removal when it campaigns (node/farewells.ts), so it
// destroys itself.
import { afterEach, describe, expect, it } from 'vitest';
import type { GroupId } from '../../../src/base';
import { raftGroupRange } from '../../../src/codec';
import { TestCluster, putCommand, sleep, until, type TestNode } from './harness';

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.close();
  cluster = null;
});

const hosts = (n: TestNode, g: number) => n.host.groupIds().includes(g as GroupId);

/** Splits off the right-hand shard at m and removes node 3 from it while node 3 is down; node 3 restarted. */
async function removedWhileDown(
  c: TestCluster,
): Promise<{ r: number; n3: TestNode; leaderNow: () => TestNode | undefined }> {
  await c.onLeader(async (l) => {
    for (const k of ['a', 'm', 'z']) await l.host.propose(1, putCommand(k, `v-${k}`));
  });
  const { right } = await c.onLeader((l) => l.host.splitShard(Buffer.from('m'), 5000));
  const r = right.id;
  await until(() => c.running().every((n) => hosts(n, r) && n.host.groupStatus(r).applied > 0), 8000, 'split');
  // Node 3 goes down; the right-hand shard removes it; node 3 comes back knowing nothing of it.
  const leaderNow = (): TestNode | undefined =>
    c.running().find((n) => hosts(n, r) && n.host.groupStatus(r).role === 'leader' && n.id !== 3);
  await until(() => leaderNow() !== undefined, 8000, 'leader off node 3');
  const node3 = c.running().find((n) => n.id === 3)!;
  if (node3.host.groupStatus(r).role === 'leader') await node3.host.transferLeader(r as GroupId, leaderNow()!.id);
  await c.stop(3);
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await leaderNow()!.host.changeReplica(r, { kind: 'removeReplica', node: 3 }, 5000);
      break;
    } catch (e) {
      if (Date.now() > deadline) throw e;
      await sleep(100);
    }
  }
  return { r, n3: await c.restart(3), leaderNow };
}

async function raftKeysOf(n: TestNode, r: number): Promise<number> {
  const range = raftGroupRange(r);
  let count = 0;
  for await (const _ of n.store.db.keys({ gte: range.gte, lt: range.lt })) count++;
  return count;
}

describe('stale replicas', () => {
  it('a replica removed while it was down is destroyed on request, and only when it is stale', async () => {
    cluster = await TestCluster.start(3);
    const { r, n3, leaderNow } = await removedWhileDown(cluster);
    await sleep(200);
    expect(hosts(n3, r)).toBe(true);
    expect(n3.host.groupStatus(r).members.map((m) => m.id)).toContain(3); // it still thinks it is a member
    const leaderApplied = leaderNow()!.host.groupStatus(r).applied;
    // Not stale against an older applied index than what it holds.
    expect(n3.host.destroyStaleReplica(r, n3.host.groupStatus(r).lastIndex - 1)).toContain('not stale');
    // (The leader's catch-up may have made it apply its removal in the meantime: then it is already going.)
    expect(n3.host.destroyStaleReplica(r, leaderApplied)).toMatch(/^(destroying|already being destroyed)$/);
    await until(() => !hosts(n3, r), 10_000, 'stale replica destroyed');
    // The destroy batch is written after the group left the host: wait for it.
    const destroyedBy = Date.now() + 5000;
    while ((await raftKeysOf(n3, r)) > 0 && Date.now() < destroyedBy) await sleep(50);
    expect(await raftKeysOf(n3, r)).toBe(0);
    await sleep(1000);
    expect(hosts(n3, r)).toBe(false); // its old peers do not bring it back
  }, 60_000);

  it('without the driver, it destroys itself: its campaign gets it the entries through its removal', async () => {
    cluster = await TestCluster.start(3);
    const { r, n3, leaderNow } = await removedWhileDown(cluster);
    expect(n3.host.groupStatus(r).members.map((m) => m.id)).toContain(3);
    // It campaigns after an election timeout; the leader that removed it appends the entries it lacks.
    await until(() => !hosts(n3, r), 20_000, 'removed replica destroyed by itself');
    const destroyedBy = Date.now() + 5000;
    while ((await raftKeysOf(n3, r)) > 0 && Date.now() < destroyedBy) await sleep(50);
    expect(await raftKeysOf(n3, r)).toBe(0);
    expect(
      leaderNow()!
        .host.groupStatus(r)
        .members.map((m) => m.id),
    ).not.toContain(3);
    expect((await n3.metrics.replicasDestroyed.get()).values[0]?.value).toBe(1);
  }, 60_000);
});
