/**
 * MetaSnapshotReader: a consistent chunked read of the meta state (its c/G/ records, verbatim) from one
 * explicit LevelDB snapshot taken synchronously at creation, so entries applied later are not seen. The
 * snapshot's own m/G/applied must equal `applied` (asserted: the state machine creates readers only
 * between applies). Every record is checked before it is sent (a damaged one is CORRUPTION, never
 * shipped). Iterate once; always ends with a done chunk; close() releases the LevelDB snapshot.
 */
import { TesseraError, assert } from '../base';
import { appliedKey, decodeIndex, formatKey } from '../codec';
import type { StoreDb } from '../storage';
import { metaRange, suffixOf } from './meta-keys';
import { META_CHUNK_ITEMS_MAX, encodeMetaChunk } from './snapshot-chunk';
import type { MetaChunkItem } from './snapshot-chunk';
import { StateLoader } from './load-state';

type DbSnapshot = ReturnType<StoreDb['snapshot']>;

export class MetaSnapshotReader implements AsyncIterable<Buffer> {
  private started = false;
  private closed = false;

  constructor(
    private readonly db: StoreDb,
    private readonly snapshot: DbSnapshot,
    private readonly groupId: number,
    readonly applied: number,
    readonly chunkBytes: number,
  ) {
    assert(Number.isInteger(chunkBytes) && chunkBytes > 0, () => `chunkBytes ${chunkBytes}`);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer, void, undefined> {
    if (this.started || this.closed) throw new TesseraError('INTERNAL', 'a snapshot reader can be iterated only once');
    this.started = true;
    try {
      const appliedBuf = await this.db.get(appliedKey(this.groupId), { snapshot: this.snapshot });
      const stored = appliedBuf === undefined ? 0 : decodeIndex(appliedBuf, formatKey(appliedKey(this.groupId)));
      assert(stored === this.applied, () => `meta snapshot: stored applied ${stored}, reader of ${this.applied}`);
      const check = new StateLoader(`meta snapshot of group ${this.groupId}`);
      let seq = 0;
      let itemCount = 0;
      let items: MetaChunkItem[] = [];
      let bytes = 0;
      const it = this.db.iterator({ ...metaRange(this.groupId), snapshot: this.snapshot });
      try {
        for await (const [key, value] of it) {
          const suffix = suffixOf(key);
          check.add(suffix, value);
          if (
            items.length > 0 &&
            (bytes + key.length + value.length > this.chunkBytes || items.length >= META_CHUNK_ITEMS_MAX)
          ) {
            yield encodeMetaChunk({ seq: seq++, applied: this.applied, done: false, itemCount: 0, items });
            items = [];
            bytes = 0;
          }
          items.push({ key: suffix, value });
          bytes += key.length + value.length;
          itemCount++;
        }
      } finally {
        await it.close();
      }
      check.finish();
      yield encodeMetaChunk({ seq, applied: this.applied, done: true, itemCount, items });
    } finally {
      await this.close();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.snapshot.close();
  }
}
