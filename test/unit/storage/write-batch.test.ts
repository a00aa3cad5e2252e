import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { InvariantError } from '../../../src/base';
import { writeBatch, type BatchOp, type StoreDb } from '../../../src/storage';
import { mergedOpsMax, mergedWritesOf } from '../../../src/storage/write-batch';

let dir = '';
let db: StoreDb | null = null;

async function fresh(open = true): Promise<StoreDb> {
  dir = await mkdtemp(join(tmpdir(), 'tessera-write-batch-'));
  db = new Level<Buffer, Buffer>(join(dir, 'db'), { keyEncoding: 'buffer', valueEncoding: 'buffer' });
  if (open) await db.open();
  return db;
}

afterEach(async () => {
  await db?.close().catch(() => undefined);
  db = null;
  if (dir) await rm(dir, { recursive: true, force: true });
});

const b = (s: string) => Buffer.from(s);

describe('writeBatch', () => {
  it('writes puts and dels in order, without going through the public batch() on an open database', async () => {
    const d = await fresh();
    await d.put(b('gone'), b('x'));
    const publicBatch = vi.spyOn(d, 'batch');
    const ops: BatchOp[] = [
      { type: 'put', key: b('a'), value: b('1') },
      { type: 'put', key: b('a'), value: b('2') },
      { type: 'del', key: b('gone') },
      { type: 'put', key: b('z'), value: Buffer.alloc(0) },
    ];
    await writeBatch(d, ops, true);
    expect(publicBatch).not.toHaveBeenCalled();
    expect((await d.get(b('a')))?.toString()).toBe('2');
    expect(await d.get(b('gone'))).toBeUndefined();
    expect((await d.get(b('z')))?.length).toBe(0);
  });

  it('takes the public path while the database is opening, which waits for the open', async () => {
    const d = await fresh(false);
    const opened = d.open();
    const written = writeBatch(d, [{ type: 'put', key: b('k'), value: b('v') }], false);
    await opened;
    await written;
    expect((await d.get(b('k')))?.toString()).toBe('v');
  });

  it('fails like the public batch() on a closed database', async () => {
    const d = await fresh();
    await d.close();
    await expect(writeBatch(d, [{ type: 'put', key: b('k'), value: b('v') }], true)).rejects.toMatchObject({
      code: 'LEVEL_DATABASE_NOT_OPEN',
    });
  });

  it('refuses what the public batch() would have refused: keys and values that are not Buffers', async () => {
    const d = await fresh();
    expect(() => writeBatch(d, [{ type: 'put', key: 'k' as unknown as Buffer, value: b('v') }], false)).toThrow(
      InvariantError,
    );
    expect(() => writeBatch(d, [{ type: 'put', key: b('k'), value: null as unknown as Buffer }], false)).toThrow(
      InvariantError,
    );
    expect(() => writeBatch(d, [{ type: 'del', key: Buffer.alloc(0) }], false)).toThrow(InvariantError);
  });

  it('does nothing for no operations', async () => {
    const d = await fresh();
    await expect(writeBatch(d, [], true)).resolves.toBeUndefined();
  });

  describe('group commit of unsynced batches', () => {
    type Fast = { _batch: (ops: BatchOp[], o: { sync: boolean }) => Promise<void> };

    it('writes the unsynced batches of one turn as one LevelDB write, each caller in call order', async () => {
      const d = await fresh();
      const fast = vi.spyOn(d as unknown as Fast, '_batch');
      const writes = [
        writeBatch(
          d,
          [
            { type: 'put', key: b('a'), value: b('1') },
            { type: 'put', key: b('x'), value: b('x') },
          ],
          false,
        ),
        writeBatch(d, [{ type: 'put', key: b('a'), value: b('2') }], false),
        writeBatch(d, [{ type: 'del', key: b('x') }], false),
      ];
      expect(fast).not.toHaveBeenCalled(); // waits for the end of the turn
      await Promise.all(writes);
      expect(fast).toHaveBeenCalledTimes(1);
      expect(fast.mock.calls[0]![0].map((op) => `${op.type}:${op.key.toString()}`)).toEqual([
        'put:a',
        'put:x',
        'put:a',
        'del:x',
      ]);
      expect((await d.get(b('a')))?.toString()).toBe('2');
      expect(await d.get(b('x'))).toBeUndefined();
      expect(mergedWritesOf(d)).toBe(1);
    });

    it('merges what arrives while a write is in flight into the next one', async () => {
      const d = await fresh();
      const fast = vi.spyOn(d as unknown as Fast, '_batch');
      const first = writeBatch(d, [{ type: 'put', key: b('k1'), value: b('1') }], false);
      await new Promise((r) => setImmediate(r)); // the first write is issued and in flight
      expect(fast).toHaveBeenCalledTimes(1);
      const later = [2, 3, 4].map((i) => writeBatch(d, [{ type: 'put', key: b(`k${i}`), value: b(`${i}`) }], false));
      await Promise.all([first, ...later]);
      expect(fast).toHaveBeenCalledTimes(2);
      expect(fast.mock.calls[1]![0]).toHaveLength(3);
      for (const i of [1, 2, 3, 4]) expect((await d.get(b(`k${i}`)))?.toString()).toBe(`${i}`);
    });

    it('writes synced batches at once, without waiting for the turn', async () => {
      const d = await fresh();
      const fast = vi.spyOn(d as unknown as Fast, '_batch');
      const w = writeBatch(d, [{ type: 'put', key: b('s'), value: b('1') }], true);
      expect(fast).toHaveBeenCalledTimes(1);
      expect(fast.mock.calls[0]![1]).toEqual({ sync: true });
      await w;
    });

    it('rejects every caller of a merged write that fails, and writes the next batches afresh', async () => {
      const d = await fresh();
      const fast = vi.spyOn(d as unknown as Fast, '_batch');
      fast.mockImplementationOnce(() => Promise.reject(new Error('disk gone')));
      const a = writeBatch(d, [{ type: 'put', key: b('a'), value: b('1') }], false);
      const c = writeBatch(d, [{ type: 'put', key: b('c'), value: b('1') }], false);
      await expect(a).rejects.toThrow('disk gone');
      await expect(c).rejects.toThrow('disk gone');
      expect(await d.get(b('a'))).toBeUndefined();
      await writeBatch(d, [{ type: 'put', key: b('a'), value: b('2') }], false);
      expect((await d.get(b('a')))?.toString()).toBe('2');
    });

    it('bounds a merged write: batches past mergedOpsMax go in the next write, none is split', async () => {
      const d = await fresh();
      const fast = vi.spyOn(d as unknown as Fast, '_batch');
      const big = (tag: string, n: number): BatchOp[] =>
        Array.from({ length: n }, (_, i) => ({ type: 'put' as const, key: b(`${tag}${i}`), value: b('v') }));
      const n = Math.ceil(mergedOpsMax * 0.6);
      await Promise.all([writeBatch(d, big('p', n), false), writeBatch(d, big('q', n), false)]);
      expect(fast.mock.calls.map((c) => c[0].length)).toEqual([n, n]);
      const oversized = mergedOpsMax + 5;
      await writeBatch(d, big('r', oversized), false);
      expect(fast.mock.calls[2]![0]).toHaveLength(oversized);
    });

    it('takes the public path for a merged write issued after the database started closing', async () => {
      const d = await fresh();
      const w = writeBatch(d, [{ type: 'put', key: b('k'), value: b('v') }], false);
      const closed = d.close();
      await expect(w).rejects.toMatchObject({ code: 'LEVEL_DATABASE_NOT_OPEN' });
      await closed;
    });
  });
});
