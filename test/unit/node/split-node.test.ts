// Splits on real in-process nodes (LevelDB, gRPC peers, NodeHost; test/unit/node/harness.ts): the shard id
// comes from the meta shard, every replica cuts the range at the same index and opens the right-hand group,
// which elects a leader at once; writes for moved keys are refused by the parent; restarts reopen every group.
import { afterEach, describe, expect, it } from 'vitest';
import { TesseraError, type GroupId } from '../../../src/base';
import type { NodeHost } from '../../../src/node';
import { appliedKey, encodeIndex, raftGroupRange, shardRecordKey } from '../../../src/codec';
import { SPLIT_INITIAL_INDEX } from '../../../src/kv';
import { decodeShardWire } from '../../../src/shard';
import { NodeStore } from '../../../src/storage';
import { Tombstones } from '../../../src/node/tombstones';
import { TestCluster, putCommand, sleep, until } from './harness';

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.close();
  cluster = null;
});

const shardsOf = (h: NodeHost) => h.listShards().map((s) => `${s.id}:${s.start}-${s.end ?? ''}@${s.epoch}`);

/** Splits at `key` on the owning shard's leader, again while leadership or the shard moves (a node may be
 * between applying a split and opening its right-hand group: WRONG_SHARD for a moment). */
async function splitOnLeader(c: TestCluster, key: string) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const owner = c.running()[0]!.host.groupFor(Buffer.from(key));
      const leader = c
        .running()
        .find((n) => n.host.groupIds().includes(owner) && n.host.groupStatus(owner).role === 'leader');
      if (leader) return await leader.host.splitShard(Buffer.from(key), 5000);
    } catch (e) {
      const code = (e as TesseraError).code;
      if (!['NOT_LEADER', 'UNAVAILABLE', 'WRONG_SHARD'].includes(code) || Date.now() > deadline) throw e;
    }
    await sleep(50);
  }
}

/**
 * What node 3 holds when a leader's message and snapshot created its replica of a split's right-hand group
 * before its parent applied the split, and the replica was then removed and destroyed: a tombstone with the
 * term and vote it had. Node 3 is stopped across the split (its parent applies it at the restart) and stays
 * in the right-hand group's configuration, so that group's leader keeps calling it.
 */
async function restartWithRightTombstoned(c: TestCluster, term: number, vote: number, index = 9) {
  await c.onLeader((l) => l.host.propose(1, putCommand('q-before', 'old')));
  await c.stop(3);
  const { right } = await splitOnLeader(c, 'm');
  const store = await NodeStore.open(c.nodes.get(3)!.dataDir);
  const tombstones = await Tombstones.open(store);
  await store.db.batch([tombstones.add({ groupId: right.id, index, term, vote, atMs: 0 })]);
  await store.close();
  return { right, n3: await c.restart(3) };
}

describe('shard splits on real nodes', () => {
  it('cuts the range on every replica, opens the right-hand group with a leader, and refuses moved keys on the parent', async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    await c.onLeader(async (l) => {
      for (const k of ['a', 'f', 'm', 'q', 'z']) await l.host.propose(1, putCommand(k, `v-${k}`));
    });
    const t0 = Date.now();
    const { left, right } = await splitOnLeader(c, 'm');
    expect(left).toMatchObject({ id: 1, end: Buffer.from('m'), epoch: 2 });
    expect(right).toMatchObject({ start: Buffer.from('m'), end: null, epoch: 2 });
    expect(right.id).toBeGreaterThan(2); // ids 1 and 2 are the first data shard and the meta shard
    expect(right.replicas.map((r) => r.id)).toEqual([1, 2, 3]);
    // Every replica has both shards with the same ranges and epochs.
    const want = [`1:-m@2`, `${right.id}:m-@2`];
    await until(() => c.running().every((n) => JSON.stringify(shardsOf(n.host)) === JSON.stringify(want)), 8000);
    for (const n of c.running()) {
      // One shard's entry, as the listing has it (placement actions read it alone).
      for (const id of [1, right.id])
        expect(n.host.shardInfo(id)).toEqual(n.host.listShards().find((s) => s.id === id));
      expect(n.host.shardInfo(2 as GroupId)).toBeNull(); // the meta group is no KV shard
    }
    // The right-hand group elects at once (not after an election timeout of idle waiting).
    await until(() => c.running().every((n) => n.host.groupStatus(right.id).leader !== 0), 8000, 'right leader');
    const electedMs = Date.now() - t0;
    console.log(`split + right-hand leader on every replica in ${electedMs} ms`);
    // Routing by range, the data stayed where it was (one keyspace), and the parent refuses moved keys.
    const n1 = c.running()[0]!.host;
    expect(n1.groupFor(Buffer.from('f'))).toBe(1);
    expect(n1.groupFor(Buffer.from('q'))).toBe(right.id);
    const parentLeader = c.running().find((n) => n.host.groupStatus(1).role === 'leader')!;
    // A write routed to the parent before the split, applied after it: refused, with the new owner's descriptor.
    const refused = await parentLeader.host.propose(1, putCommand('q', 'late')).catch((e: TesseraError) => e);
    expect(refused).toMatchObject({ code: 'WRONG_SHARD', details: { epoch: 2 } });
    const owner = decodeShardWire((refused as TesseraError).details.shard);
    expect(
      owner.kind === 'descriptor' && [owner.descriptor.id, Buffer.from(owner.descriptor.start).toString()],
    ).toEqual([right.id, 'm']);
    const rightLeader = c.running().find((n) => n.host.groupStatus(right.id).role === 'leader')!;
    await rightLeader.host.propose(right.id, putCommand('q', 'v-q2'));
    const read = await rightLeader.host.read(right.id, 'linearizable', (sm) => sm.get(Buffer.from('q')));
    expect(read.value?.toString()).toBe('v-q2');
    const z = await rightLeader.host.read(right.id, 'linearizable', (sm) => sm.get(Buffer.from('z')));
    expect(z.value?.toString()).toBe('v-z');
    // A key at a boundary is not a split; a follower answers NOT_LEADER naming the group.
    await expect(splitOnLeader(c, 'm')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const follower = c.running().find((n) => n.host.groupStatus(1).role !== 'leader')!;
    await expect(follower.host.splitShard(Buffer.from('c'))).rejects.toMatchObject({ details: { groupId: 1 } });
  }, 40_000);

  it('a restarted replica reopens every group with its range, and a second split takes a fresh id', async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    const first = await splitOnLeader(c, 'k');
    const second = await splitOnLeader(c, 't');
    expect(second.right.id).not.toBe(first.right.id);
    expect(second.left.id).toBe(first.right.id);
    await until(() => c.running().every((n) => n.host.listShards().length === 3), 8000);
    await c.stop(3);
    const n3 = await c.restart(3);
    expect(shardsOf(n3.host)).toEqual(shardsOf(c.nodes.get(1)!.host));
    await until(() => n3.host.groupStatus(second.right.id).leader !== 0, 8000);
  }, 40_000);

  it('a replica that crashed between the split and the right-hand group Raft start finishes the start at restart', async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    const { right } = await splitOnLeader(c, 'h');
    await until(() => c.running().every((n) => n.host.listShards().length === 2), 8000);
    // Node 3 applies the right-hand leader's first entry (index SPLIT_INITIAL_INDEX + 1) before it stops, so
    // the applied index must be put back below (the case that once failed in CI: applied 6 over a log at 5).
    await until(() => c.nodes.get(3)!.host.groupStatus(right.id).applied > SPLIT_INITIAL_INDEX, 8000);
    await c.stop(3);
    // What the crash leaves: the split's state-machine batch (shard record, applied index SPLIT_INITIAL_INDEX)
    // without r/<right>/.
    const store = await NodeStore.open(c.nodes.get(3)!.dataDir);
    for await (const key of store.db.keys(raftGroupRange(right.id))) await store.db.del(key);
    await store.db.put(appliedKey(right.id), encodeIndex(SPLIT_INITIAL_INDEX));
    await store.close();
    const n3 = await c.restart(3);
    expect(shardsOf(n3.host)).toEqual(shardsOf(c.nodes.get(1)!.host));
    // Deleting r/<right>/ by hand also lost what node 3 had acknowledged in the group (a real crash in the
    // window never acknowledged anything: the group had no Raft state yet), so the current leader still
    // counts on it; a new leader starts its view of node 3 from scratch.
    await c.onLeader(async () => {
      const l = c.running().find((n) => n.host.groupStatus(right.id).role === 'leader');
      const to = [1, 2].find((id) => id !== l?.id)!;
      if (l) await l.host.transferLeader(right.id, to);
    });
    const leader = await (async () => {
      await until(() => c.running().some((n) => n.host.groupStatus(right.id).role === 'leader'), 8000);
      return c.running().find((n) => n.host.groupStatus(right.id).role === 'leader')!;
    })();
    const { header } = await leader.host.propose(right.id, putCommand('x', 'after'));
    await until(() => n3.host.groupStatus(right.id).applied >= header.index, 8000, 'node 3 applies the new write');
    const v = await n3.host.read(right.id, 'stale', (sm) => sm.get(Buffer.from('x')));
    expect(v.value?.toString()).toBe('after');
  }, 40_000);

  it('a replica that skipped the split (its parent caught up by a later snapshot) gets the right-hand group by snapshot', async () => {
    cluster = await TestCluster.start(3, ['--snapshot-entries', '20', '--log-retain-entries', '2']);
    const c = cluster;
    await c.onLeader(async (l) => {
      await l.host.propose(1, putCommand('q-before', 'old'));
    });
    await c.stop(3);
    const { right } = await splitOnLeader(c, 'm');
    // Enough writes on both sides that the parent's log is compacted past the split entry.
    for (let i = 0; i < 60; i++) {
      const key = i % 2 === 0 ? `a-${i}` : `q-${i}`;
      const owner = key < 'm' ? 1 : right.id;
      await c.onLeader(async () => {
        const l = c
          .running()
          .find((n) => n.host.groupIds().includes(owner) && n.host.groupStatus(owner).role === 'leader');
        if (!l) throw Object.assign(new Error('no leader'), { code: 'UNAVAILABLE' });
        await l.host.propose(owner, putCommand(key, `v${i}`));
      });
    }
    const n3 = await c.restart(3);
    await until(
      () => JSON.stringify(shardsOf(n3.host)) === JSON.stringify(shardsOf(c.nodes.get(1)!.host)),
      15_000,
      'node 3 hosts both shards',
    );
    await until(
      () => n3.host.groupStatus(right.id).applied >= c.nodes.get(1)!.host.groupStatus(right.id).applied,
      15_000,
    );
    for (const [k, v] of [
      ['q-before', 'old'],
      ['q-59', 'v59'],
      ['a-58', 'v58'],
    ] as const) {
      const g = n3.host.groupFor(Buffer.from(k));
      const read = await n3.host.read(g, 'stale', (sm) => sm.get(Buffer.from(k)));
      expect(read.value?.toString()).toBe(v);
    }
  }, 60_000);

  it('a replica destroyed here before its parent applied the split is not re-created by the split', async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    // A tombstone whose fence (its removal's index) no snapshot of the group passes: its leader keeps calling
    // node 3 (still a member here), so the reopen rule may open it again, but only fenced and empty.
    const { right, n3 } = await restartWithRightTombstoned(c, 40, 2, 1_000_000);
    await until(() => shardsOf(n3.host).some((s) => s.startsWith('1:-m@')), 10_000, 'node 3 applied the split');
    await sleep(3 * n3.config.timing.electionMs);
    expect(shardsOf(n3.host).some((s) => s.startsWith(`${right.id}:`))).toBe(false);
    if (n3.host.groupIds().includes(right.id)) {
      // No Raft start from the split: the tombstone's term and vote are not forgotten.
      const st = n3.host.groupStatus(right.id);
      expect(st.applied).toBe(0);
      expect(st.term).toBeGreaterThanOrEqual(40);
    } else {
      let raftKeys = 0;
      for await (const _ of n3.store.db.keys(raftGroupRange(right.id))) raftKeys++;
      expect(raftKeys).toBe(0); // no Raft start from the split: the tombstone's vote is not forgotten
    }
    // Nor the state-machine records the split's batch wrote for it (a later reopen starts from the tombstone).
    expect(await n3.store.db.get(appliedKey(right.id))).toBeUndefined();
    expect(await n3.store.db.get(shardRecordKey(right.id))).toBeUndefined();
    // The shard itself is served by its other replicas (once more after an election, should node 3's
    // reopened replica have answered in its tombstone's term 40: its leader then steps down).
    await until(
      async () => {
        const leader = c.running().find((n) => n.id !== 3 && n.host.groupStatus(right.id).role === 'leader');
        if (leader === undefined) return false;
        return leader.host.propose(right.id, putCommand('x', 'after')).then(
          () => true,
          () => false,
        );
      },
      15_000,
      'a write on the right-hand shard',
    );
  }, 40_000);

  it('a replica destroyed before its parent applied the split comes back when its leader calls it again', async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    // The tombstone's term is the group's first: its leader calls node 3 for two election timeouts and
    // reopens it, from the tombstone alone.
    // Its fence (the index of the removal it records) is below any snapshot of the group: one lifts it.
    const { right, n3 } = await restartWithRightTombstoned(c, 1, 0, 1);
    await until(() => n3.host.groupIds().includes(right.id), 15_000, 'node 3 reopened the right-hand group');
    const leader = () => c.running().find((n) => n.host.groupStatus(right.id).role === 'leader');
    const { header } = await leader()!.host.propose(right.id, putCommand('x', 'after'));
    await until(() => n3.host.groupStatus(right.id).applied >= header.index, 15_000, 'node 3 caught up');
    for (const [k, v] of [
      ['q-before', 'old'],
      ['x', 'after'],
    ] as const) {
      const read = await n3.host.read(right.id, 'stale', (sm) => sm.get(Buffer.from(k)));
      expect(read.value?.toString()).toBe(v);
    }
  }, 40_000);
});
