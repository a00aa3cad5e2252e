/**
 * Reading a backup file (format.ts) with bounded memory (one block or one chunk record at a time):
 * verifyBackup checks, in this order, the preamble (magic, version), the trailer (present: a truncated
 * copy has none), the SHA-256 of everything before the trailer, then the structure of every record
 * (scanBackup with no visitor). scanBackup walks the records of a verified file shard by shard and hands
 * each decoded chunk to a visitor (restore.ts writes them). Every defect is CORRUPTION naming the file
 * (format.ts backupDefect); nothing is returned from a file that fails a check.
 */
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { isTesseraError } from '../base';
import { decodeValueRecord, formatBytes } from '../codec';
import { decodeChunk, type SnapshotChunk } from '../kv';
import {
  PREAMBLE_BYTES,
  RECORD_BYTES_MAX,
  TRAILER_BYTES,
  TRAILER_MAGIC,
  backupDefect,
  decodeHeader,
  decodePreamble,
  sameRange,
  type BackupHeader,
  type BackupShard,
} from './format';

const HASH_BLOCK_BYTES = 1 << 20;
const ITEM_DATA = 0;

export interface VerifiedBackup {
  header: BackupHeader;
  /** SHA-256 of the file before its trailer (what the trailer holds). */
  sha256: Buffer;
  bytes: number;
}

/** Reads exactly `length` bytes at `position`; CORRUPTION (truncated) when the file ends first. */
async function readExact(fh: FileHandle, position: number, length: number, file: string): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(buf, got, length - got, position + got);
    if (bytesRead === 0) throw backupDefect(file, `truncated: ${length} bytes expected at offset ${position}`);
    got += bytesRead;
  }
  return buf;
}

async function withFile<T>(file: string, fn: (fh: FileHandle, size: number) => Promise<T>): Promise<T> {
  let fh: FileHandle;
  try {
    fh = await open(file, 'r');
  } catch (e) {
    throw backupDefect(file, `cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    return await fn(fh, (await fh.stat()).size);
  } finally {
    await fh.close();
  }
}

/** Preamble, trailer and checksum (not the records); the header as stored. */
async function checkWhole(fh: FileHandle, size: number, file: string): Promise<VerifiedBackup> {
  if (size < PREAMBLE_BYTES + TRAILER_BYTES) {
    if (size >= 8) decodePreamble(await readExact(fh, 0, Math.min(size, PREAMBLE_BYTES), file), file);
    throw backupDefect(file, `truncated: ${size} bytes is shorter than an empty backup`);
  }
  const headerBytes = decodePreamble(await readExact(fh, 0, PREAMBLE_BYTES, file), file);
  const trailer = await readExact(fh, size - TRAILER_BYTES, TRAILER_BYTES, file);
  if (!trailer.subarray(0, 8).equals(TRAILER_MAGIC))
    throw backupDefect(file, 'truncated or damaged: it does not end with a backup trailer (an interrupted copy?)');
  const hash = createHash('sha256');
  const body = size - TRAILER_BYTES;
  for (let pos = 0; pos < body; pos += HASH_BLOCK_BYTES)
    hash.update(await readExact(fh, pos, Math.min(HASH_BLOCK_BYTES, body - pos), file));
  const sha256 = hash.digest();
  const stored = trailer.subarray(8);
  if (!sha256.equals(stored))
    throw backupDefect(
      file,
      `checksum mismatch: the file was altered or damaged (SHA-256 ${sha256.toString('hex')}, the trailer says ${stored.toString('hex')})`,
    );
  if (PREAMBLE_BYTES + headerBytes > body) throw backupDefect(file, 'truncated: the header runs into the trailer');
  const header = decodeHeader(await readExact(fh, PREAMBLE_BYTES, headerBytes, file), file);
  return { header, sha256, bytes: size };
}

/** Checksum and structure of the whole file; CORRUPTION naming the file and the first defect. */
export async function verifyBackup(file: string): Promise<VerifiedBackup> {
  const verified = await withFile(file, (fh, size) => checkWhole(fh, size, file));
  await scanBackup(file, verified.header);
  return verified;
}

/** Called with every chunk of every shard, in file order. */
export type ChunkVisitor = (shard: BackupShard, chunk: SnapshotChunk) => Promise<void>;

/**
 * Walks the records of a file whose header is `header` (verifyBackup's), checking each against it, and
 * hands each decoded chunk to `visit`. CORRUPTION on any mismatch.
 */
export async function scanBackup(file: string, header: BackupHeader, visit?: ChunkVisitor): Promise<void> {
  await withFile(file, async (fh, size) => {
    const body = size - TRAILER_BYTES;
    let pos = PREAMBLE_BYTES + (await readExact(fh, 10, 4, file)).readUInt32BE(0);
    for (const shard of header.shards) {
      const check = new ShardCheck(shard, file);
      for (let seq = 0; seq < shard.chunks; seq++) {
        if (pos + 4 > body) throw backupDefect(file, `truncated: shard ${shard.id} ends after ${seq} chunks`);
        const length = (await readExact(fh, pos, 4, file)).readUInt32BE(0);
        if (length === 0 || length > RECORD_BYTES_MAX || pos + 4 + length > body)
          throw backupDefect(
            file,
            `shard ${shard.id} chunk ${seq}: record length ${length} at offset ${pos} is out of bounds`,
          );
        const chunk = check.chunk(seq, await readExact(fh, pos + 4, length, file));
        pos += 4 + length;
        if (visit !== undefined) await visit(shard, chunk);
      }
      check.end();
    }
    if (pos !== body) throw backupDefect(file, `${body - pos} unexpected bytes after the last shard's records`);
  });
}

/** The checks of one shard's chunks against its header entry. */
class ShardCheck {
  private items = 0;
  private lastKey: Buffer | null = null;
  private done = false;

  constructor(
    private readonly shard: BackupShard,
    private readonly file: string,
  ) {}

  private defect(seq: number, problem: string): never {
    throw backupDefect(this.file, `shard ${this.shard.id} chunk ${seq}: ${problem}`);
  }

  chunk(seq: number, record: Buffer): SnapshotChunk {
    let c: SnapshotChunk;
    try {
      c = decodeChunk(record);
    } catch (e) {
      if (isTesseraError(e) && e.code === 'CORRUPTION') this.defect(seq, e.message);
      throw e;
    }
    const s = this.shard;
    if (c.seq !== seq) this.defect(seq, `carries sequence number ${c.seq}`);
    if (c.applied !== s.applied) this.defect(seq, `reflects index ${c.applied}, the header says ${s.applied}`);
    if (seq === 0 && (c.shard === undefined || !sameRange(s, c.shard)))
      this.defect(seq, 'its range or epoch differs from the header');
    const last = seq === s.chunks - 1;
    if (c.done !== last) this.defect(seq, last ? 'the last chunk is not marked done' : 'marked done before the last');
    for (const it of c.items) {
      this.items++;
      if (it.kind !== ITEM_DATA) continue;
      if (Buffer.compare(it.key, s.start) < 0 || (s.end !== null && Buffer.compare(it.key, s.end) >= 0))
        this.defect(seq, `key ${formatBytes(it.key)} is outside the shard's range`);
      if (this.lastKey !== null && Buffer.compare(it.key, this.lastKey) <= 0)
        this.defect(seq, `key ${formatBytes(it.key)} is out of order`);
      this.lastKey = it.key;
      try {
        decodeValueRecord(it.value, it.key, `d/${formatBytes(it.key)}`);
      } catch (e) {
        this.defect(seq, (e as Error).message);
      }
    }
    if (last) {
      if (c.itemCount !== this.items) this.defect(seq, `says ${c.itemCount} items, the chunks hold ${this.items}`);
      this.done = true;
    }
    return c;
  }

  end(): void {
    if (!this.done || this.items !== this.shard.items)
      throw backupDefect(
        this.file,
        `shard ${this.shard.id} holds ${this.items} items, the header says ${this.shard.items}`,
      );
  }
}
