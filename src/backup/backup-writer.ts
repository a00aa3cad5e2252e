/**
 * Writing a backup file (format.ts) without holding a shard in memory. The header must list every
 * shard's read index, known only once its copy started, so chunks go first to a body file next to the
 * output (`OUT.<random>.body`), shard by shard; finish() then writes `OUT.<random>.tmp` = preamble, header,
 * the body copied block by block, and the trailer (SHA-256 computed while writing), fsyncs it and renames
 * it to OUT. Until that rename OUT is untouched: an interrupted backup leaves no file that looks complete
 * (abort() removes the temporaries; a crash leaves only *.body / *.tmp files).
 *
 * Each chunk is checked as it arrives (kv decodeChunk: CRC, sequence, the shard's applied index, range in
 * the first chunk), so a damaged stream fails the backup instead of producing a file restore refuses.
 * A shard whose stream broke is dropped with dropShard() (the body is cut back to where it began) and
 * copied again from the start.
 */
import { createHash, randomBytes } from 'node:crypto';
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { TesseraError } from '../base';
import { decodeChunk } from '../kv';
import { encodeHeader, encodePreamble, encodeTrailer, sameRange, type BackupHeader, type BackupShard } from './format';

const COPY_BLOCK_BYTES = 1 << 20;

/** A shard's copy as it starts (from the first message of its stream). */
export type ShardStart = Omit<BackupShard, 'items' | 'chunks'>;

interface OpenShard {
  meta: ShardStart;
  bodyOffset: number;
  chunks: number;
  items: number;
  done: boolean;
}

export class BackupWriter {
  private readonly shards: BackupShard[] = [];
  private current: OpenShard | null = null;
  private bodyBytes = 0;
  private finished = false;

  private constructor(
    readonly out: string,
    private readonly bodyPath: string,
    private readonly tmpPath: string,
    private readonly body: FileHandle,
  ) {}

  static async create(out: string): Promise<BackupWriter> {
    const tag = randomBytes(6).toString('hex');
    const bodyPath = `${out}.${tag}.body`;
    let body: FileHandle;
    try {
      body = await open(bodyPath, 'wx+');
    } catch (e) {
      throw new TesseraError(
        'CONFIG',
        `--out ${out}: cannot write next to it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
        {},
        { cause: e },
      );
    }
    return new BackupWriter(out, bodyPath, `${out}.${tag}.tmp`, body);
  }

  /** Shards completed so far, in order. */
  get completed(): readonly BackupShard[] {
    return this.shards;
  }

  beginShard(meta: ShardStart): void {
    if (this.current !== null) throw new TesseraError('INTERNAL', `shard ${this.current.meta.id} is still open`);
    this.current = { meta, bodyOffset: this.bodyBytes, chunks: 0, items: 0, done: false };
  }

  /** Appends one chunk record of the open shard after checking it. */
  async addChunk(record: Buffer): Promise<void> {
    const s = this.current;
    if (s === null || s.done) throw new TesseraError('INTERNAL', 'a chunk outside an open shard');
    const c = decodeChunk(record);
    const bad = (problem: string): never => {
      throw new TesseraError('CORRUPTION', `shard ${s.meta.id}: chunk ${s.chunks} ${problem}`);
    };
    if (c.seq !== s.chunks) bad(`carries sequence number ${c.seq}`);
    if (c.applied !== s.meta.applied) bad(`reflects index ${c.applied}, not ${s.meta.applied}`);
    if (c.seq === 0 && (c.shard === undefined || !sameRange({ ...s.meta, items: 0, chunks: 0 }, c.shard)))
      bad('carries another range than the stream announced');
    s.items += c.items.length;
    if (c.done && c.itemCount !== s.items) bad(`says ${c.itemCount} items, the stream held ${s.items}`);
    s.done = c.done;
    const frame = Buffer.allocUnsafe(4);
    frame.writeUInt32BE(record.length, 0);
    await this.writeBody(frame);
    await this.writeBody(record);
    s.chunks++;
  }

  private async writeBody(buf: Buffer): Promise<void> {
    let off = 0;
    while (off < buf.length) {
      const { bytesWritten } = await this.body.write(buf, off, buf.length - off, this.bodyBytes);
      off += bytesWritten;
      this.bodyBytes += bytesWritten;
    }
  }

  /** Ends the open shard; its last chunk must have been marked done. */
  endShard(): BackupShard {
    const s = this.current;
    if (s === null || !s.done)
      throw new TesseraError('UNAVAILABLE', `shard ${s?.meta.id ?? '?'}: the stream ended before the last chunk`);
    const shard: BackupShard = { ...s.meta, items: s.items, chunks: s.chunks };
    this.shards.push(shard);
    this.current = null;
    return shard;
  }

  /** Forgets the open shard's chunks (its stream broke): the body is cut back to where the shard began. */
  async dropShard(): Promise<void> {
    const s = this.current;
    if (s === null) return;
    this.current = null;
    this.bodyBytes = s.bodyOffset;
    await this.body.truncate(s.bodyOffset);
  }

  /** Writes OUT (see the header); resolves with the bytes written and the file's SHA-256. */
  async finish(clusterId: string, createdAtMs: number): Promise<{ bytes: number; sha256: string }> {
    if (this.current !== null) throw new TesseraError('INTERNAL', `shard ${this.current.meta.id} is still open`);
    const header: BackupHeader = { clusterId, createdAtMs, shards: this.shards };
    const headerRecord = encodeHeader(header);
    const hash = createHash('sha256');
    const tmp = await open(this.tmpPath, 'wx');
    let written = 0;
    const put = async (buf: Buffer, hashed = true): Promise<void> => {
      if (hashed) hash.update(buf);
      let off = 0;
      while (off < buf.length) off += (await tmp.write(buf, off, buf.length - off, written + off)).bytesWritten;
      written += buf.length;
    };
    try {
      await put(encodePreamble(headerRecord.length));
      await put(headerRecord);
      const block = Buffer.allocUnsafe(COPY_BLOCK_BYTES);
      for (let pos = 0; pos < this.bodyBytes;) {
        const { bytesRead } = await this.body.read(block, 0, Math.min(COPY_BLOCK_BYTES, this.bodyBytes - pos), pos);
        if (bytesRead === 0) throw new TesseraError('INTERNAL', `the body file ${this.bodyPath} ended early`);
        await put(block.subarray(0, bytesRead));
        pos += bytesRead;
      }
      const sha256 = hash.digest();
      await put(encodeTrailer(sha256), false);
      await tmp.sync();
      await tmp.close();
      await rename(this.tmpPath, this.out);
      await syncDir(dirname(this.out));
      this.finished = true;
      await this.cleanup();
      return { bytes: written, sha256: sha256.toString('hex') };
    } catch (e) {
      await tmp.close().catch(() => undefined);
      throw e;
    }
  }

  /** Removes the temporaries (OUT itself only exists once finish() succeeded). */
  async abort(): Promise<void> {
    await this.cleanup();
  }

  private async cleanup(): Promise<void> {
    await this.body.close().catch(() => undefined);
    await rm(this.bodyPath, { force: true });
    if (!this.finished) await rm(this.tmpPath, { force: true });
  }
}

/** fsync of a directory (the rename is durable); best effort where directories cannot be opened. */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r').catch(() => null);
  if (fh === null) return;
  try {
    await fh.sync().catch(() => undefined);
  } finally {
    await fh.close();
  }
}
