/**
 * The backup file format (version 1), written by `tessera backup` and read by `tessera restore`:
 *
 *   preamble  MAGIC "TESSBKUP" (8 bytes) | version u16 BE | header length u32 BE
 *   header    a codec record (format byte, CRC32C, msgpackr) of
 *               [1, clusterId, createdAtMs, [[id, start, end|null, epoch, readIndex, applied, items, chunks]...]]
 *             the shards in key order; each one copied at one read index (`readIndex`, confirmed by its
 *             leader) and reflecting exactly the state at `applied` (>= readIndex)
 *   records   for each shard of the header, in order, its `chunks` chunks: u32 BE length | a kv snapshot
 *             chunk record (kv/snapshot-chunk.ts, verbatim as the leader sent it: seq from 0, the shard's
 *             applied index in every chunk, its range in the first, done and the item count in the last)
 *   trailer   TRAILER_MAGIC "TESSBEND" (8 bytes) | SHA-256 of every byte before the trailer (32 bytes)
 *
 * Invariants checked by the reader (backup-reader.ts) before anything is restored: the trailer's SHA-256
 * matches; magic and version are known; the header decodes and its shards tile the keyspace ("" to
 * unbounded, each end the next start); every record is where the header says, with the shard's range,
 * applied index and item count; user keys lie in their shard's range in ascending order and every value
 * record passes its CRC; nothing follows the last record but the trailer. Any defect is CORRUPTION with
 * a message that names the file and the problem.
 */
import { TesseraError } from '../base';
import {
  decodeShaped,
  encodeRecord,
  shapeArray,
  shapeBytes,
  shapeFail,
  shapeString,
  shapeUint,
  type GroupShard,
} from '../codec';

export const BACKUP_MAGIC = Buffer.from('TESSBKUP', 'latin1');
export const TRAILER_MAGIC = Buffer.from('TESSBEND', 'latin1');
export const BACKUP_VERSION = 1;
/** Magic, version, header length. */
export const PREAMBLE_BYTES = 8 + 2 + 4;
/** Trailer magic and SHA-256. */
export const TRAILER_BYTES = 8 + 32;
/** Bound of the header record (100,000 shards with their boundary keys fit easily). */
export const HEADER_BYTES_MAX = 256 * 1024 * 1024;
/** Bound of one chunk record (a chunk is at most 4 MiB plus one item). */
export const RECORD_BYTES_MAX = 256 * 1024 * 1024;
const HEADER_TUPLE = 1;

/** One shard as the backup holds it. */
export interface BackupShard {
  id: number;
  start: Buffer;
  /** null: unbounded (the last shard). */
  end: Buffer | null;
  epoch: number;
  /** The read index its leader confirmed before the copy was taken. */
  readIndex: number;
  /** The index the copy reflects exactly. */
  applied: number;
  /** Items in its chunks (user keys and client sessions). */
  items: number;
  chunks: number;
}

export interface BackupHeader {
  /** The backed-up cluster's id (32 hex digits; "" when the node did not say). */
  clusterId: string;
  createdAtMs: number;
  shards: BackupShard[];
}

/** A defect of a backup file: CORRUPTION whose message names the file. */
export function backupDefect(file: string, problem: string): TesseraError {
  return new TesseraError('CORRUPTION', `backup ${file}: ${problem}`, { file });
}

export function encodePreamble(headerBytes: number): Buffer {
  const out = Buffer.alloc(PREAMBLE_BYTES);
  BACKUP_MAGIC.copy(out, 0);
  out.writeUInt16BE(BACKUP_VERSION, 8);
  out.writeUInt32BE(headerBytes, 10);
  return out;
}

/** The header length of a preamble; CORRUPTION for a wrong magic or an unknown version. */
export function decodePreamble(buf: Buffer, file: string): number {
  if (buf.length < PREAMBLE_BYTES) throw backupDefect(file, 'truncated: shorter than the preamble');
  if (!buf.subarray(0, 8).equals(BACKUP_MAGIC))
    throw backupDefect(file, 'not a Tessera backup (wrong magic bytes at the start)');
  const version = buf.readUInt16BE(8);
  if (version !== BACKUP_VERSION)
    throw backupDefect(
      file,
      `backup format version ${version} is not supported (this build reads version ${BACKUP_VERSION})`,
    );
  const headerBytes = buf.readUInt32BE(10);
  if (headerBytes === 0 || headerBytes > HEADER_BYTES_MAX)
    throw backupDefect(file, `header length ${headerBytes} is out of bounds`);
  return headerBytes;
}

export function encodeHeader(h: BackupHeader): Buffer {
  const shards = h.shards.map((s) => [s.id, s.start, s.end, s.epoch, s.readIndex, s.applied, s.items, s.chunks]);
  return encodeRecord([HEADER_TUPLE, h.clusterId, h.createdAtMs, shards]);
}

function shardOf(v: unknown): BackupShard {
  const t = shapeArray(v, 'shard');
  if (t.length !== 8) shapeFail('a shard is not an 8-tuple');
  const end = t[2] === null ? null : shapeBytes(t[2], 'shard end');
  const s: BackupShard = {
    id: shapeUint(t[0], 'shard id'),
    start: shapeBytes(t[1], 'shard start'),
    end,
    epoch: shapeUint(t[3], 'epoch'),
    readIndex: shapeUint(t[4], 'read index'),
    applied: shapeUint(t[5], 'applied'),
    items: shapeUint(t[6], 'items'),
    chunks: shapeUint(t[7], 'chunks'),
  };
  if (s.id < 1) shapeFail('shard id 0');
  if (s.chunks < 1) shapeFail(`shard ${s.id} has no chunk`);
  if (s.readIndex > s.applied) shapeFail(`shard ${s.id}'s read index ${s.readIndex} is past its applied ${s.applied}`);
  return s;
}

/** The header; CORRUPTION naming the file when it does not decode or its shards do not tile the keyspace. */
export function decodeHeader(buf: Buffer, file: string): BackupHeader {
  let h: BackupHeader;
  try {
    h = decodeShaped(buf, 'backup header', (v) => {
      const t = shapeArray(v, 'header');
      if (t[0] !== HEADER_TUPLE) shapeFail(`unknown header form ${String(t[0])}`);
      return {
        clusterId: shapeString(t[1], 'cluster id'),
        createdAtMs: shapeUint(t[2], 'created at'),
        shards: shapeArray(t[3], 'shards').map(shardOf),
      };
    });
  } catch (e) {
    throw backupDefect(file, `the header is damaged (${(e as Error).message})`);
  }
  const problem = tilingProblem(h.shards);
  if (problem !== null) throw backupDefect(file, problem);
  return h;
}

/** Why shards (in order) do not tile the keyspace from "" to unbounded with distinct ids, or null. */
export function tilingProblem(shards: readonly BackupShard[]): string | null {
  if (shards.length === 0) return 'the header lists no shard';
  const ids = new Set<number>();
  let expected: Buffer | null = Buffer.alloc(0);
  for (const s of shards) {
    if (ids.has(s.id)) return `shard ${s.id} is listed twice`;
    ids.add(s.id);
    if (expected === null) return `shard ${s.id} follows the unbounded last shard`;
    if (!s.start.equals(expected)) return `shard ${s.id} does not start where the previous shard ends`;
    if (s.end !== null && Buffer.compare(s.end, s.start) <= 0) return `shard ${s.id} has an empty range`;
    expected = s.end;
  }
  if (expected !== null) return 'the last shard is bounded: the shards do not cover the whole keyspace';
  return null;
}

/** True when the chunk's shard (first chunk) is the header's range and epoch. */
export function sameRange(s: BackupShard, g: GroupShard): boolean {
  const endsMatch = s.end === null || g.end === null ? s.end === g.end : s.end.equals(g.end);
  return s.start.equals(g.start) && endsMatch && s.epoch === g.epoch;
}

export function encodeTrailer(sha256: Buffer): Buffer {
  return Buffer.concat([TRAILER_MAGIC, sha256]);
}
