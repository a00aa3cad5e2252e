/** Every meta command over a real LevelDB: results, refusals, persistence, replay and undecodable entries. */
import { afterEach, describe, expect, it } from 'vitest';
import {
  FIRST_DATA_SHARD_ID,
  META_SHARD_ID,
  MetaStateMachine,
  isLegalTransition,
  refusalError,
} from '../../../src/meta';
import type { MetaResult, NodeState } from '../../../src/meta';
import { describeShard } from '../../../src/shard';
import { NodeStore } from '../../../src/storage';
import { CLUSTER, MetaHarness, OTHER_CLUSTER, Stores, addr, bootstrap, ep, key, outcome, sid } from './helpers';

const stores = new Stores();
afterEach(() => stores.cleanup());

async function booted(): Promise<MetaHarness> {
  const { store } = await stores.make();
  const h = await MetaHarness.open(store);
  expect(outcome(await h.one(bootstrap()))).toBe('bootstrapped');
  return h;
}

const shards = (h: MetaHarness): string[] => (h.sm.shardMap?.descriptors() ?? []).map(describeShard);
function refused(r: MetaResult): Extract<MetaResult, { type: 'refused' }> {
  if (r.type !== 'refused') throw new Error(`expected a refusal, got ${r.type}`);
  return r;
}

describe('bootstrap', () => {
  it('creates the cluster, the meta group and one data shard over the whole keyspace, with the nodes up', async () => {
    const { store } = await stores.make();
    const h = await MetaHarness.open(store);
    expect(h.sm.clusterId).toBeNull();
    expect(outcome(await h.one({ type: 'registerNode', clusterId: CLUSTER, nodeId: 4, address: addr(4) }))).toBe(
      'refused:not-bootstrapped',
    );
    const r = await h.one(bootstrap());
    expect(r.type).toBe('bootstrapped');
    expect(h.sm.clusterId).toBe(CLUSTER);
    expect(shards(h)).toEqual([`shard ${FIRST_DATA_SHARD_ID} [0x, null) e1 {1v 2v 3v}`]);
    expect(describeShard(h.sm.metaDescriptor!)).toBe(`shard ${META_SHARD_ID} [0x, null) e1 {1v 2v 3v}`);
    expect(h.sm.nodes().map((n) => [n.id, n.address, n.state, n.registeredAtMs])).toEqual([
      [1, addr(1), 'up', 1000],
      [2, addr(2), 'up', 1000],
      [3, addr(3), 'up', 1000],
    ]);
    expect(h.sm.cluster?.nextShardId).toBe(3);
    expect(outcome(await h.one(bootstrap()))).toBe('refused:already-bootstrapped');
    expect(outcome(await h.one({ ...bootstrap([7]), clusterId: OTHER_CLUSTER }))).toBe('refused:already-bootstrapped');
    expect(h.sm.nodes().length).toBe(3);
  });
});

describe('registerNode', () => {
  it('registers a new node up; a retry is idempotent; id, address and cluster mismatches are refused', async () => {
    const h = await booted();
    const reg = (nodeId: number, address: string, clusterId = CLUSTER) =>
      h.one({ type: 'registerNode', clusterId, nodeId, address, atMs: 2000 });
    const r = await reg(4, addr(4));
    expect(r).toEqual({
      type: 'registered',
      created: true,
      node: { id: 4, address: addr(4), peerAddress: null, state: 'up', registeredAtMs: 2000, stateSinceMs: 2000 },
    });
    const again = await reg(4, addr(4));
    expect(again.type === 'registered' && again.created).toBe(false);
    const mismatch = refused(await reg(5, addr(5), OTHER_CLUSTER));
    expect(mismatch.reason).toBe('cluster-mismatch');
    expect(mismatch.message).toContain(OTHER_CLUSTER);
    expect(refused(await reg(4, '10.0.0.9:7004')).reason).toBe('node-id-taken');
    expect(refused(await reg(1, addr(9))).reason).toBe('node-id-taken');
    expect(refused(await reg(6, addr(2))).reason).toBe('address-taken');
    expect(h.sm.node(5)).toBeUndefined();
    expect(h.sm.node(6)).toBeUndefined();
    // A removed id never comes back; its address is free again for a new id.
    expect(outcome(await h.one({ type: 'setNodeState', nodeId: 4, state: 'removed' }))).toBe('nodeState');
    expect(refused(await reg(4, addr(4))).reason).toBe('node-removed');
    expect(outcome(await reg(8, addr(4)))).toBe('registered');
  });

  it('a --peer-listen node registers the address members dial it at for Raft beside its client address', async () => {
    const h = await booted();
    const r = await h.one({
      type: 'registerNode',
      clusterId: CLUSTER,
      nodeId: 4,
      address: addr(4),
      peerAddress: '127.0.0.1:8004',
    });
    expect(r.type === 'registered' && r.node).toMatchObject({ id: 4, address: addr(4), peerAddress: '127.0.0.1:8004' });
    expect(h.sm.node(4)?.peerAddress).toBe('127.0.0.1:8004');
    expect(h.sm.node(1)?.peerAddress).toBeNull(); // bootstrap nodes: their --peers entries are known to all
  });

  it('refusals map to typed errors with the reason as rule', async () => {
    const h = await booted();
    const e = refusalError(
      refused(await h.one({ type: 'registerNode', clusterId: OTHER_CLUSTER, nodeId: 9, address: addr(9) })),
    );
    expect([e.code, e.details.rule, e.retryable]).toEqual(['INVALID_ARGUMENT', 'cluster-mismatch', false]);
    const stale = refused(
      await h.one({ type: 'split', shard: FIRST_DATA_SHARD_ID, epoch: ep(0), key: key('m'), rightId: sid(3) }),
    );
    const se = refusalError(stale);
    expect([se.code, se.details.epoch, se.details.shard, se.retryable]).toEqual(['WRONG_SHARD', 1, 1, true]);
  });
});

describe('setNodeState', () => {
  const states: NodeState[] = ['up', 'down', 'draining', 'removed'];
  const legal = new Set([
    'up>down',
    'up>draining',
    'up>removed',
    'down>up',
    'down>draining',
    'down>removed',
    'draining>up',
    'draining>removed',
  ]);

  it('allows exactly the legal transitions (same state is no change)', async () => {
    for (const from of states)
      for (const to of states)
        expect(isLegalTransition(from, to), `${from}>${to}`).toBe(from === to || legal.has(`${from}>${to}`));
    const h = await booted();
    let id = 10;
    for (const from of ['down', 'draining', 'up'] as NodeState[])
      for (const to of states) {
        id++;
        await h.one({ type: 'registerNode', clusterId: CLUSTER, nodeId: id, address: addr(id) });
        if (from !== 'up')
          expect(outcome(await h.one({ type: 'setNodeState', nodeId: id, state: from }))).toBe('nodeState');
        const r = await h.one({ type: 'setNodeState', nodeId: id, state: to, atMs: 5000 + id });
        const ok = from === to || legal.has(`${from}>${to}`);
        expect(outcome(r), `${from}>${to}`).toBe(ok ? 'nodeState' : 'refused:illegal-transition');
        expect(h.sm.node(id)?.state).toBe(ok ? to : from);
        if (ok && from !== to) expect(h.sm.node(id)?.stateSinceMs).toBe(5000 + id);
        if (r.type === 'nodeState') expect(r.previous).toBe(from);
      }
    expect(outcome(await h.one({ type: 'setNodeState', nodeId: 1, state: 'removed' }))).toBe('nodeState');
    for (const to of states.filter((s) => s !== 'removed'))
      expect(outcome(await h.one({ type: 'setNodeState', nodeId: 1, state: to }))).toBe('refused:illegal-transition');
    expect(outcome(await h.one({ type: 'setNodeState', nodeId: 99, state: 'down' }))).toBe('refused:unknown-node');
  });
});

describe('reserveShardIds and split', () => {
  it('hands out fresh ids; a split with a reserved id gives two halves at epoch + 1 that tile the keyspace', async () => {
    const h = await booted();
    expect(await h.one({ type: 'reserveShardIds', count: 2 })).toEqual({
      type: 'shardIdsReserved',
      first: 3,
      count: 2,
    });
    expect(await h.one({ type: 'reserveShardIds', count: 1 })).toEqual({
      type: 'shardIdsReserved',
      first: 5,
      count: 1,
    });
    const r = await h.one({ type: 'split', shard: sid(1), epoch: ep(1), key: key('m'), rightId: sid(4) });
    expect(r.type).toBe('split');
    expect(shards(h)).toEqual(['shard 1 [0x, m) e2 {1v 2v 3v}', 'shard 4 [m, null) e2 {1v 2v 3v}']);
    expect(h.sm.shardMap!.locate(key('z')).id).toBe(4);
    expect(outcome(await h.one({ type: 'split', shard: sid(4), epoch: ep(2), key: key('t'), rightId: sid(3) }))).toBe(
      'split',
    );
    expect(shards(h)).toEqual([
      'shard 1 [0x, m) e2 {1v 2v 3v}',
      'shard 4 [m, t) e3 {1v 2v 3v}',
      'shard 3 [t, null) e3 {1v 2v 3v}',
    ]);
  });

  it('refuses stale and future epochs, a second split of the same parent, and unreserved or used ids', async () => {
    const h = await booted();
    await h.one({ type: 'reserveShardIds', count: 3 }); // 3, 4, 5
    const first = { type: 'split', shard: sid(1), epoch: ep(1), key: key('m'), rightId: sid(3) } as const;
    const second = { type: 'split', shard: sid(1), epoch: ep(1), key: key('f'), rightId: sid(4) } as const;
    const [a, b] = await h.run(first, second);
    expect(outcome(a!)).toBe('split');
    const race = refused(b!);
    expect(race.reason).toBe('epoch-mismatch');
    expect(race.message).toContain('stale');
    expect(race.current?.epoch).toBe(2);
    const before = shards(h);
    expect(refused(await h.one({ ...second, epoch: ep(7) })).message).toContain('ahead');
    expect(refused(await h.one({ ...second, epoch: ep(2), rightId: sid(6) })).reason).toBe('shard-id-not-reserved');
    expect(refused(await h.one({ ...second, epoch: ep(2), rightId: sid(3) })).reason).toBe('shard-id-not-reserved');
    expect(refused(await h.one({ ...second, epoch: ep(2), rightId: META_SHARD_ID })).reason).toBe(
      'shard-id-not-reserved',
    );
    expect(refused(await h.one({ ...second, epoch: ep(2), key: key('q') })).reason).toBe('bad-split');
    expect(refused(await h.one({ ...second, epoch: ep(2), key: Buffer.alloc(0) })).reason).toBe('bad-split');
    expect(refused(await h.one({ ...second, shard: sid(42), epoch: ep(2) })).reason).toBe('unknown-shard');
    expect(refused(await h.one({ ...second, shard: META_SHARD_ID, epoch: ep(1) })).reason).toBe('bad-split');
    expect(shards(h)).toEqual(before);
  });
});

describe('changeReplicas', () => {
  it('adds a learner, promotes it, removes a voter, each at epoch + 1 and only against the current epoch', async () => {
    const h = await booted();
    await h.one({ type: 'registerNode', clusterId: CLUSTER, nodeId: 4, address: addr(4) });
    const change = (c: 'addLearner' | 'promoteLearner' | 'removeReplica', node: number, epoch: number, shard = 1) =>
      h.one({ type: 'changeReplicas', shard: sid(shard), epoch: ep(epoch), change: c, node });
    expect(outcome(await change('addLearner', 4, 1))).toBe('replicasChanged');
    expect(outcome(await change('promoteLearner', 4, 1))).toBe('refused:epoch-mismatch');
    expect(outcome(await change('promoteLearner', 4, 2))).toBe('replicasChanged');
    expect(outcome(await change('removeReplica', 1, 3))).toBe('replicasChanged');
    expect(shards(h)).toEqual(['shard 1 [0x, null) e4 {2v 3v 4v}']);
    expect(outcome(await change('addLearner', 9, 4))).toBe('refused:unknown-node');
    expect(outcome(await change('addLearner', 2, 4))).toBe('refused:bad-replica-change');
    expect(outcome(await change('promoteLearner', 3, 4))).toBe('refused:bad-replica-change');
    expect(outcome(await change('removeReplica', 1, 4))).toBe('refused:bad-replica-change');
    // A removed node gets no replica, but its replicas can be removed.
    await h.one({ type: 'setNodeState', nodeId: 1, state: 'removed' });
    expect(outcome(await change('addLearner', 1, 4))).toBe('refused:node-removed');
    await h.one({ type: 'setNodeState', nodeId: 4, state: 'removed' });
    expect(outcome(await change('removeReplica', 4, 4))).toBe('replicasChanged');
    // The last voter stays.
    await change('removeReplica', 2, 5);
    expect(outcome(await change('removeReplica', 3, 6))).toBe('refused:bad-replica-change');
    // The meta group's replicas change the same way.
    expect(outcome(await change('removeReplica', 3, 1, META_SHARD_ID))).toBe('replicasChanged');
    expect(describeShard(h.sm.metaDescriptor!)).toBe(`shard ${META_SHARD_ID} [0x, null) e2 {1v 2v}`);
    expect(outcome(await change('removeReplica', 2, 1, META_SHARD_ID))).toBe('refused:epoch-mismatch');
  });
});

describe('setReplicas', () => {
  it('records the reported replicas at a later epoch, the range kept; only against the current epoch', async () => {
    const h = await booted();
    await h.one({ type: 'registerNode', clusterId: CLUSTER, nodeId: 4, address: addr(4) });
    const set = (epoch: number, newEpoch: number, spec: [number, 'voter' | 'learner'][], shard = 1) =>
      h.one({
        type: 'setReplicas',
        shard: sid(shard),
        epoch: ep(epoch),
        newEpoch: ep(newEpoch),
        replicas: spec.map(([node, role]) => ({ node, role })),
      });
    // A learner added and removed again, then a move: the shard is at epoch 6 with 1, 3, 4.
    const moved: [number, 'voter'][] = [
      [1, 'voter'],
      [3, 'voter'],
      [4, 'voter'],
    ];
    expect(outcome(await set(1, 6, moved))).toBe('replicasChanged');
    expect(shards(h)).toEqual(['shard 1 [0x, null) e6 {1v 3v 4v}']);
    expect(outcome(await set(1, 7, moved))).toBe('refused:epoch-mismatch');
    expect(outcome(await set(6, 7, [[9, 'voter']]))).toBe('refused:unknown-node');
    expect(shards(h)).toEqual(['shard 1 [0x, null) e6 {1v 3v 4v}']);
    // After it, a split planned at the shard's epoch is recorded (before, every later split was refused).
    const reserved = await h.one({ type: 'reserveShardIds', count: 1 });
    const right = reserved.type === 'shardIdsReserved' ? reserved.first : sid(99);
    expect(outcome(await h.one({ type: 'split', shard: sid(1), epoch: ep(6), key: key('m'), rightId: right }))).toBe(
      'split',
    );
  });
});

describe('limits', () => {
  it('a descriptor holds at most 64 replicas (what a stored record may hold)', async () => {
    const h = await booted();
    for (let id = 4; id <= 66; id++) {
      await h.one({ type: 'registerNode', clusterId: CLUSTER, nodeId: id, address: addr(id) });
      const d = h.sm.shardMap!.get(sid(1))!;
      const r = await h.one({ type: 'changeReplicas', shard: d.id, epoch: d.epoch, change: 'addLearner', node: id });
      expect(outcome(r), `node ${id}`).toBe(id <= 64 ? 'replicasChanged' : 'refused:limit');
    }
    expect(h.sm.shardMap!.get(sid(1))!.replicas.length).toBe(64);
  });
});

describe('durability and replay', () => {
  it('a reopened state machine has the same state and applied index; replayed entries are skipped', async () => {
    const s = await stores.make();
    const h = await MetaHarness.open(s.store);
    await h.run(
      bootstrap(),
      { type: 'registerNode', clusterId: CLUSTER, nodeId: 4, address: addr(4) },
      { type: 'registerNode', clusterId: CLUSTER, nodeId: 5, address: addr(5), peerAddress: '127.0.0.1:8005', atMs: 3 },
      { type: 'reserveShardIds', count: 1 },
      { type: 'split', shard: sid(1), epoch: ep(1), key: key('k'), rightId: sid(3) },
      { type: 'setNodeState', nodeId: 2, state: 'draining' },
    );
    h.log.add(null);
    h.log.add('config');
    await h.sm.apply(h.log.entries);
    const digest = await h.sm.digest();
    const before = { shards: shards(h), nodes: h.sm.nodes(), cluster: h.sm.cluster, applied: h.sm.applied };
    expect(before.applied).toBe(8);
    expect(before.nodes.find((n) => n.id === 5)?.peerAddress).toBe('127.0.0.1:8005');
    const store = await stores.reopen(s);
    const again = await MetaStateMachine.open(store, META_SHARD_ID);
    const reopened = new MetaHarness(again);
    expect({ shards: shards(reopened), nodes: again.nodes(), cluster: again.cluster, applied: again.applied }).toEqual(
      before,
    );
    expect(await again.digest()).toEqual(digest);
    const results = await again.apply(h.log.entries);
    expect(results.size).toBe(0);
    expect(await again.digest()).toEqual(digest);
  });

  it('an entry that is not a meta command is a no-op on every replica, counted and reported', async () => {
    const { store } = await stores.make();
    const seen: string[] = [];
    const sm = await MetaStateMachine.open(store, META_SHARD_ID, { onUndecodable: (i) => seen.push(`${i.index}`) });
    const h = new MetaHarness(sm);
    const [r1, r2, r3] = await h.run(Buffer.from([0x93, 1, 2, 3]), bootstrap(), Buffer.from('garbage'));
    expect(r1?.type).toBe('undecodable');
    expect(r2?.type).toBe('bootstrapped');
    expect(r3?.type).toBe('undecodable');
    expect(sm.undecodableEntries).toBe(2);
    expect(seen).toEqual(['1', '3']);
    expect(sm.applied).toBe(3);
  });

  it('entries must continue at applied + 1', async () => {
    const h = await booted();
    await expect(h.sm.apply([{ kind: 'empty', term: 1, index: 5 }])).rejects.toThrow(/applying entry 5 after 1/);
  });
});

describe('serial use and failures', () => {
  it('refuses a snapshot or install while an apply runs; after a failed write every later call is refused', async () => {
    const s = await stores.make();
    const h = await MetaHarness.open(s.store);
    h.log.add(bootstrap());
    const applying = h.sm.apply(h.log.entries);
    expect(() => h.sm.openSnapshot()).toThrow(/openSnapshot during apply/);
    await applying;
    h.log.add({ type: 'reserveShardIds', count: 1 });
    await s.store.close();
    await expect(h.sm.apply(h.log.entries)).rejects.toThrow();
    await expect(h.sm.apply(h.log.entries)).rejects.toThrow(/failed earlier; restart the node/);
    expect(() => h.sm.openSnapshot()).toThrow(/failed earlier/);
    await expect(h.sm.digest()).rejects.toThrow(/failed earlier/);
    // Nothing of the failed apply became visible.
    expect(h.sm.applied).toBe(1);
    expect(h.sm.cluster?.nextShardId).toBe(3);
    s.store = await NodeStore.open(s.dir); // for cleanup
  });
});
