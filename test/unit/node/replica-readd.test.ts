// A replica added back to its node right after that node destroyed it (the tombstone is fresh): the group
// reopens there once the leader's contact lasted two election timeouts, and a snapshot fills it.
import { afterEach, describe, expect, it } from 'vitest';
import type { GroupId } from '../../../src/base';
import { TestCluster, putCommand, until, type TestNode } from './harness';

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.close();
  cluster = null;
});

const hosts = (n: TestNode, g: number) => n.host.groupIds().includes(g as GroupId);

function leaderOf(c: TestCluster, g: number): TestNode | null {
  return c.running().find((n) => hosts(n, g) && n.host.groupStatus(g as GroupId).role === 'leader') ?? null;
}

describe('re-adding a replica', () => {
  it('right after its node destroyed it: promoted once a snapshot filled it', async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    await c.onLeader(async (l) => {
      for (const k of ['a', 'm', 'q', 'z']) await l.host.propose(1, putCommand(k, `v-${k}`));
    });
    const { right } = await c.onLeader((l) => l.host.splitShard(Buffer.from('m'), 5000));
    const r = right.id;
    await until(() => c.running().every((n) => hosts(n, r) && n.host.groupStatus(r).leader !== 0), 8000, 'split');
    const leader = leaderOf(c, r)!;
    const x = c.running().find((n) => n.id !== leader.id)!;
    await leader.host.changeReplica(r, { kind: 'removeReplica', node: x.id }, 10_000);
    await until(() => !hosts(x, r), 10_000, 'replica destroyed');
    const l2 = leaderOf(c, r)!;
    await l2.host.changeReplica(r, { kind: 'addLearner', node: x.id }, 10_000);
    await l2.host.changeReplica(r, { kind: 'promoteLearner', node: x.id }, 20_000);
    await until(() => hosts(x, r) && x.host.groupStatus(r).applied > 0, 10_000, 'filled');
    const got = await x.host.read(r as GroupId, 'stale', (sm) => sm.get(Buffer.from('q')));
    expect(got.value?.toString()).toBe('v-q');
  }, 60_000);
});
