/**
 * Snapshots carry the group's shard (kv/snapshot-chunk.ts, kv/snapshot-staging.ts): a replica of the parent
 * that skips the split entry by installing a snapshot taken after it narrows exactly like one that applied
 * the split (so it refuses the same later writes), keeps the keys beyond its new range, and finishes an
 * interrupted install with the new range on open. A shard that does not fit the receiver is refused.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { encodeInstallMarker, encodeValueRecord, installMarkerKey } from '../../../src/codec';
import type { NodeStore } from '../../../src/storage';
import type { StateMachine } from '../../../src/kv';
import { encodeChunk } from '../../../src/kv/snapshot-chunk';
import { Stores, b, put } from './helpers';
import { beforeSplit, entriesFrom, open, split } from './split-fixture';

const stores = new Stores();
afterEach(() => stores.cleanup());

const str = (v: Buffer | null): string | null => (v === null ? null : v.toString());
const meta = (index: number) => ({ index, term: 2, config: { voters: [1, 2, 3], learners: [], votersOutgoing: [] } });
const AFTER = [...beforeSplit, split('k'), put('b', 'later')];

async function chunksOf(sm: StateMachine): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  for await (const c of sm.openSnapshot({ chunkBytes: 4096 })) chunks.push(c);
  return chunks;
}

async function stageAll(sm: StateMachine, id: string, chunks: Buffer[]): Promise<void> {
  await sm.beginSnapshotStaging(id);
  for (const c of chunks) await sm.stageChunk(id, c);
}

/** A leader's parent after the split, and a follower's parent (in its own store) that has not applied it. */
async function leaderAndFollower(): Promise<{
  leader: StateMachine;
  follower: StateMachine;
  at: { store: NodeStore; dir: string };
}> {
  const { store } = await stores.make();
  const leader = await open(store);
  await leader.apply(entriesFrom(1, AFTER));
  const at = await stores.make();
  const follower = await open(at.store);
  await follower.apply(entriesFrom(1, beforeSplit));
  return { leader, follower, at };
}

describe('snapshots across a split', () => {
  it('a follower that installs a post-split snapshot narrows like one that applied the split', async () => {
    const { leader, follower, at } = await leaderAndFollower();
    await stageAll(follower, 'p', await chunksOf(leader));
    await follower.installStaged('p', meta(leader.applied));
    expect(follower.shard).toEqual({ start: b(''), end: b('k'), epoch: 2 });
    expect((await follower.digest()).sha256).toBe((await leader.digest()).sha256);
    const next = leader.applied + 1;
    const r = await follower.apply(entriesFrom(next, [put('z', 'wrong side')]));
    expect(r.get(next)).toEqual({ type: 'wrongShard' });
    expect(str(await follower.get(b('b')))).toBe('later');
    await expect(follower.get(b('m'))).rejects.toMatchObject({ code: 'WRONG_SHARD' });
    // The keys beyond the new range are not deleted (on this node they are the right-hand group's).
    const beyond = await open(at.store, 9, { start: b('k'), end: null });
    expect(str(await beyond.get(b('m')))).toBe('2');
    expect(await beyond.get(b('z'))).toBeNull();
    const reopened = await open(await stores.reopen(at));
    expect(reopened.shard).toEqual({ start: b(''), end: b('k'), epoch: 2 });
  });

  it('an install interrupted after its marker is finished on open with the new range', async () => {
    const { leader, follower, at } = await leaderAndFollower();
    await stageAll(follower, 'p', await chunksOf(leader));
    // NodeStore.persist writes the marker with the snapshot meta; the node dies before installStaged.
    await at.store.db.put(installMarkerKey(1), encodeInstallMarker({ stagingId: 'p', index: leader.applied, term: 2 }));
    const reopened = await open(await stores.reopen(at));
    expect(reopened.applied).toBe(leader.applied);
    expect(reopened.shard).toEqual({ start: b(''), end: b('k'), epoch: 2 });
    expect(str(await reopened.get(b('b')))).toBe('later');
  });

  it('refuses a shard that does not fit the receiver and keys outside the shard it carries', async () => {
    const { store } = await stores.make();
    const sm = await open(store, 1, { start: b('c'), end: b('m') });
    const chunk = (shard: { start: Buffer; end: Buffer | null; epoch: number }, key = 'd'): Buffer =>
      encodeChunk({ seq: 0, applied: 9, done: true, itemCount: 1, items: [item(key)], shard });
    const item = (key: string) => ({ kind: 0 as const, key: b(key), value: encodeValueRecord(b(key), b('v')) });
    for (const shard of [
      { start: b('a'), end: b('m'), epoch: 2 },
      { start: b('c'), end: null, epoch: 2 },
      { start: b('c'), end: b('n'), epoch: 2 },
    ]) {
      await sm.beginSnapshotStaging('x');
      await expect(sm.stageChunk('x', chunk(shard))).rejects.toThrow(/its range is not within group 1's/);
    }
    await sm.beginSnapshotStaging('y');
    await expect(sm.stageChunk('y', chunk({ start: b('c'), end: b('f'), epoch: 2 }, 'g'))).rejects.toThrow(
      /a key outside group 1's range/,
    );
    // A snapshot of an older version (no shard): the receiver keeps its range and epoch.
    await sm.beginSnapshotStaging('z');
    await sm.stageChunk('z', encodeChunk({ seq: 0, applied: 9, done: true, itemCount: 1, items: [item('d')] }));
    await sm.installStaged('z', meta(9));
    expect(sm.shard).toEqual({ start: b('c'), end: b('m'), epoch: 1 });
    expect(str(await sm.get(b('d')))).toBe('v');
  });
});
