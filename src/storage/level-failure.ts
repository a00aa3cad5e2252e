/**
 * What a LevelDB (classic-level) failure means for the operator: another process holds the lock (exit 2,
 * nothing is wrong with the data), the database files are damaged (CORRUPTION: exit 3, wipe and re-add the
 * replica), or something else (a plain error: permissions, disk full, ...).
 *
 * What classic-level 3 reports, found by damaging real data dirs (test/unit/storage/level-failure.test.ts
 * and test/integration/corruption.test.ts repeat each case):
 *   another process holds LOCK         open: code LEVEL_LOCKED, "IO error: lock <db>/LOCK: Resource temporarily
 *                                      unavailable" (same process: "... already held by process")
 *   flipped byte in MANIFEST           open: LEVEL_CORRUPTION, "Corruption: checksum mismatch" (or another
 *                                      "Corruption: ..." when the damaged bytes still checksum)
 *   table file named by the MANIFEST   open: LEVEL_CORRUPTION, "Corruption: 1 missing files; e.g.: <db>/000005.ldb"
 *     deleted
 *   MANIFEST deleted                   open: LEVEL_IO_ERROR, "IO error: <db>/MANIFEST-000004: No such file or directory"
 *   garbage in CURRENT                 open: LEVEL_CORRUPTION, "Corruption: CURRENT file does not end with newline"
 *   truncated table file               open SUCCEEDS (tables open lazily); the first read of the table fails with
 *                                      LEVEL_IO_ERROR "IO error: <db>/000005.ldb: Invalid argument" (a read
 *                                      past the end of the mmapped file). checkTableFiles() finds it at start.
 *   CURRENT deleted                    open SUCCEEDS and creates an EMPTY database over the old files: the node
 *                                      would forget its log and its vote. checkCurrentFile() refuses that.
 * The open error itself is LEVEL_DATABASE_NOT_OPEN "Database failed to open" with the above as its cause.
 * LevelDB does not verify block checksums on reads (classic-level sets no verify_checksums), so a flipped
 * byte inside a table is found by our record CRCs (codec/record.ts), not here.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TesseraError } from '../base';
import type { StoreDb } from './types';

export type LevelFailure =
  { kind: 'locked'; message: string } | { kind: 'corruption'; message: string } | { kind: 'other'; message: string };

/** Code and message of an error and of each error in its cause chain, outermost first. */
function chain(e: unknown): Array<{ code: string | undefined; message: string }> {
  const out: Array<{ code: string | undefined; message: string }> = [];
  for (let cur: unknown = e, depth = 0; cur !== undefined && cur !== null && depth < 8; depth++) {
    const err = cur as { code?: unknown; message?: unknown; cause?: unknown };
    out.push({
      code: typeof err.code === 'string' ? err.code : undefined,
      message: typeof err.message === 'string' ? err.message : String(cur),
    });
    cur = err.cause;
  }
  return out;
}

/** A LevelDB file whose absence or damage is corruption: a table, the MANIFEST or CURRENT. */
const DB_FILE_RE = /[/\\](\d+\.(?:ldb|sst)|MANIFEST-\d+|CURRENT)\b/;
const TABLE_FILE_RE = /[/\\]\d+\.(?:ldb|sst)\b/;

/** Classifies an error thrown by classic-level's open, get or iterator. */
export function classifyLevelError(e: unknown): LevelFailure {
  const links = chain(e);
  const innermost = links[links.length - 1]?.message ?? String(e);
  if (links.some((l) => l.code === 'LEVEL_LOCKED')) return { kind: 'locked', message: innermost };
  for (const l of links) {
    if (l.code === 'LEVEL_CORRUPTION' || l.message.startsWith('Corruption:'))
      return { kind: 'corruption', message: l.message };
    if (l.code === 'LEVEL_IO_ERROR' || l.message.startsWith('IO error:')) {
      // A file the MANIFEST (or CURRENT) names is gone.
      if (/No such file or directory/.test(l.message) && DB_FILE_RE.test(l.message))
        return { kind: 'corruption', message: l.message };
      // A read past the end of a truncated table (mmapped files answer EINVAL).
      if (/Invalid argument/.test(l.message) && TABLE_FILE_RE.test(l.message))
        return { kind: 'corruption', message: l.message };
    }
  }
  return { kind: 'other', message: innermost };
}

/** The TesseraError CORRUPTION for damaged LevelDB files at `dbPath`. */
export function levelCorruption(dbPath: string, message: string, cause?: unknown): TesseraError {
  const file = DB_FILE_RE.exec(message)?.[1];
  return new TesseraError(
    'CORRUPTION',
    `the LevelDB files at ${dbPath} are damaged: ${message}`,
    file === undefined ? { path: dbPath } : { path: dbPath, file },
    cause === undefined ? undefined : { cause },
  );
}

/** e as CORRUPTION when it reports damaged LevelDB files, else e itself. */
export function asLevelCorruption(e: unknown, dbPath: string): unknown {
  const f = classifyLevelError(e);
  return f.kind === 'corruption' ? levelCorruption(dbPath, f.message, e) : e;
}

/**
 * Before open: a database directory holding LevelDB files but no CURRENT file is damaged (LevelDB would
 * silently create an empty database next to them). An absent or empty directory is a new database.
 */
export async function checkCurrentFile(dbPath: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dbPath);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw e;
  }
  if (names.includes('CURRENT')) return;
  const dbFiles = names.filter((n) => /^(?:MANIFEST-\d+|\d+\.(?:ldb|sst|log))$/.test(n));
  if (dbFiles.length === 0) return;
  throw levelCorruption(
    dbPath,
    `the CURRENT file is missing but ${dbFiles.length} database files remain (e.g. ${dbFiles.sort()[0]})`,
  );
}

/** Live tables as the MANIFEST records them: file number and size in bytes. */
export function liveTables(db: StoreDb): Array<{ fileNumber: number; bytes: number }> {
  // `level` resolves to classic-level on Node, whose getProperty its Level type does not declare.
  const withProperty = db as unknown as { getProperty?: (name: string) => string };
  if (typeof withProperty.getProperty !== 'function') return [];
  const text = withProperty.getProperty('leveldb.sstables');
  const out: Array<{ fileNumber: number; bytes: number }> = [];
  for (const m of text.matchAll(/^\s*(\d+):(\d+)\[/gm)) out.push({ fileNumber: Number(m[1]), bytes: Number(m[2]) });
  return out;
}

async function sizeOnDisk(dbPath: string, fileNumber: number): Promise<number | null> {
  const stem = String(fileNumber).padStart(6, '0');
  for (const ext of ['ldb', 'sst']) {
    try {
      return (await stat(join(dbPath, `${stem}.${ext}`))).size;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  return null;
}

/**
 * After open: every live table file exists with the size the MANIFEST records (a truncated or extended
 * table is damaged; LevelDB itself would only notice on the first read of it). Cheap: one stat per table.
 * A mismatch is confirmed against a fresh listing, since a background compaction may have replaced the
 * table meanwhile.
 */
export async function checkTableFiles(db: StoreDb, dbPath: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    let problem: string | null = null;
    for (const t of liveTables(db)) {
      const bytes = await sizeOnDisk(dbPath, t.fileNumber);
      const name = `${String(t.fileNumber).padStart(6, '0')}.ldb`;
      if (bytes === null) problem = `table file ${join(dbPath, name)} is missing`;
      else if (bytes !== t.bytes)
        problem = `table file ${join(dbPath, name)} has ${bytes} bytes, the MANIFEST records ${t.bytes}`;
      if (problem !== null) break;
    }
    if (problem === null) return;
    if (attempt >= 2) throw levelCorruption(dbPath, problem);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
