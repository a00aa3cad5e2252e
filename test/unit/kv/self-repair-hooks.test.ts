/**
 * The state machine's self-repair hooks (src/kv/state-machine.ts): openConsistentSnapshot gives a copy whose
 * index and data are of one instant even while apply runs; installStaged with `replay` installs a copy at an
 * older index and re-applies the replica's own later entries inside the read fence, so a damaged replica ends
 * at its own applied index with good data, and a read during it never sees the older copy.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { StateMachine } from '../../../src/kv';
import type { Entry } from '../../../src/raft';
import { Log, Stores, b, put, whole } from './helpers';

const stores = new Stores();
afterEach(() => stores.cleanup());

const meta = (index: number) => ({ index, term: 0, config: { voters: [1, 2, 3], learners: [], votersOutgoing: [] } });

async function machine(): Promise<{ sm: StateMachine; store: Awaited<ReturnType<Stores['make']>>['store'] }> {
  const { store } = await stores.make();
  return { sm: await StateMachine.open(store, 1, whole, { sessionsMax: 100 }), store };
}

async function stageCopy(src: StateMachine, dst: StateMachine, id: string): Promise<number> {
  const reader = await src.openConsistentSnapshot(4096);
  await dst.beginSnapshotStaging(id);
  let applied = -1;
  for await (const c of reader) ({ applied } = await dst.stageChunk(id, c));
  return applied;
}

async function* batches(entries: Entry[]): AsyncGenerator<Entry[]> {
  for (let i = 0; i < entries.length; i += 7) yield entries.slice(i, i + 7);
}

describe('state machine self-repair hooks', () => {
  it('openConsistentSnapshot: the index is the one of the data it holds, also taken while apply runs', async () => {
    const { sm } = await machine();
    const log = new Log();
    for (let i = 0; i < 200; i++) log.add(put(`k${i}`, `v${i}`));
    await sm.apply(log.entries.slice(0, 100));
    const applying = sm.apply(log.entries.slice(100));
    const reader = await sm.openConsistentSnapshot();
    await applying;
    const { sm: copy } = await machine();
    await copy.beginSnapshotStaging('c');
    let applied = -1;
    for await (const c of reader) ({ applied } = await copy.stageChunk('c', c));
    expect([100, 200]).toContain(applied);
    expect(reader.applied).toBe(applied);
    await copy.installStaged('c', meta(applied));
    expect((await copy.scan(b(''), null, 1000, 1 << 20)).items.length).toBe(applied);
  });

  it('installStaged with replay: a copy at an older index plus our own later entries repairs a damaged value', async () => {
    const log = new Log();
    for (let i = 0; i < 60; i++) log.add(put(`k${i % 20}`, `v${i}`));
    const { sm: good } = await machine();
    await good.apply(log.entries.slice(0, 30)); // the peer's copy is at index 30
    const { sm: damaged, store } = await machine();
    await damaged.apply(log.entries); // this replica applied 60
    // Damage one value record on disk (a flipped byte: it fails its check).
    const key = Buffer.from('d/k3');
    const rec = (await store.db.get(key)) as Buffer;
    rec[rec.length - 1] = (rec[rec.length - 1] as number) ^ 1;
    await store.db.put(key, rec);
    await expect(damaged.get(b('k3'))).rejects.toMatchObject({ code: 'CORRUPTION' });

    const index = await stageCopy(good, damaged, 'r1');
    expect(index).toBe(30);
    const install = damaged.installStaged('r1', meta(30), () => batches(log.entries.slice(30)));
    const during = damaged.get(b('k5')); // waits for the install and the replay
    await install;
    expect((await during)?.toString()).toBe('v45');
    expect(damaged.applied).toBe(60);
    expect((await damaged.get(b('k3')))?.toString()).toBe('v43');
    const { sm: reference } = await machine();
    await reference.apply(log.entries);
    expect((await damaged.digest()).sha256).toBe((await reference.digest()).sha256);
  });
});
