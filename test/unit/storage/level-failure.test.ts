/**
 * Damaged LevelDB files are CORRUPTION at open (exit 3), a held lock stays CONFIG (exit 2): each case on a
 * real data dir damaged the way an operator's disk would (storage/level-failure.ts lists what classic-level
 * reports for each).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Level } from 'level';
import { readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TesseraError } from '../../../src/base';
import type { Entry } from '../../../src/raft';
import { NodeStore, classifyLevelError } from '../../../src/storage';
import { tempDir } from './temp-dir';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function entries(from: number, to: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push({ kind: 'normal', term: 1, index: i, data: Buffer.alloc(200, i & 0xff) });
  return out;
}

/** A data dir with a stored log in a table file (the LevelDB write-ahead log flushed by a reopen). */
async function dataDirWithTable(): Promise<{ dir: string; db: string; table: string }> {
  const t = await tempDir();
  cleanups.push(t.cleanup);
  const store = await NodeStore.open(t.dir);
  await store.persist([
    { groupId: 1, hardState: { term: 1, vote: 1, commit: 50 }, entries: entries(1, 50), snapshot: null },
  ]);
  await store.close();
  const db = join(t.dir, 'db');
  const raw = new Level(db);
  await raw.open();
  await raw.close();
  const table = (await readdir(db)).find((n) => n.endsWith('.ldb'));
  expect(table).toBeDefined();
  return { dir: t.dir, db, table: table as string };
}

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

describe('NodeStore.open on damaged LevelDB files', () => {
  it('opens an undamaged data dir with tables (the checks pass)', async () => {
    const { dir } = await dataDirWithTable();
    const s = await NodeStore.open(dir);
    expect(s.logBounds(1)).toEqual({ snapshotIndex: 0, firstIndex: 1, lastIndex: 50 });
    await s.close();
  });

  it('a flipped byte in the MANIFEST is CORRUPTION', async () => {
    const { dir, db } = await dataDirWithTable();
    const manifest = (await readdir(db)).find((n) => n.startsWith('MANIFEST-')) as string;
    const bytes = await readFile(join(db, manifest));
    bytes[bytes.length >> 1] = (bytes[bytes.length >> 1] as number) ^ 0xff;
    await writeFile(join(db, manifest), bytes);
    const e = await openError(dir);
    expect(e.code).toBe('CORRUPTION');
    expect(e.message).toMatch(/damaged: Corruption:/);
  });

  it('a deleted table file is CORRUPTION naming the file', async () => {
    const { dir, db, table } = await dataDirWithTable();
    await rm(join(db, table));
    const e = await openError(dir);
    expect(e.code).toBe('CORRUPTION');
    expect(e.message).toMatch(/missing files/);
    expect(e.details.file).toBe(table);
  });

  it('a truncated table file is CORRUPTION at open (LevelDB itself opens it and fails on the first read)', async () => {
    const { dir, db, table } = await dataDirWithTable();
    const size = (await stat(join(db, table))).size;
    await truncate(join(db, table), size >> 1);
    const e = await openError(dir);
    expect(e.code).toBe('CORRUPTION');
    expect(e.message).toContain(`${table} has ${size >> 1} bytes, the MANIFEST records ${size}`);
  });

  it('an empty table file is CORRUPTION too', async () => {
    const { dir, db, table } = await dataDirWithTable();
    await truncate(join(db, table), 0);
    expect((await openError(dir)).code).toBe('CORRUPTION');
  });

  it('a deleted MANIFEST is CORRUPTION', async () => {
    const { dir, db } = await dataDirWithTable();
    await rm(join(db, (await readdir(db)).find((n) => n.startsWith('MANIFEST-')) as string));
    const e = await openError(dir);
    expect(e.code).toBe('CORRUPTION');
    expect(e.details.file).toMatch(/^MANIFEST-/);
  });

  it('a deleted CURRENT is CORRUPTION instead of a silently empty database', async () => {
    const { dir, db } = await dataDirWithTable();
    await rm(join(db, 'CURRENT'));
    const e = await openError(dir);
    expect(e.code).toBe('CORRUPTION');
    expect(e.message).toMatch(/CURRENT file is missing/);
  });

  it('a lock held by another open stays CONFIG with its hint (not corruption)', async () => {
    const { dir } = await dataDirWithTable();
    const s = await NodeStore.open(dir);
    try {
      const e = await openError(dir);
      expect(e.code).toBe('CONFIG');
      expect(e.message).toMatch(/is another process using this data directory\?/);
    } finally {
      await s.close();
    }
  });
});

describe('classifyLevelError', () => {
  const levelError = (code: string, message: string) => {
    const cause = Object.assign(new Error(message), { code });
    return Object.assign(new Error('Database failed to open', { cause }), { code: 'LEVEL_DATABASE_NOT_OPEN' });
  };
  it('tells a lock, corruption and other failures apart', () => {
    expect(
      classifyLevelError(levelError('LEVEL_LOCKED', 'IO error: lock /d/db/LOCK: Resource temporarily unavailable'))
        .kind,
    ).toBe('locked');
    expect(classifyLevelError(levelError('LEVEL_CORRUPTION', 'Corruption: checksum mismatch')).kind).toBe('corruption');
    expect(classifyLevelError(levelError('LEVEL_IO_ERROR', 'IO error: /d/db/000005.ldb: Invalid argument')).kind).toBe(
      'corruption',
    );
    expect(
      classifyLevelError(levelError('LEVEL_IO_ERROR', 'IO error: /d/db/MANIFEST-000004: No such file or directory'))
        .kind,
    ).toBe('corruption');
    expect(classifyLevelError(levelError('LEVEL_IO_ERROR', 'IO error: /d/db/LOCK: Permission denied')).kind).toBe(
      'other',
    );
    expect(
      classifyLevelError(levelError('LEVEL_IO_ERROR', 'IO error: /d/db/000007.log: No space left on device')).kind,
    ).toBe('other');
    expect(classifyLevelError(new Error('boom')).kind).toBe('other');
  });
});
