// Per-shard replica changes on real in-process nodes (LevelDB, gRPC peers; harness.ts): a shard's replica
// moves to a node that never hosted it (started with --join, taught by learnNodeAddress), the removed
// replica destroys itself (Raft records and the user data of its range gone, a tombstone kept), stays
// destroyed across a restart and is not reopened by stale messages.
import { afterEach, describe, expect, it } from 'vitest';
import type { GroupId, NodeId } from '../../../src/base';
import { dataRange, encodeRaftMessage, raftGroupRange } from '../../../src/codec';
import { Tombstones } from '../../../src/node/tombstones';
import type { NodeStore } from '../../../src/storage';
import { TestCluster, putCommand, sleep, until, type TestNode } from './harness';

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.close();
  cluster = null;
});

const hosts = (n: TestNode, g: number) => n.host.groupIds().includes(g as GroupId);

function leaderOf(c: TestCluster, g: number): TestNode | null {
  return c.running().find((n) => hosts(n, g) && n.host.groupStatus(g as GroupId).role === 'leader') ?? null;
}

/** Runs `fn` on the group's leader, again when leadership moves under it. */
async function onGroupLeader<T>(c: TestCluster, g: number, fn: (l: TestNode) => Promise<T>, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const l = leaderOf(c, g);
    try {
      if (l) return await fn(l);
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (!['NOT_LEADER', 'UNAVAILABLE', 'WRONG_SHARD'].includes(code ?? '') || Date.now() > deadline) throw e;
    }
    if (Date.now() > deadline) throw new Error(`no leader of group ${g}`);
    await sleep(50);
  }
}

async function countKeys(store: NodeStore, range: { gte: Buffer; lt: Buffer }): Promise<number> {
  let n = 0;
  for await (const _ of store.db.keys({ gte: range.gte, lt: range.lt })) n++;
  return n;
}

/** 3 bootstrap nodes with keys a..z, split at m: returns the right-hand shard's id. */
async function splitCluster(c: TestCluster): Promise<number> {
  await c.onLeader(async (l) => {
    for (const k of ['a', 'f', 'm', 'q', 'z']) await l.host.propose(1, putCommand(k, `v-${k}`));
  });
  const { right } = await c.onLeader((l) => l.host.splitShard(Buffer.from('m'), 5000));
  await until(() => c.running().every((n) => hosts(n, right.id) && n.host.groupStatus(right.id).leader !== 0));
  return right.id;
}

/**
 * 3 nodes with keys a, m, q, z split at m; a follower x of the right-hand shard r has its replica removed
 * and destroyed. `change` retries a change of x's replica: the new group's leader refuses one until its
 * first entry of its term committed (UNAVAILABLE, a membership change still in progress), and leadership
 * may move (NOT_LEADER).
 */
async function rightReplicaDestroyed(c: TestCluster) {
  await c.onLeader(async (l) => {
    for (const k of ['a', 'm', 'q', 'z']) await l.host.propose(1, putCommand(k, `v-${k}`));
  });
  const { right } = await c.onLeader((l) => l.host.splitShard(Buffer.from('m'), 5000));
  const r = right.id;
  await until(() => c.running().every((n) => hosts(n, r) && n.host.groupStatus(r).leader !== 0), 8000, 'split');
  const x = c.running().find((n) => n.id !== leaderOf(c, r)!.id)!;
  const change = (kind: 'removeReplica' | 'addLearner' | 'promoteLearner', ms: number) =>
    onGroupLeader(c, r, (l) => l.host.changeReplica(r, { kind, node: x.id }, ms));
  await change('removeReplica', 10_000);
  await until(() => !hosts(x, r), 10_000, 'replica destroyed');
  return { r, x, change };
}

const address = (n: TestNode) => `127.0.0.1:${n.port}`;

describe('per-shard replica changes', () => {
  it('the Admin member calls change the group they name (and leave the first data shard alone)', async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    const r = await splitCluster(c);
    const x = c.running().find((n) => n.id !== leaderOf(c, r)!.id)!;
    const voters = (ms: { id: number; voter: boolean }[]) => ms.filter((m) => m.voter).map((m) => m.id);
    const removed = await onGroupLeader(c, r, (l) => l.host.removeNode(x.id, 10_000, r));
    expect(voters(removed)).toEqual([1, 2, 3].filter((id) => id !== x.id));
    // The first data shard keeps all three; x still replicates it.
    const first = await onGroupLeader(c, 1, async (l) => l.host.groupStatus(1).members);
    expect(voters(first)).toEqual([1, 2, 3]);
    await until(() => !hosts(x, r), 10_000, 'replica destroyed');
    expect(hosts(x, 1)).toBe(true);
    // Added back to the named group, as a learner.
    const added = await onGroupLeader(c, r, (l) => l.host.addNode(x.id, address(x), true, 10_000, address(x), r));
    expect(added.find((m) => m.id === x.id)?.voter).toBe(false);
    // A group this node does not host is refused as such.
    await expect(x.host.removeNode(2, 1000, 999)).rejects.toMatchObject({ code: 'WRONG_SHARD' });
  }, 40_000);

  it('moves a shard replica to a node that never hosted it; the source destroys its replica, also after a restart', async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    const r = await splitCluster(c);
    const n4 = await c.join(4);
    const leader = leaderOf(c, r)!;
    const from = c.running().find((n) => n.id !== leader.id && n.id !== 4)!;
    // Node 4 shares no group with the others: its address must be taught first.
    await expect(leader.host.changeReplica(r, { kind: 'addLearner', node: 4 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('address of node 4 unknown'),
    });
    for (const n of c.running()) if (n.id !== 4) n.host.learnNodeAddress(4, address(n4), address(n4));
    const members = await onGroupLeader(c, r, (l) => l.host.moveReplica(r, from.id, 4, 15_000));
    expect(members.map((m) => [m.id, m.voter])).toEqual(
      [1, 2, 3, 4].filter((id) => id !== from.id).map((id) => [id, true]),
    );
    // Node 4 holds the shard (and only it: it is no member of the first shard), with every key.
    // (The shard list follows the applied index: a snapshot install sets it before it loads the shard.)
    const filled = () => hosts(n4, r) && n4.host.groupStatus(r as GroupId).applied > 5;
    await until(() => filled() && n4.host.listShards().length > 0, 10_000, 'node 4 caught up');
    expect(n4.host.listShards().map((s) => s.id)).toEqual([r]);
    // Linearizable reads on node 4 once it leads (again after an election that moved leadership away).
    const values = await onGroupLeader(c, r, async (l) => {
      if (l.id !== 4) await l.host.transferLeader(r as GroupId, 4); // (a retry may find it leading already)
      const out: string[] = [];
      for (const k of ['m', 'q', 'z'])
        out.push(String((await n4.host.read(r as GroupId, 'linearizable', (sm) => sm.get(Buffer.from(k)))).value));
      return out;
    });
    expect(values).toEqual(['v-m', 'v-q', 'v-z']);
    // The source destroyed its replica: no group, no Raft records, no user data of the range; the first
    // shard's keys are still there.
    await until(() => !hosts(from, r), 10_000, 'source replica destroyed');
    await until(async () => (await countKeys(from.store, raftGroupRange(r))) === 0, 5000, 'raft records gone');
    expect(await countKeys(from.store, dataRange(Buffer.from('m'), null))).toBe(0);
    expect(await countKeys(from.store, dataRange(Buffer.alloc(0), Buffer.from('m')))).toBeGreaterThanOrEqual(2);
    expect(from.store.logBounds(r)).toBeNull();
    expect((await from.metrics.replicasDestroyed.get()).values[0]?.value).toBe(1);
    expect(from.host.listShards().map((s) => s.id)).toEqual([1]);
    // The source still replicates the first shard: its peers kept their links to it.
    await onGroupLeader(c, 1, (l) => l.host.propose(1, putCommand('b', 'after-move')));
    await until(
      async () =>
        (await from.host.read(1, 'stale', (sm) => sm.get(Buffer.from('b')))).value?.toString() === 'after-move',
      5000,
      'first shard still replicated to the source',
    );
    // A restart does not reopen it.
    const back = await c.restart(from.id);
    expect(hosts(back, r)).toBe(false);
    expect(back.host.listShards().map((s) => s.id)).toEqual([1]);
    expect(await countKeys(back.store, raftGroupRange(r))).toBe(0);
    await onGroupLeader(c, r, (l) => l.host.propose(r as GroupId, putCommand('x', 'after')));
  }, 60_000);

  it('stale messages of the old configuration do not reopen a destroyed replica', async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    const r = await splitCluster(c);
    const leader = leaderOf(c, r)!;
    const gone = c.running().find((n) => n.id !== leader.id)!;
    await onGroupLeader(c, r, (l) => l.host.changeReplica(r, { kind: 'removeReplica', node: gone.id }));
    await until(() => !hosts(gone, r), 10_000, 'removed replica destroyed');
    const term = leader.host.groupStatus(r as GroupId).term;
    const electionMs = gone.config.timing.electionMs;
    // A leader's delayed heartbeats and appends of before the removal, in its term, over 1.5 election
    // timeouts (without the tombstone the node opens an uninitialized replica after one).
    const stale = (commit: number) =>
      encodeRaftMessage({
        groupId: r,
        message: { type: 'heartbeat', from: leader.id as NodeId, to: gone.id as NodeId, term, commit, context: 0 },
      });
    const t0 = Date.now();
    while (Date.now() - t0 < 1.5 * electionMs) {
      gone.host.onMessages(leader.id as NodeId, [stale(0)]);
      await sleep(electionMs / 4);
    }
    gone.host.onMessages(leader.id as NodeId, [stale(0)]);
    await sleep(100);
    expect(hosts(gone, r)).toBe(false);
  }, 40_000);

  it('adds a learner to the meta group, promotes it, removes another replica, which destroys its meta replica', async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    await c.waitForLeader();
    const n4 = await c.join(4);
    for (const n of c.running()) if (n.id !== 4) n.host.learnNodeAddress(4, address(n4), address(n4));
    const META = 2;
    await until(() => leaderOf(c, META) !== null, 10_000, 'meta leader');
    const asLearner = await onGroupLeader(c, META, (l) =>
      l.host.changeReplica(META, { kind: 'addLearner', node: 4 }, 10_000),
    );
    expect(asLearner.find((m) => m.id === 4)).toMatchObject({ voter: false });
    // Idempotent: adding it again changes nothing.
    await onGroupLeader(c, META, (l) => l.host.changeReplica(META, { kind: 'addLearner', node: 4 }));
    const promoted = await onGroupLeader(c, META, (l) =>
      l.host.changeReplica(META, { kind: 'promoteLearner', node: 4 }, 10_000),
    );
    expect(promoted.find((m) => m.id === 4)).toMatchObject({ voter: true });
    // A follower answers NOT_LEADER.
    const follower = c.running().find((n) => n.id !== 4 && n.host.groupStatus(META as GroupId).role !== 'leader')!;
    await expect(follower.host.changeReplica(META, { kind: 'removeReplica', node: 4 })).rejects.toMatchObject({
      code: 'NOT_LEADER',
    });
    const victim = c.running().find((n) => n.id !== 4 && n.host.groupStatus(META as GroupId).role !== 'leader')!;
    const after = await onGroupLeader(c, META, (l) =>
      l.host.changeReplica(META, { kind: 'removeReplica', node: victim.id }, 10_000),
    );
    expect(after.map((m) => m.id)).not.toContain(victim.id);
    await until(() => !hosts(victim, META), 10_000, 'meta replica destroyed');
    const metaRecords = raftGroupRange(META);
    metaRecords.gte[0] = 0x63; // c/2/: the meta shard's records
    metaRecords.lt[0] = 0x63;
    await until(async () => (await countKeys(victim.store, metaRecords)) === 0, 5000, 'meta records gone');
    const back = await c.restart(victim.id);
    expect(hosts(back, META)).toBe(false);
    expect(hosts(back, 1)).toBe(true);
    // Removing a node that holds no replica is a no-op.
    await onGroupLeader(c, META, (l) => l.host.changeReplica(META, { kind: 'removeReplica', node: victim.id }));
    // Added again, it reopens its meta replica and gets the registry by snapshot or log.
    await onGroupLeader(c, META, (l) => l.host.changeReplica(META, { kind: 'addLearner', node: victim.id }, 10_000));
    await onGroupLeader(c, META, (l) =>
      l.host.changeReplica(META, { kind: 'promoteLearner', node: victim.id }, 15_000),
    );
    await until(() => hosts(back, META), 10_000, 'meta replica back');
    await until(() => back.host.groupStatus(META as GroupId).members.some((m) => m.id === 4 && m.voter), 10_000);
    // The registry arrives with the snapshot's install (an uninitialized replica takes no log entries), which
    // may finish a moment after the core took the snapshot's configuration.
    const registry = (): number[] => {
      try {
        return back.host.listNodes().map((n) => n.id);
      } catch {
        return [];
      }
    };
    await until(() => registry().includes(1), 10_000, 'the registry on the re-added meta replica');
  }, 60_000);

  it('the first shard: a removed replica is destroyed, stays so across a restart, and comes back by snapshot when added again', async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    const r = await splitCluster(c);
    const leader = leaderOf(c, 1)!;
    const x = c.running().find((n) => n.id !== leader.id)!;
    await onGroupLeader(c, 1, (l) => l.host.changeReplica(1, { kind: 'removeReplica', node: x.id }, 10_000));
    await until(() => !hosts(x, 1), 10_000, 'first shard replica destroyed');
    const firstRange = dataRange(Buffer.alloc(0), Buffer.from('m'));
    await until(async () => (await countKeys(x.store, firstRange)) === 0, 5000, 'its data gone');
    expect(await countKeys(x.store, dataRange(Buffer.from('m'), null))).toBe(3); // the other shard's keys stay
    const termBefore = leader.host.groupStatus(1).term;
    const back = await c.restart(x.id);
    expect(hosts(back, 1)).toBe(false); // neither reopened nor bootstrapped again from --peers
    expect(back.host.listShards().map((s) => s.id)).toEqual([r]);
    await onGroupLeader(c, 1, (l) => l.host.propose(1, putCommand('c', 'while-away')));
    // Added again: the tombstoned group reopens (from the tombstone's term) and a snapshot fills it.
    await onGroupLeader(c, 1, (l) => l.host.changeReplica(1, { kind: 'addLearner', node: x.id }, 10_000));
    await onGroupLeader(c, 1, (l) => l.host.changeReplica(1, { kind: 'promoteLearner', node: x.id }, 15_000));
    await until(() => hosts(back, 1) && back.host.listShards().length === 2, 10_000, 'first shard back');
    expect(back.host.groupStatus(1).term).toBeGreaterThanOrEqual(termBefore);
    const got = await back.host.read(1, 'stale', (sm) => sm.get(Buffer.from('c')));
    expect(got.value?.toString()).toBe('while-away');
    expect((await back.host.read(1, 'stale', (sm) => sm.get(Buffer.from('a')))).value?.toString()).toBe('v-a');
  }, 60_000);

  it('a replica added back right after its node destroyed it is reopened there, promoted once a snapshot filled it', async () => {
    cluster = await TestCluster.start(3);
    const { r, x, change } = await rightReplicaDestroyed(cluster);
    await change('addLearner', 10_000);
    await change('promoteLearner', 20_000);
    await until(() => hosts(x, r) && x.host.groupStatus(r).applied > 0, 10_000, 'filled');
    const got = await x.host.read(r as GroupId, 'stale', (sm) => sm.get(Buffer.from('q')));
    expect(got.value?.toString()).toBe('v-q');
  }, 60_000);

  it('a replica reopened from its tombstone is fenced: no vote, no snapshot at or below its removal, until one past it', async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    const { r, x, change } = await rightReplicaDestroyed(c);
    const group = () => (x.host as unknown as { groups: Map<number, { fenceIndex: number }> }).groups.get(r);
    // Hold x's snapshots back, so the reopened replica stays fenced while we look at it.
    const host = x.host as unknown as { onSnapshot: (s: unknown) => Promise<void> };
    const onSnapshot = host.onSnapshot.bind(x.host);
    let hold = true;
    host.onSnapshot = (s) => (hold ? Promise.reject(new Error('held by the test')) : onSnapshot(s));
    await change('addLearner', 10_000);
    await until(() => hosts(x, r), 10_000, 'reopened');
    const fence = group()!.fenceIndex;
    expect(fence).toBeGreaterThan(0);
    const tomb = await Tombstones.open(x.store);
    expect(tomb.get(r)).toMatchObject({ index: fence, reopened: true });
    // A vote request (from a voter, in a later term, a transfer's: no lease ignores it) is not even stepped:
    // the replica's term stays.
    const st = x.host.groupStatus(r);
    const voter = c.running().find((n) => n.id !== x.id)!;
    const vote = {
      type: 'vote',
      from: voter.id,
      to: x.id,
      term: st.term + 5,
      lastLogIndex: 1000,
      lastLogTerm: st.term + 4,
      transfer: true,
    };
    x.host.onMessages(voter.id as NodeId, [
      encodeRaftMessage({ groupId: r, message: vote } as Parameters<typeof encodeRaftMessage>[0]),
    ]);
    expect(x.host.groupStatus(r).term).toBe(st.term);
    // A snapshot at or below the fence is refused (the leader's, with the fence moved above it for the test).
    group()!.fenceIndex = 1_000_000;
    hold = false;
    await sleep(1500);
    expect(x.host.groupStatus(r).applied).toBe(0);
    // Past the fence: it fills, and the tombstone goes.
    group()!.fenceIndex = fence;
    await until(() => x.host.groupStatus(r).applied > 0, 15_000, 'filled');
    expect(group()!.fenceIndex).toBe(0);
    expect((await Tombstones.open(x.store)).has(r)).toBe(false);
  }, 60_000);

  it('a node without a link to the leader that adds it (dropped when they shared no group) links again and catches up', async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    const r = await splitCluster(c);
    const x = c.running().find((n) => n.id !== leaderOf(c, r)!.id)!;
    const change = (kind: 'removeReplica' | 'addLearner' | 'promoteLearner', ms: number) =>
      onGroupLeader(c, r, (l) => l.host.changeReplica(r, { kind, node: x.id }, ms));
    await change('removeReplica', 10_000);
    await until(() => !hosts(x, r), 10_000, 'replica destroyed');
    // What a node holds after applying the removals of its last groups shared with the others (or a node that
    // joined and never linked to a leader): no link to them. Its address book still knows them.
    const others = c.running().filter((n) => n.id !== x.id);
    for (const n of others) x.transport.removePeer(n.id as NodeId);
    expect(others.map((n) => x.transport.peerAddress(n.id as NodeId))).toEqual([null, null]);
    await change('addLearner', 10_000);
    // Its answers reach the leader only once it linked again: the leader then fills it (a snapshot) and the
    // learner catches up to be promoted.
    await change('promoteLearner', 20_000);
    await until(() => hosts(x, r) && x.host.groupStatus(r).applied > 0, 10_000, 'filled');
    const leader = leaderOf(c, r)!;
    expect(x.transport.peerAddress(leader.id as NodeId)).toBe(address(leader));
    const got = await x.host.read(r as GroupId, 'stale', (sm) => sm.get(Buffer.from('q')));
    expect(got.value?.toString()).toBe('v-q');
  }, 60_000);

  it('a replica that applied its removal and stopped before destroying itself is destroyed after its restart', async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    const r = await splitCluster(c);
    const x = c.running().find((n) => n.host.groupStatus(r as GroupId).role !== 'leader')!;
    await onGroupLeader(c, r, (l) => l.host.changeReplica(r, { kind: 'removeReplica', node: x.id }, 10_000));
    // Stop it as soon as it applied its removal: within the grace period, before the destroy.
    await until(() => !x.host.groupStatus(r as GroupId).members.some((m) => m.id === x.id), 5000, 'removal applied');
    expect(hosts(x, r)).toBe(true);
    await c.stop(x.id);
    const back = await c.restart(x.id);
    await until(() => !hosts(back, r), 10_000, 'destroyed after the restart');
    await until(async () => (await countKeys(back.store, raftGroupRange(r))) === 0, 5000, 'raft records gone');
    expect(await countKeys(back.store, dataRange(Buffer.from('m'), null))).toBe(0);
  }, 60_000);

  it('a leader sharing no other group with the replica it removes keeps its link until the farewell is done', async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    const r = await splitCluster(c);
    const n4 = await c.join(4);
    for (const n of c.running()) if (n.id !== 4) n.host.learnNodeAddress(4, address(n4), address(n4));
    for (const kind of ['addLearner', 'promoteLearner'] as const)
      await onGroupLeader(c, r, (l) => l.host.changeReplica(r, { kind, node: 4 }, 15_000));
    await until(() => hosts(n4, r) && n4.host.groupStatus(r as GroupId).applied > 5, 10_000, 'node 4 caught up');
    // Node 4 leads the shard and removes node 2 from it; node 4 shares no other group with node 2, so only its
    // farewell can tell node 2 that its removal committed (the others are in the same term, not its leader).
    const x = c.running().find((n) => n.id === 2)!;
    await onGroupLeader(c, r, async (l) => {
      if (l.id !== 4) {
        await l.host.transferLeader(r as GroupId, 4);
        throw Object.assign(new Error('leadership moving to node 4'), { code: 'NOT_LEADER' });
      }
      return l.host.changeReplica(r, { kind: 'removeReplica', node: x.id }, 10_000);
    });
    expect(n4.transport.peerAddress(x.id)).toBe(address(x));
    await until(() => !hosts(x, r), 10_000, 'removed replica destroyed');
    // The link goes once the farewell is forgotten (node 2 is a member of no group on node 4).
    await until(() => n4.transport.peerAddress(x.id) === null, 30_000, 'link to node 2 dropped');
    expect(
      hosts(
        c.running().find((n) => n.id === 1)!,
        r,
      ),
    ).toBe(true);
  }, 60_000);

  it('a leader removes itself from a data shard: leadership moves and its replica is destroyed', async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    const r = await splitCluster(c);
    const leader = leaderOf(c, r)!;
    // Retried while the new group's first entry is not applied yet (a change then is refused as retryable).
    const members = await onGroupLeader(c, r, (l) => {
      if (l !== leader) throw Object.assign(new Error('leadership moved'), { code: 'NOT_LEADER' });
      return l.host.changeReplica(r, { kind: 'removeReplica', node: leader.id }, 10_000);
    });
    expect(members.map((m) => m.id)).not.toContain(leader.id);
    await until(() => !hosts(leader, r), 15_000, 'old leader replica destroyed');
    await onGroupLeader(c, r, (l) => l.host.propose(r as GroupId, putCommand('q', 'v2')));
    const next = leaderOf(c, r)!;
    expect(next.id).not.toBe(leader.id);
    const range = dataRange(Buffer.from('m'), null);
    await until(async () => (await countKeys(leader.store, range)) === 0, 5000, 'data of the range gone');
    expect(await countKeys(leader.store, dataRange(Buffer.alloc(0), Buffer.from('m')))).toBe(2);
  }, 60_000);
});
