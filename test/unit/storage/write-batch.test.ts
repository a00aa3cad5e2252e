import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { InvariantError } from '../../../src/base';
import { writeBatch, type BatchOp, type StoreDb } from '../../../src/storage';

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
});
