import { afterEach, describe, expect, it } from 'vitest';
import { Level } from 'level';
import { join } from 'node:path';
import { TesseraError } from '../../../src/base';
import { appliedKey, encodeIndex, entryKey, hardStateKey, sessionKey, encodeSessionRecord } from '../../../src/codec';
import type { Entry } from '../../../src/raft';
import { NodeStore } from '../../../src/storage';
import { tempDir } from './temp-dir';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

async function fresh(): Promise<{ dir: string; store: NodeStore }> {
  const t = await tempDir();
  const store = await NodeStore.open(t.dir);
  cleanups.push(async () => {
    await store.close();
    await t.cleanup();
  });
  return { dir: t.dir, store };
}

function entries(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push({ kind: 'normal', term, index: i, data: Buffer.from(`e${i}t${term}`) });
  return out;
}

const meta = (index: number, term: number) => ({
  index,
  term,
  config: { voters: [1, 2, 3], learners: [], votersOutgoing: [] },
});

async function openError(dir: string): Promise<TesseraError> {
  try {
    const s = await NodeStore.open(dir);
    await s.close();
  } catch (e) {
    expect(e).toBeInstanceOf(TesseraError);
    return e as TesseraError;
  }
  throw new Error('expected NodeStore.open to fail');
}

describe('NodeStore', () => {
  it('persists hard state and entries of several groups in one batch and loads them after reopen', async () => {
    const { dir, store } = await fresh();
    expect(await store.loadGroup(1)).toBeNull();
    await store.persist([
      { groupId: 1, hardState: { term: 2, vote: 1, commit: 3 }, entries: entries(1, 5, 2), snapshot: null },
      { groupId: 2, hardState: { term: 1, vote: 0, commit: 0 }, entries: entries(1, 2, 1), snapshot: null },
    ]);
    await store.close();
    const again = await NodeStore.open(dir);
    try {
      expect(await again.listGroups()).toEqual([1, 2]);
      const g1 = await again.loadGroup(1);
      expect(g1?.hardState).toEqual({ term: 2, vote: 1, commit: 3 });
      expect(g1?.entries).toEqual(entries(1, 5, 2));
      expect(g1?.snapshot).toBeNull();
      expect(g1?.applied).toBe(0);
      expect((await again.loadGroup(2))?.entries.length).toBe(2);
      expect(again.logBounds(1)).toEqual({ snapshotIndex: 0, firstIndex: 1, lastIndex: 5 });
    } finally {
      await again.close();
    }
  });

  it('overwrites a conflicting suffix and deletes stored entries beyond the new last one', async () => {
    const { store } = await fresh();
    await store.persist([{ groupId: 1, hardState: null, entries: entries(1, 10, 1), snapshot: null }]);
    await store.persist([
      { groupId: 1, hardState: { term: 3, vote: 2, commit: 4 }, entries: entries(6, 7, 3), snapshot: null },
    ]);
    const g = await store.loadGroup(1);
    expect(g?.entries).toEqual([...entries(1, 5, 1), ...entries(6, 7, 3)]);
    expect(await store.db.get(entryKey(1, 8))).toBeUndefined();
    expect(await store.db.get(entryKey(1, 10))).toBeUndefined();
    expect(store.logBounds(1)?.lastIndex).toBe(7);
  });

  it('refuses a gap in the log or a write at or below the snapshot (host bugs)', async () => {
    const { store } = await fresh();
    await store.persist([{ groupId: 1, hardState: null, entries: entries(1, 3, 1), snapshot: null }]);
    await expect(
      store.persist([{ groupId: 1, hardState: null, entries: entries(5, 6, 1), snapshot: null }]),
    ).rejects.toThrow(/gap/);
    await expect(
      store.persist([
        { groupId: 1, hardState: null, entries: [], snapshot: null },
        { groupId: 1, hardState: null, entries: [], snapshot: null },
      ]),
    ).rejects.toThrow(/two writes/);
    // the store is still usable after a refused write
    await store.persist([{ groupId: 1, hardState: null, entries: entries(4, 4, 1), snapshot: null }]);
    expect((await store.loadGroup(1))?.entries.length).toBe(4);
  });

  it('a received snapshot replaces the whole log; the write may carry entries after it', async () => {
    const { dir, store } = await fresh();
    await store.persist([{ groupId: 1, hardState: null, entries: entries(1, 10, 1), snapshot: null }]);
    // leader's snapshot at 20 (term 4): stale entries 1..10 all go
    await store.persist([
      { groupId: 1, hardState: { term: 4, vote: 0, commit: 20 }, entries: [], snapshot: meta(20, 4) },
    ]);
    let g = await store.loadGroup(1);
    expect(g?.snapshot).toEqual(meta(20, 4));
    expect(g?.entries).toEqual([]);
    expect(await store.db.get(entryKey(1, 5))).toBeUndefined();
    await store.persist([{ groupId: 1, hardState: null, entries: entries(21, 22, 4), snapshot: null }]);
    // a snapshot at 8 whose term does not match the stored entry 8: conflicting entries after it go too
    const { store: s2 } = await fresh();
    await s2.persist([{ groupId: 1, hardState: null, entries: entries(1, 10, 1), snapshot: null }]);
    await s2.persist([{ groupId: 1, hardState: null, entries: entries(9, 9, 2), snapshot: meta(8, 2) }]);
    expect((await s2.loadGroup(1))?.entries).toEqual(entries(9, 9, 2));
    await store.close();
    const again = await NodeStore.open(dir);
    try {
      g = await again.loadGroup(1);
      expect(g?.snapshot?.index).toBe(20);
      expect(g?.entries).toEqual(entries(21, 22, 4));
    } finally {
      await again.close();
    }
  });

  it('a snapshot matching the stored log (a compaction point) keeps the entries after it; compactLog', async () => {
    const { dir, store } = await fresh();
    await store.persist([{ groupId: 1, hardState: null, entries: entries(1, 10, 2), snapshot: null }]);
    await expect(store.compactLog(1, 3)).rejects.toThrow(/persist a snapshot meta/);
    await store.persist([{ groupId: 1, hardState: null, entries: [], snapshot: meta(6, 2) }]);
    await store.compactLog(1, 6);
    const g = await store.loadGroup(1);
    expect(g?.snapshot?.index).toBe(6);
    expect(g?.entries).toEqual(entries(7, 10, 2));
    expect(await store.db.get(entryKey(1, 6))).toBeUndefined();
    expect(await store.db.get(entryKey(1, 1))).toBeUndefined();
    expect(store.logBounds(1)).toEqual({ snapshotIndex: 6, firstIndex: 7, lastIndex: 10 });
    await store.close();
    const again = await NodeStore.open(dir);
    try {
      expect(again.logBounds(1)).toEqual({ snapshotIndex: 6, firstIndex: 7, lastIndex: 10 });
      expect((await again.loadGroup(1))?.entries).toEqual(entries(7, 10, 2));
    } finally {
      await again.close();
    }
  });

  it('writes the install-pending marker with a received snapshot when asked', async () => {
    const { store } = await fresh();
    await store.persist([
      { groupId: 3, hardState: null, entries: [], snapshot: meta(5, 1), installStagingId: 'snap-1' },
    ]);
    const { decodeInstallMarker, installMarkerKey } = await import('../../../src/codec');
    const buf = await store.db.get(installMarkerKey(3));
    expect(buf).toBeDefined();
    expect(decodeInstallMarker(buf as Buffer, 'k')).toEqual({ stagingId: 'snap-1', index: 5, term: 1 });
  });

  it('reports applied from m/<g>/applied', async () => {
    const { store } = await fresh();
    await store.persist([{ groupId: 1, hardState: null, entries: entries(1, 3, 1), snapshot: null }]);
    await store.db.put(appliedKey(1), encodeIndex(2));
    expect((await store.loadGroup(1))?.applied).toBe(2);
  });

  it('refuses to open on a corrupt record and names its key', async () => {
    for (const target of ['entry', 'hardState', 'session', 'applied'] as const) {
      const t = await tempDir();
      cleanups.push(t.cleanup);
      const store = await NodeStore.open(t.dir);
      await store.persist([
        { groupId: 9, hardState: { term: 1, vote: 1, commit: 1 }, entries: entries(1, 3, 1), snapshot: null },
      ]);
      await store.db.put(appliedKey(9), encodeIndex(1));
      await store.db.put(sessionKey(9, 'cafe'), encodeSessionRecord({ seq: 1, lastIndex: 1, result: { type: 'put' } }));
      const key = {
        entry: entryKey(9, 2),
        hardState: hardStateKey(9),
        session: sessionKey(9, 'cafe'),
        applied: appliedKey(9),
      }[target];
      const good = (await store.db.get(key)) as Buffer;
      await store.close();
      // flip one byte with a raw Level write, behind the store's back
      const raw = new Level<Buffer, Buffer>(join(t.dir, 'db'), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
      const bad = Buffer.from(good);
      bad[bad.length - 1] = (bad[bad.length - 1] as number) ^ 0x01;
      await raw.put(key, bad);
      await raw.close();
      const e = await openError(t.dir);
      expect(e.code).toBe('CORRUPTION');
      const name = { entry: 'r/9/e/2', hardState: 'r/9/h', session: 'm/9/sessions/cafe', applied: 'm/9/applied' }[
        target
      ];
      expect(e.details.key).toBe(name);
      expect(e.message).toContain(name);
    }
  });

  it('refuses to open on a hole in the log', async () => {
    const t = await tempDir();
    cleanups.push(t.cleanup);
    const store = await NodeStore.open(t.dir);
    await store.persist([{ groupId: 1, hardState: null, entries: entries(1, 5, 1), snapshot: null }]);
    await store.db.del(entryKey(1, 3));
    await store.close();
    const e = await openError(t.dir);
    expect(e.code).toBe('CORRUPTION');
    expect(e.details.key).toBe('r/1/e/4');
  });

  it('fails clearly when the data directory is in use', async () => {
    const { dir } = await fresh();
    const e = await openError(dir);
    expect(e.code).toBe('CONFIG');
    expect(e.message).toMatch(/another process/);
  });
});
