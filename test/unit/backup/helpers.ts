/**
 * Test helpers for backup files: kv snapshot chunk records built by hand (the layout of
 * kv/snapshot-chunk.ts) and a backup written through BackupWriter from a list of shards.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { BackupWriter, PREAMBLE_BYTES, TRAILER_BYTES, type BackupSummary } from '../../../src/backup';
import { encodeRecord, encodeValueRecord, groupShardTuple } from '../../../src/codec';

export interface TestShard {
  id: number;
  start: string;
  end: string | null;
  epoch?: number;
  applied?: number;
  keys: [string, string][];
  /** Items per chunk (default 2: several chunks per shard). */
  perChunk?: number;
  /** Client sessions (kind 1 items), as restore must skip them. */
  sessions?: string[];
}

export function chunkRecord(c: {
  seq: number;
  applied: number;
  done: boolean;
  itemCount: number;
  items: { kind: number; key: Buffer; value: Buffer }[];
  shard?: { start: Buffer; end: Buffer | null; epoch: number };
}): Buffer {
  const flat: unknown[] = [];
  for (const it of c.items) flat.push(it.kind, it.key, it.value);
  const t: unknown[] = [c.seq, c.applied, c.done, c.itemCount, flat];
  if (c.shard !== undefined) t.push(groupShardTuple(c.shard));
  return encodeRecord(t);
}

/** The chunk records of one shard. */
export function shardChunks(s: TestShard): Buffer[] {
  const applied = s.applied ?? 10;
  const items = [
    ...s.keys.map(([k, v]) => ({
      kind: 0,
      key: Buffer.from(k),
      value: encodeValueRecord(Buffer.from(k), Buffer.from(v)),
    })),
    ...(s.sessions ?? []).map((id) => ({ kind: 1, key: Buffer.from(id), value: encodeRecord([1, 1, [0], 0]) })),
  ];
  const per = s.perChunk ?? 2;
  const out: Buffer[] = [];
  const shard = { start: Buffer.from(s.start), end: s.end === null ? null : Buffer.from(s.end), epoch: s.epoch ?? 1 };
  for (let seq = 0, i = 0; ; seq++) {
    const part = items.slice(i, i + per);
    i += per;
    const done = i >= items.length;
    out.push(
      chunkRecord({
        seq,
        applied,
        done,
        itemCount: done ? items.length : 0,
        items: part,
        ...(seq === 0 ? { shard } : {}),
      }),
    );
    if (done) return out;
  }
}

export async function writeTestBackup(
  out: string,
  shards: TestShard[],
  clusterId = 'a'.repeat(32),
): Promise<BackupSummary> {
  const w = await BackupWriter.create(out);
  for (const s of shards) {
    const applied = s.applied ?? 10;
    w.beginShard({
      id: s.id,
      start: Buffer.from(s.start),
      end: s.end === null ? null : Buffer.from(s.end),
      epoch: s.epoch ?? 1,
      readIndex: applied - 1,
      applied,
    });
    for (const c of shardChunks(s)) await w.addChunk(c);
    w.endShard();
  }
  const { bytes, sha256 } = await w.finish(clusterId, 1_700_000_000_000);
  return { file: out, bytes, sha256, clusterId, createdAtMs: 1_700_000_000_000, shards: [...w.completed] };
}

/** Rewrites the file's trailer so its checksum matches its (edited) content. */
export function resealBackup(file: string): void {
  const buf = readFileSync(file);
  const body = buf.subarray(0, buf.length - TRAILER_BYTES);
  const sha = createHash('sha256').update(body).digest();
  writeFileSync(file, Buffer.concat([body, Buffer.from('TESSBEND', 'latin1'), sha]));
}

export const HEADER_LENGTH_OFFSET = PREAMBLE_BYTES - 4;

export const TWO_SHARDS: TestShard[] = [
  {
    id: 1,
    start: '',
    end: 'm',
    keys: [
      ['a', '1'],
      ['b', '2'],
      ['c', '3'],
    ],
    sessions: ['client-1'],
  },
  {
    id: 3,
    start: 'm',
    end: null,
    epoch: 2,
    applied: 7,
    keys: [
      ['m', 'x'],
      ['q', 'yy'],
      ['z', 'zzz'],
    ],
  },
];
