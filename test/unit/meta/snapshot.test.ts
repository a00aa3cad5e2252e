/**
 * Meta snapshots: restore(snapshot) equals the original (state, applied index, digest), across several
 * chunks; the reader sees exactly the applied index it was opened at; hostile chunks are refused before
 * anything is replaced; an install interrupted by a crash is finished by open. The same transfer runs over
 * the GroupStateMachine interface for the KV and the meta state machines.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { encodeCommand, encodeInstallMarker, encodeRecord, installMarkerKey } from '../../../src/codec';
import type { GroupStateMachine } from '../../../src/group';
import { StateMachine } from '../../../src/kv';
import { META_SHARD_ID, MetaStateMachine } from '../../../src/meta';
import type { MetaResult } from '../../../src/meta';
import { encodeMetaChunk } from '../../../src/meta/snapshot-chunk';
import type { MetaChunkItem } from '../../../src/meta/snapshot-chunk';
import { describeShard } from '../../../src/shard';
import { Log, put, whole } from '../kv/helpers';
import { CLUSTER, MetaHarness, Stores, addr, bootstrap, key, sid } from './helpers';

const stores = new Stores();
afterEach(() => stores.cleanup());

const meta1 = { index: 0, term: 1, config: { voters: [1], learners: [], votersOutgoing: [] } };

/** Streams `from`'s snapshot into `to` through the GroupStateMachine interface only, then installs it. */
async function transfer<R>(
  from: GroupStateMachine<R>,
  to: GroupStateMachine<R>,
  id: string,
  chunkBytes?: number,
): Promise<number> {
  const reader = from.openSnapshot(chunkBytes === undefined ? {} : { chunkBytes });
  await to.beginSnapshotStaging(id);
  let chunks = 0;
  let last = { done: false, applied: -1 };
  for await (const chunk of reader) {
    last = await to.stageChunk(id, chunk);
    chunks++;
  }
  expect(last).toEqual({ done: true, applied: from.applied });
  await to.installStaged(id, { ...meta1, index: from.applied });
  return chunks;
}

function view(sm: MetaStateMachine): unknown {
  return {
    cluster: sm.cluster,
    meta: sm.metaDescriptor && describeShard(sm.metaDescriptor),
    shards: sm.shardMap?.descriptors().map(describeShard),
    nodes: sm.nodes(),
    applied: sm.applied,
  };
}

async function populated(nodes = 40): Promise<MetaHarness> {
  const { store } = await stores.make();
  const h = await MetaHarness.open(store);
  await h.run(bootstrap(), { type: 'reserveShardIds', count: 10 });
  for (let id = 4; id <= nodes; id++)
    await h.one({ type: 'registerNode', clusterId: CLUSTER, nodeId: id, address: addr(id) });
  let right = 3;
  for (const [i, k] of ['m', 'f', 't', 'c'].entries()) {
    const parent = h.sm.shardMap!.locate(key(k));
    await h.one({ type: 'split', shard: parent.id, epoch: parent.epoch, key: key(k), rightId: sid(right + i) });
  }
  await h.one({ type: 'setNodeState', nodeId: 5, state: 'draining' });
  return h;
}

describe('meta snapshot and restore', () => {
  it('restore(snapshot) equals the original: state, applied index and digest, over several chunks', async () => {
    const a = await populated();
    const { store } = await stores.make();
    const b = await MetaHarness.open(store);
    await b.run(bootstrap([7]), { type: 'registerNode', clusterId: CLUSTER, nodeId: 99, address: addr(99) });
    const chunks = await transfer(a.sm, b.sm, 'snap-1', 512);
    expect(chunks).toBeGreaterThan(3);
    expect(view(b.sm)).toEqual(view(a.sm));
    expect(await b.sm.digest()).toEqual(await a.sm.digest());
    expect(b.sm.node(99)).toBeUndefined();
    // The restored replica goes on applying like the original.
    const next = { type: 'setNodeState', nodeId: 6, state: 'down' } as const;
    a.log.add(next);
    await a.sm.apply(a.log.entries);
    await b.sm.apply(a.log.entries);
    expect(await b.sm.digest()).toEqual(await a.sm.digest());
    // And a reopened restored store holds the same.
    const again = await MetaStateMachine.open(store, META_SHARD_ID);
    expect(view(again)).toEqual(view(b.sm));
  });

  it('the digest changes with the state', async () => {
    const a = await populated(5);
    const before = await a.sm.digest();
    await a.one({ type: 'setNodeState', nodeId: 4, state: 'down' });
    const after = await a.sm.digest();
    expect(after.sha256).not.toBe(before.sha256);
    expect(after.appliedIndex).toBe(before.appliedIndex + 1);
    expect(after.keyCount).toBe(before.keyCount);
  });

  it('a reader sees the state at the applied index it was opened at, not later entries', async () => {
    const a = await populated(5);
    const reader = a.sm.openSnapshot();
    const at = a.sm.applied;
    const digestAt = await a.sm.digest();
    await a.one({ type: 'registerNode', clusterId: CLUSTER, nodeId: 50, address: addr(50) });
    const { store } = await stores.make();
    const b = await MetaHarness.open(store);
    await b.sm.beginSnapshotStaging('s');
    for await (const chunk of reader) await b.sm.stageChunk('s', chunk);
    await b.sm.installStaged('s', { ...meta1, index: at });
    expect(b.sm.node(50)).toBeUndefined();
    expect(await b.sm.digest()).toEqual(digestAt);
  });

  it('runs over the GroupStateMachine interface for the KV state machine too', async () => {
    const s1 = await stores.make();
    const s2 = await stores.make();
    const kvA = await StateMachine.open(s1.store, 1, whole, { sessionsMax: 10 });
    const kvB = await StateMachine.open(s2.store, 1, whole, { sessionsMax: 10 });
    const log = new Log();
    log.add(put('a', '1'));
    log.add(put('b', '2'));
    await kvA.apply(log.entries);
    await transfer(kvA, kvB, 'kv-1');
    expect(await kvB.digest()).toEqual(await kvA.digest());
    const asMeta: GroupStateMachine<MetaResult> = (await populated(4)).sm;
    expect(asMeta.applied).toBeGreaterThan(0);
  });
});

describe('hostile snapshot chunks', () => {
  async function receiver(): Promise<MetaHarness> {
    const { store } = await stores.make();
    const h = await MetaHarness.open(store);
    await h.run(bootstrap([7]));
    return h;
  }

  async function itemsOf(h: MetaHarness): Promise<MetaChunkItem[]> {
    const { decodeMetaChunk } = await import('../../../src/meta');
    const items: MetaChunkItem[] = [];
    for await (const c of h.sm.openSnapshot()) items.push(...decodeMetaChunk(c).items);
    return items;
  }

  it('refuses wrong kinds, order, counts and incoherent or damaged content, and keeps its state', async () => {
    const a = await populated(5);
    const items = await itemsOf(a);
    const applied = a.sm.applied;
    const chunk = (
      over: Partial<{ seq: number; done: boolean; itemCount: number; items: MetaChunkItem[]; applied: number }>,
    ) => encodeMetaChunk({ seq: 0, applied, done: true, itemCount: items.length, items, ...over });
    const nodeItem = (id: number) => items.findIndex((it) => it.key.equals(Buffer.from([0x6e, 0, 0, 0, id])));
    const without = (i: number) => items.filter((_, j) => j !== i);
    const damaged = items.map((it, j) => (j === 0 ? { key: it.key, value: Buffer.from(it.value).fill(1, 6, 7) } : it));
    const kvChunk = encodeRecord([0, applied, true, 0, []]);
    const cases: [Uint8Array[], RegExp][] = [
      [[kvChunk], /meta chunk: expected a tuple of 6|not a meta snapshot chunk/],
      [[encodeCommand({ type: 'noop' })], /format byte|corrupt/],
      [[chunk({ seq: 1 })], /chunk 1, expected 0/],
      [[chunk({ done: false, items: [] }), chunk({ seq: 1, applied: applied + 1 })], /of index/],
      [[chunk({ itemCount: items.length + 1 })], /items received, the sender sent/],
      [[chunk({ items: without(nodeItem(2)), itemCount: items.length - 1 })], /on unregistered node 2/],
      [[chunk({ items: without(0), itemCount: items.length - 1 })], /meta state|cluster record/],
      [[chunk({ items: damaged })], /checksum mismatch/],
      [
        [
          chunk({ done: false, items: items.slice(0, 1), itemCount: 0 }),
          chunk({ seq: 1, items: items, itemCount: items.length + 1 }),
        ],
        /items received, \d+ distinct/,
      ],
      [
        [chunk({ items: [...items, { key: Buffer.from('zz'), value: encodeRecord(1) }], itemCount: items.length + 1 })],
        /not a meta key/,
      ],
    ];
    for (const [chunks, re] of cases) {
      const b = await receiver();
      const before = await b.sm.digest();
      await b.sm.beginSnapshotStaging('x');
      let error: Error | null = null;
      try {
        for (const c of chunks) await b.sm.stageChunk('x', c);
      } catch (e) {
        error = e as Error;
      }
      expect(error?.message, String(re)).toMatch(re);
      await expect(b.sm.installStaged('x', { ...meta1, index: applied })).rejects.toThrow(
        /incomplete|no snapshot staging/,
      );
      await b.sm.discardStaged('x');
      expect(await b.sm.digest()).toEqual(before);
    }
    const b = await receiver();
    await b.sm.beginSnapshotStaging('y');
    await b.sm.stageChunk('y', chunk({}));
    await expect(b.sm.stageChunk('y', chunk({ seq: 1 }))).rejects.toThrow(/a chunk after the last one/);
  });
});

describe('snapshot bounds', () => {
  it('refuses a stream of more items than a meta state can hold, before its last chunk', async () => {
    const { store } = await stores.make();
    const b = await MetaHarness.open(store);
    await b.sm.beginSnapshotStaging('big');
    const items: MetaChunkItem[] = Array.from({ length: 4096 }, (_, i) => ({
      key: Buffer.from([0x6e, 0, 0, (i + 1) >> 8, (i + 1) & 255]),
      value: encodeRecord([i + 1, addr(i + 1), 0, null, null]),
    }));
    let seq = 0;
    const send = () =>
      b.sm.stageChunk('big', encodeMetaChunk({ seq: seq++, applied: 5, done: false, itemCount: 0, items }));
    for (let i = 0; i < 24; i++) await send();
    await expect(send()).rejects.toThrow(/more than 101026 items/);
  });
});

describe('crash-safe install', () => {
  it('open() finishes an install whose marker was persisted with the snapshot meta', async () => {
    const a = await populated(6);
    const s = await stores.make();
    const b = await MetaHarness.open(s.store);
    await b.sm.beginSnapshotStaging('crash-1');
    for await (const c of a.sm.openSnapshot()) await b.sm.stageChunk('crash-1', c);
    // NodeStore.persist writes this marker with a received snapshot's meta; then the process dies.
    await s.store.db.put(
      installMarkerKey(META_SHARD_ID),
      encodeInstallMarker({ stagingId: 'crash-1', index: a.sm.applied, term: 1 }),
    );
    const store = await stores.reopen(s);
    const reopened = await MetaStateMachine.open(store, META_SHARD_ID);
    expect(view(reopened)).toEqual(view(a.sm));
    expect(await store.db.get(installMarkerKey(META_SHARD_ID))).toBeUndefined();
  });

  it('a marker without complete staged data is CORRUPTION; staging without a marker is discarded at open', async () => {
    const a = await populated(4);
    const s = await stores.make();
    const b = await MetaHarness.open(s.store);
    await b.run(bootstrap([3]));
    await b.sm.beginSnapshotStaging('half');
    const [first] = [await a.sm.openSnapshot({ chunkBytes: 64 })[Symbol.asyncIterator]().next()];
    await b.sm.stageChunk('half', first!.value as Buffer);
    let store = await stores.reopen(s);
    const kept = await MetaStateMachine.open(store, META_SHARD_ID);
    expect(kept.nodes().map((n) => n.id)).toEqual([3]);
    await store.db.put(installMarkerKey(META_SHARD_ID), encodeInstallMarker({ stagingId: 'half', index: 9, term: 1 }));
    store = await stores.reopen(s);
    await expect(MetaStateMachine.open(store, META_SHARD_ID)).rejects.toThrow(
      /pending but its staged data is incomplete/,
    );
  });
});
