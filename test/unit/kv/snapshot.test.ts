import { afterEach, describe, expect, it } from 'vitest';
import { appliedKey, dataKey, installMarkerKey, stagingGroupRange } from '../../../src/codec';
import { StateMachine, decodeChunk } from '../../../src/kv';
import type { SnapshotReader } from '../../../src/kv';
import { Log, Stores, b, put, whole } from './helpers';

const stores = new Stores();
afterEach(() => stores.cleanup());

const meta = (index: number) => ({ index, term: 3, config: { voters: [1, 2, 3], learners: [], votersOutgoing: [] } });

async function collect(reader: SnapshotReader): Promise<Buffer[]> {
  const chunks: Buffer[] = [];
  for await (const c of reader) chunks.push(c);
  return chunks;
}

async function dump(sm: StateMachine): Promise<Array<[string, string]>> {
  const page = await sm.scan(Buffer.alloc(0), null, 1_000_000, 1 << 30);
  return page.items.map((kv) => [kv.key.toString('latin1'), kv.value.toString('latin1')]);
}

/** A leader state machine with `n` keys of `valueBytes` and a few sessions. */
async function leader(n: number, valueBytes: number): Promise<{ sm: StateMachine; log: Log }> {
  const { store } = await stores.make();
  const sm = await StateMachine.open(store, 1, whole, { sessionsMax: 100 });
  const log = new Log();
  for (let i = 0; i < n; i++) {
    const session = i % 10 === 0 ? { clientId: `client-${i}`, seq: 1 } : null;
    log.add(put(`key-${String(i).padStart(5, '0')}`, `${i}:`.padEnd(valueBytes, 'v'), session));
  }
  await sm.apply(log.entries);
  return { sm, log };
}

describe('snapshots', () => {
  it('round-trips between two stores in bounded chunks, with sessions, replacing the receiver range', async () => {
    const { sm: src, log } = await leader(600, 1000);
    // key-00010 was written by session client-10 seq 1; overwrite it without a session
    log.add(put('key-00010', 'later'));
    await src.apply(log.entries.slice(600));
    const reader = src.openSnapshot({ chunkBytes: 64 * 1024 });
    expect(reader.applied).toBe(601);
    const chunks = await collect(reader);
    expect(chunks.length).toBeGreaterThan(8);
    for (const c of chunks) expect(c.length).toBeLessThanOrEqual(64 * 1024);
    expect(decodeChunk(chunks[chunks.length - 1] as Buffer).done).toBe(true);

    const { store } = await stores.make();
    const dst = await StateMachine.open(store, 1, whole, { sessionsMax: 100 });
    const stale = new Log();
    stale.add(put('zzz-stale', 'gone'));
    stale.add(put('key-00001', 'old'));
    await dst.apply(stale.entries);
    await dst.beginSnapshotStaging('s1');
    for (const [i, c] of chunks.entries()) {
      const r = await dst.stageChunk('s1', c);
      expect(r.done).toBe(i === chunks.length - 1);
    }
    await dst.installStaged('s1', meta(601));
    expect(dst.applied).toBe(601);
    expect(await dump(dst)).toEqual(await dump(src));
    expect(await dst.get(b('zzz-stale'))).toBeNull();
    expect(dst.sessionCount).toBe(src.sessionCount);
    // the sessions came along: a retry of session client-10's write is answered, not applied again
    const retry = new Log();
    for (let i = 0; i < 601; i++) retry.add(null);
    const r = retry.add(put('key-00010', 'REAPPLIED', { clientId: 'client-10', seq: 1 }));
    expect((await dst.apply([r])).get(602)).toEqual({ type: 'put' });
    expect((await dst.get(b('key-00010')))?.toString()).toBe('later');
    // staging data is gone and the marker deleted
    const left = [];
    for await (const k of store.db.keys({ ...stagingGroupRange(1) })) left.push(k);
    expect(left).toEqual([]);
    expect(await store.db.get(installMarkerKey(1))).toBeUndefined();
    // durable after reopen
    const again = await StateMachine.open(store, 1, whole, { sessionsMax: 100 });
    expect(again.applied).toBe(602);
  });

  it('captures the state exactly when opened, not later writes', async () => {
    const { sm } = await leader(50, 10);
    const reader = sm.openSnapshot({ chunkBytes: 256 });
    const more = new Log();
    for (let i = 0; i < 50; i++) more.add(put('x', 'y'));
    await sm.apply([
      {
        kind: 'normal',
        term: 1,
        index: 51,
        data: (await import('../../../src/codec')).encodeCommand({
          type: 'put',
          key: b('later'),
          value: b('v'),
          session: null,
        }),
      },
    ]);
    const chunks = await collect(reader);
    const keys = chunks.flatMap((c) =>
      decodeChunk(c)
        .items.filter((it) => it.kind === 0)
        .map((it) => it.key.toString()),
    );
    expect(keys.length).toBe(50);
    expect(keys).not.toContain('later');
    expect(decodeChunk(chunks[0] as Buffer).applied).toBe(50);
  });

  it('only carries the group range and leaves other groups keys alone on install', async () => {
    const { store } = await stores.make();
    const left = await StateMachine.open(store, 1, { start: b(''), end: b('m') }, { sessionsMax: 10 });
    const right = await StateMachine.open(store, 2, { start: b('m'), end: null }, { sessionsMax: 10 });
    const l = new Log();
    l.add(put('a', '1'));
    l.add(put('b', '1'));
    await left.apply(l.entries);
    const r = new Log();
    r.add(put('n', '1'));
    await right.apply(r.entries);
    const chunks = await collect(left.openSnapshot());
    const keys = chunks.flatMap((c) => decodeChunk(c).items.map((it) => it.key.toString()));
    expect(keys).toEqual(['a', 'b']);
    // install an (empty) snapshot of group 1 elsewhere in the same store: group 2's data survives
    const empty = await stores.make();
    const src = await StateMachine.open(empty.store, 1, { start: b(''), end: b('m') }, { sessionsMax: 10 });
    await src.apply([
      { kind: 'empty', term: 1, index: 1 },
      { kind: 'empty', term: 1, index: 2 },
      { kind: 'empty', term: 1, index: 3 },
    ]);
    await left.beginSnapshotStaging('e');
    for (const c of await collect(src.openSnapshot())) await left.stageChunk('e', c);
    await left.installStaged('e', meta(3));
    expect(await left.get(b('a'))).toBeNull();
    expect((await right.get(b('n')))?.toString()).toBe('1');
  });

  it('refuses out-of-order, truncated or mismatched snapshots', async () => {
    const { sm } = await leader(100, 200);
    const chunks = await collect(sm.openSnapshot({ chunkBytes: 2048 }));
    expect(chunks.length).toBeGreaterThan(3);
    const { store } = await stores.make();
    const dst = await StateMachine.open(store, 1, whole, { sessionsMax: 100 });
    await expect(dst.stageChunk('nope', chunks[0] as Buffer)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await dst.beginSnapshotStaging('s');
    await dst.stageChunk('s', chunks[0] as Buffer);
    await expect(dst.stageChunk('s', chunks[2] as Buffer)).rejects.toThrow(/chunk 2, expected 1/);
    await expect(dst.installStaged('s', meta(100))).rejects.toThrow(/incomplete/);
    const bad = Buffer.from(chunks[1] as Buffer);
    bad[bad.length - 3] = (bad[bad.length - 3] as number) ^ 1;
    await expect(dst.stageChunk('s', bad)).rejects.toMatchObject({ code: 'CORRUPTION' });
    for (const c of chunks.slice(1)) await dst.stageChunk('s', c);
    await expect(dst.installStaged('s', meta(99))).rejects.toThrow(/reflects index 100/);
    await dst.discardStaged('s');
    await expect(dst.installStaged('s', meta(100))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(dst.applied).toBe(0);
  });

  it('resumes an interrupted install on open (marker persisted with the snapshot meta)', async () => {
    const { sm } = await leader(300, 100);
    const chunks = await collect(sm.openSnapshot({ chunkBytes: 4096 }));
    const dst = await stores.make();
    let smB = await StateMachine.open(dst.store, 1, whole, { sessionsMax: 100 });
    const old = new Log();
    old.add(put('only-on-b', 'x'));
    await smB.apply(old.entries);
    await smB.beginSnapshotStaging('s9');
    for (const c of chunks) await smB.stageChunk('s9', c);
    // the host persists the snapshot meta with the marker, then "crashes" part-way through the install:
    // simulate a partial copy by deleting some of the old data by hand
    await dst.store.persist([
      {
        groupId: 1,
        hardState: { term: 3, vote: 0, commit: 300 },
        entries: [],
        snapshot: meta(300),
        installStagingId: 's9',
      },
    ]);
    await dst.store.db.del(dataKey(b('only-on-b')));
    const reopened = await stores.reopen(dst);
    expect(await reopened.db.get(installMarkerKey(1))).toBeDefined();
    smB = await StateMachine.open(reopened, 1, whole, { sessionsMax: 100 });
    expect(smB.applied).toBe(300);
    expect(await dump(smB)).toEqual(await dump(sm));
    expect(await reopened.db.get(installMarkerKey(1))).toBeUndefined();
    expect((await reopened.loadGroup(1))?.applied).toBe(300);
    expect(await reopened.db.get(appliedKey(1))).toBeDefined();
  });

  it('discards stale staging on open when no install is pending', async () => {
    const { sm } = await leader(20, 10);
    const chunks = await collect(sm.openSnapshot({ chunkBytes: 200 }));
    const dst = await stores.make();
    const smB = await StateMachine.open(dst.store, 1, whole, { sessionsMax: 100 });
    await smB.beginSnapshotStaging('half');
    await smB.stageChunk('half', chunks[0] as Buffer);
    const reopened = await stores.reopen(dst);
    await StateMachine.open(reopened, 1, whole, { sessionsMax: 100 });
    const left = [];
    for await (const k of reopened.db.keys({ ...stagingGroupRange(1) })) left.push(k);
    expect(left).toEqual([]);
  });

  it('an empty state machine still sends one final chunk', async () => {
    const { store } = await stores.make();
    const sm = await StateMachine.open(store, 1, whole, { sessionsMax: 10 });
    const chunks = await collect(sm.openSnapshot());
    expect(chunks.length).toBe(1);
    expect(decodeChunk(chunks[0] as Buffer)).toMatchObject({ seq: 0, applied: 0, done: true, itemCount: 0, items: [] });
  });
});
