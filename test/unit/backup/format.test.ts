/**
 * The backup file format (src/backup/format.ts, backup-writer.ts, backup-reader.ts): a written file reads
 * back exactly (header, shards, every key in order); a truncated file, a flipped byte anywhere, a wrong
 * magic, an unknown version and a well-sealed file whose records contradict its header are all refused
 * with CORRUPTION naming the file and the problem.
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BackupWriter, scanBackup, verifyBackup } from '../../../src/backup';
import { decodeValueRecord, encodeRecord } from '../../../src/codec';
import { TWO_SHARDS, resealBackup, shardChunks, writeTestBackup } from './helpers';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'tessera-backup-format-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function refusal(file: string): Promise<Error & { code?: string }> {
  const e = await verifyBackup(file).then(
    () => null,
    (err: unknown) => err as Error & { code?: string },
  );
  expect(e, 'the file was accepted').not.toBeNull();
  return e!;
}

describe('backup file format', () => {
  it('round-trips: header, shards and every key with its value, in order', async () => {
    const file = join(dir, 'b.tbak');
    const written = await writeTestBackup(file, TWO_SHARDS);
    expect(readdirSync(dir)).toEqual(['b.tbak']); // temporaries removed
    const v = await verifyBackup(file);
    expect(v.sha256.toString('hex')).toBe(written.sha256);
    expect(v.header.clusterId).toBe('a'.repeat(32));
    expect(v.header.createdAtMs).toBe(1_700_000_000_000);
    expect(
      v.header.shards.map((s) => [s.id, s.start.toString(), s.end?.toString() ?? null, s.epoch, s.applied, s.items]),
    ).toEqual([
      [1, '', 'm', 1, 10, 4],
      [3, 'm', null, 2, 7, 3],
    ]);
    expect(v.header.shards[0]!.readIndex).toBe(9);
    const seen: [string, string][] = [];
    await scanBackup(file, v.header, async (_s, c) => {
      for (const it of c.items)
        if (it.kind === 0) seen.push([it.key.toString(), decodeValueRecord(it.value, it.key, 'k').toString()]);
    });
    expect(seen).toEqual([...TWO_SHARDS[0]!.keys, ...TWO_SHARDS[1]!.keys]);
  });

  it('an empty shard list is not a backup; an empty keyspace is (one shard, no key)', async () => {
    const file = join(dir, 'empty.tbak');
    await writeTestBackup(file, [{ id: 1, start: '', end: null, keys: [] }]);
    const v = await verifyBackup(file);
    expect(v.header.shards).toHaveLength(1);
    expect(v.header.shards[0]!.items).toBe(0);
    const w = await BackupWriter.create(join(dir, 'none.tbak'));
    await w.finish('', 0);
    expect((await refusal(join(dir, 'none.tbak'))).message).toMatch(/lists no shard/);
  });

  it('refuses a truncated file, wherever it was cut', async () => {
    const file = join(dir, 'b.tbak');
    const { bytes } = await writeTestBackup(file, TWO_SHARDS);
    const original = readFileSync(file);
    for (const keep of [bytes - 1, bytes - 40, Math.floor(bytes / 2), 20, 3, 0]) {
      writeFileSync(file, original);
      truncateSync(file, keep);
      const e = await refusal(file);
      expect(e.code).toBe('CORRUPTION');
      expect(e.message).toContain(file);
      expect(e.message).toMatch(/truncated/);
    }
  });

  it('refuses a file with any single byte flipped (checksum mismatch)', async () => {
    const file = join(dir, 'b.tbak');
    const { bytes } = await writeTestBackup(file, TWO_SHARDS);
    const original = readFileSync(file);
    for (const at of [14, 30, Math.floor(bytes / 2), bytes - 41, bytes - 1]) {
      const altered = Buffer.from(original);
      altered[at] = altered[at]! ^ 0x01;
      writeFileSync(file, altered);
      const e = await refusal(file);
      expect(e.code).toBe('CORRUPTION');
      expect(e.message).toMatch(/checksum mismatch|truncated or damaged/);
    }
  });

  it('refuses a wrong magic and an unknown version by name', async () => {
    const file = join(dir, 'b.tbak');
    await writeTestBackup(file, TWO_SHARDS);
    const original = readFileSync(file);
    const magic = Buffer.from(original);
    magic.write('NOTABKUP', 0, 'latin1');
    writeFileSync(file, magic);
    resealBackup(file);
    expect((await refusal(file)).message).toMatch(/not a Tessera backup/);
    const version = Buffer.from(original);
    version.writeUInt16BE(2, 8);
    writeFileSync(file, version);
    resealBackup(file);
    expect((await refusal(file)).message).toMatch(/version 2 is not supported \(this build reads version 1\)/);
    writeFileSync(file, Buffer.from('hello, not a backup at all\n'));
    expect((await refusal(file)).message).toMatch(/not a Tessera backup/);
  });

  it('refuses a sealed file whose records contradict its header', async () => {
    const file = join(dir, 'b.tbak');
    await writeTestBackup(file, TWO_SHARDS);
    const original = readFileSync(file);
    // A byte of the last chunk flipped and the file resealed: the chunk's own CRC refuses it.
    const altered = Buffer.from(original);
    altered[altered.length - 41] = altered[altered.length - 41]! ^ 0x01;
    writeFileSync(file, altered);
    resealBackup(file);
    expect((await refusal(file)).message).toMatch(/shard 3 chunk 1: .*checksum mismatch/);
    // A record appended after the last shard.
    const extra = Buffer.concat([original.subarray(0, original.length - 40), Buffer.from([0, 0, 0, 1, 0])]);
    writeFileSync(file, Buffer.concat([extra, Buffer.alloc(40)]));
    resealBackup(file);
    expect((await refusal(file)).message).toMatch(/unexpected bytes after the last shard/);
    // A header whose shards leave a gap in the keyspace.
    const gap = Buffer.from(original);
    const headerLength = gap.readUInt32BE(10);
    const header = encodeRecord([1, 'a'.repeat(32), 0, [[1, Buffer.from(''), Buffer.from('m'), 1, 9, 10, 4, 2]]]);
    const rebuilt = Buffer.concat([gap.subarray(0, 10), Buffer.alloc(4), header, gap.subarray(14 + headerLength)]);
    rebuilt.writeUInt32BE(header.length, 10);
    writeFileSync(file, rebuilt);
    resealBackup(file);
    expect((await refusal(file)).message).toMatch(/do not cover the whole keyspace/);
  });

  it('a writer leaves OUT untouched until finish, drops a broken shard, and abort removes its temporaries', async () => {
    const out = join(dir, 'w.tbak');
    const w = await BackupWriter.create(out);
    const [a, b] = TWO_SHARDS as [(typeof TWO_SHARDS)[0], (typeof TWO_SHARDS)[1]];
    w.beginShard({ id: a.id, start: Buffer.from(a.start), end: Buffer.from('m'), epoch: 1, readIndex: 9, applied: 10 });
    await w.addChunk(shardChunks(a)[0]!);
    await w.dropShard(); // the stream broke after one chunk: copied again from the start
    w.beginShard({ id: a.id, start: Buffer.from(a.start), end: Buffer.from('m'), epoch: 1, readIndex: 9, applied: 10 });
    for (const c of shardChunks(a)) await w.addChunk(c);
    w.endShard();
    w.beginShard({ id: b.id, start: Buffer.from('m'), end: null, epoch: 2, readIndex: 6, applied: 7 });
    await expect(w.addChunk(shardChunks(b)[1]!)).rejects.toThrow(/sequence number 1/);
    await w.dropShard();
    w.beginShard({ id: b.id, start: Buffer.from('m'), end: null, epoch: 2, readIndex: 6, applied: 7 });
    for (const c of shardChunks(b)) await w.addChunk(c);
    w.endShard();
    expect(existsSync(out)).toBe(false);
    await w.finish('b'.repeat(32), 5);
    const v = await verifyBackup(out);
    expect(v.header.shards.map((s) => s.items)).toEqual([4, 3]);
    const w2 = await BackupWriter.create(join(dir, 'never.tbak'));
    await w2.abort();
    expect(readdirSync(dir).sort()).toEqual(['w.tbak']);
  });
});
