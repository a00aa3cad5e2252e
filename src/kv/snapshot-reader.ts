/**
 * SnapshotReader: a consistent, chunked read of one group's state machine (its d/ range and its session
 * table) at exactly `applied`. Created synchronously from an explicit LevelDB snapshot, so writes applied
 * after creation are not seen. Iterate it once (for await ... of reader); memory is bounded by one chunk.
 * Always ends with a chunk whose done = true (see snapshot-chunk.ts). Call close() if you stop early
 * (breaking out of for-await closes it too).
 */
import { TesseraError, assert } from '../base';
import { dataRange, decodeSessionRecord, decodeValueRecord, formatKey, sessionRange, userKeyOf } from '../codec';
import type { GroupShard } from '../codec';
import type { StoreDb } from '../storage';
import { CHUNK_OVERHEAD_BYTES, ITEM_DATA, ITEM_OVERHEAD_BYTES, ITEM_SESSION, encodeChunk } from './snapshot-chunk';
import type { ChunkItem } from './snapshot-chunk';

export const SNAPSHOT_CHUNK_BYTES_DEFAULT = 1 << 20;

type DbSnapshot = ReturnType<StoreDb['snapshot']>;

export interface KeyRangeOfGroup {
  start: Buffer;
  end: Buffer | null;
}

/** The range a reader reads; with an epoch, the first chunk carries both (snapshot-chunk.ts). */
type ReaderRange = KeyRangeOfGroup & { epoch?: number };

export class SnapshotReader implements AsyncIterable<Buffer> {
  private started = false;
  private closed = false;

  constructor(
    private readonly db: StoreDb,
    private readonly snapshot: DbSnapshot,
    private readonly groupId: number,
    private readonly range: ReaderRange,
    /** The index the snapshot reflects. */
    readonly applied: number,
    /** Chunks are at most this big, except a chunk holding a single item larger than that. */
    readonly chunkBytes: number,
  ) {
    assert(
      Number.isInteger(chunkBytes) && chunkBytes > CHUNK_OVERHEAD_BYTES,
      () => `chunkBytes ${chunkBytes} is too small`,
    );
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer, void, undefined> {
    if (this.started || this.closed) throw new TesseraError('INTERNAL', 'a snapshot reader can be iterated only once');
    this.started = true;
    try {
      let seq = 0;
      let itemCount = 0;
      let items: ChunkItem[] = [];
      let bytes = CHUNK_OVERHEAD_BYTES;
      const take = (it: ChunkItem): Buffer | null => {
        const size = it.key.length + it.value.length + ITEM_OVERHEAD_BYTES;
        let full: Buffer | null = null;
        if (items.length > 0 && bytes + size > this.chunkBytes) {
          full = encodeChunk({
            ...this.shardIn(seq),
            seq: seq++,
            applied: this.applied,
            done: false,
            itemCount: 0,
            items,
          });
          items = [];
          bytes = CHUNK_OVERHEAD_BYTES;
        }
        items.push(it);
        bytes += size;
        itemCount++;
        return full;
      };
      const dataIt = this.db.iterator({ ...dataRange(this.range.start, this.range.end), snapshot: this.snapshot });
      try {
        for await (const [key, value] of dataIt) {
          decodeValueRecord(value, userKeyOf(key), formatKey(key));
          const full = take({ kind: ITEM_DATA, key: userKeyOf(key), value });
          if (full !== null) yield full;
        }
      } finally {
        await dataIt.close();
      }
      const sessionIt = this.db.iterator({ ...sessionRange(this.groupId), snapshot: this.snapshot });
      try {
        for await (const [key, value] of sessionIt) {
          decodeSessionRecord(value, formatKey(key));
          const full = take({ kind: ITEM_SESSION, key: key.subarray(16), value });
          if (full !== null) yield full;
        }
      } finally {
        await sessionIt.close();
      }
      yield encodeChunk({ ...this.shardIn(seq), seq, applied: this.applied, done: true, itemCount, items });
    } finally {
      await this.close();
    }
  }

  /** The shard field of chunk `seq`: the first chunk carries the range and epoch when the epoch is known. */
  private shardIn(seq: number): { shard?: GroupShard } {
    const { start, end, epoch } = this.range;
    return seq === 0 && epoch !== undefined ? { shard: { start, end, epoch } } : {};
  }

  /** Releases the LevelDB snapshot. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.snapshot.close();
  }
}
