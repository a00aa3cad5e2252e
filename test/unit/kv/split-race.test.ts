/**
 * The split/snapshot race at the state level (kv/split-apply.ts, rule 1): when the right-hand group got a
 * snapshot on this node before this node's parent applied the split, the split leaves that group's state
 * alone; and the digests and snapshots of the two halves cover exactly the unsplit data.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { appliedKey, encodeInstallMarker, installMarkerKey } from '../../../src/codec';
import { SPLIT_INITIAL_INDEX, decodeChunk } from '../../../src/kv';
import type { StateMachine } from '../../../src/kv';
import { Stores, b, put } from './helpers';
import { RIGHT, beforeSplit, entriesFrom, fput, open, register, rightEntries, split } from './split-fixture';

const stores = new Stores();
afterEach(() => stores.cleanup());

const str = (v: Buffer | null): string | null => (v === null ? null : v.toString());
const rightRange = { start: b('k'), end: null };
const meta = (index: number) => ({ index, term: 2, config: { voters: [1, 2, 3], learners: [], votersOutgoing: [] } });

async function snapshotChunks(sm: StateMachine): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  for await (const c of sm.openSnapshot({ chunkBytes: 4096 })) chunks.push(c);
  return chunks;
}

/** A peer's right-hand group, split and then written to (applied index 8). */
async function peerRight(): Promise<StateMachine> {
  const { store } = await stores.make();
  await (await open(store)).apply(entriesFrom(1, [...beforeSplit, split('k')]));
  const right = await open(store, RIGHT, rightRange);
  await right.apply(rightEntries([register('s9'), fput('z', 'new', 's9', 1), put('m', 'right')]));
  expect(right.applied).toBe(SPLIT_INITIAL_INDEX + 3);
  return right;
}

describe('split/snapshot race', () => {
  it('a right-hand snapshot installed before the parent applies the split is kept', async () => {
    const source = await peerRight();
    const { store } = await stores.make();
    const parent = await open(store);
    await parent.apply(entriesFrom(1, beforeSplit));
    // The host learnt of group 2 from a peer and installed its snapshot before the parent split here.
    const early = await open(store, RIGHT, rightRange);
    await early.beginSnapshotStaging('s');
    for (const c of await snapshotChunks(source)) await early.stageChunk('s', c);
    await early.installStaged('s', meta(source.applied));

    const r = await parent.apply(entriesFrom(beforeSplit.length + 1, [split('k')]));
    expect(r.get(beforeSplit.length + 1)).toMatchObject({ type: 'split', rightState: 'kept' });
    expect(parent.shard).toEqual({ start: b(''), end: b('k'), epoch: 2 });
    const right = await open(store, RIGHT, rightRange);
    expect(right.applied).toBe(source.applied);
    expect(right.sessionClientIds()).toEqual(source.sessionClientIds());
    expect(str(await right.get(b('m')))).toBe('right');
    expect(str(await right.get(b('z')))).toBe('new');
    expect((await right.digest()).sha256).toBe((await source.digest()).sha256);
  });

  it('a right-hand snapshot install still pending (marker written) is kept too', async () => {
    const { store } = await stores.make();
    const parent = await open(store);
    await store.db.put(installMarkerKey(RIGHT), encodeInstallMarker({ stagingId: 'x', index: 9, term: 2 }));
    const r = await parent.apply(entriesFrom(1, [...beforeSplit, split('k')]));
    expect(r.get(beforeSplit.length + 1)).toMatchObject({ type: 'split', rightState: 'kept' });
    expect(await store.db.get(appliedKey(RIGHT))).toBeUndefined();
  });
});

describe('split digests and snapshots', () => {
  it('the two halves hold exactly the unsplit data: digests by range, snapshots without the other side', async () => {
    const splitStore = await stores.make();
    const parent = await open(splitStore.store);
    await parent.apply(entriesFrom(1, [...beforeSplit, put('k', 'edge'), put('zz', '9'), split('k')]));
    const right = await open(splitStore.store, RIGHT, rightRange);
    const wholeStore = await stores.make();
    const unsplit = await open(wholeStore.store);
    await unsplit.apply(entriesFrom(1, [...beforeSplit, put('k', 'edge'), put('zz', '9')]));
    // Digests of the unsplit data over each half's range (groups with no state: the range is what counts).
    const leftOf = await (await open(wholeStore.store, 11, { start: b(''), end: b('k') })).digest();
    const rightOf = await (await open(wholeStore.store, 12, rightRange)).digest();
    const [p, q, all] = [await parent.digest(), await right.digest(), await unsplit.digest()];
    expect([p.keyCount, p.sha256]).toEqual([leftOf.keyCount, leftOf.sha256]);
    expect([q.keyCount, q.sha256]).toEqual([rightOf.keyCount, rightOf.sha256]);
    expect(p.keyCount + q.keyCount).toBe(all.keyCount);
    expect(p.sha256).not.toBe(all.sha256);

    const keysIn = async (sm: StateMachine): Promise<string[]> => {
      const keys: string[] = [];
      for (const c of await snapshotChunks(sm))
        for (const it of decodeChunk(c).items) if (it.kind === 0) keys.push(it.key.toString());
      return keys;
    };
    expect(await keysIn(parent)).toEqual(['a']);
    expect(await keysIn(right)).toEqual(['k', 'm', 'n', 'zz']);
    const consistent: string[] = [];
    for await (const c of await parent.openConsistentSnapshot(4096))
      for (const it of decodeChunk(c).items) if (it.kind === 0) consistent.push(it.key.toString());
    expect(consistent).toEqual(['a']);
  });
});
