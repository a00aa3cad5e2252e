/**
 * Snapshot chunks: how a group's state machine travels from a leader to a follower, in bounded pieces.
 * A chunk is a checksummed msgpackr record (codec record format 1) of
 *   [seq, applied, done, itemCount, [kind, key, value, kind, key, value, ...]]
 * seq counts chunks from 0; applied is the index the snapshot reflects (the same in every chunk); the last
 * chunk has done = true and itemCount = the number of items in the whole snapshot (so a truncated stream is
 * detected), earlier chunks itemCount = 0. Items: kind 0 = user data (key = user key, value = the stored
 * value record, verbatim), kind 1 = a client session (key = client id utf8, value = the stored session record,
 * verbatim: with its lastSeenMs, so the receiver derives the same log clock and expires the same sessions).
 * The first chunk may carry a sixth element, the group's shard [start, end|null, epoch] as of `applied`
 * (group-shard.ts: a snapshot taken after a split carries the narrowed range and the new epoch, so a
 * replica that skips the split entry by this snapshot narrows too); absent in snapshots of older versions.
 */
import {
  decodeShaped,
  encodeRecord,
  groupShardTuple,
  shapeArray,
  shapeBool,
  shapeBytes,
  shapeFail,
  shapeUint,
  toGroupShard,
} from '../codec';
import type { GroupShard } from '../codec';

export const ITEM_DATA = 0;
export const ITEM_SESSION = 1;

export interface ChunkItem {
  kind: typeof ITEM_DATA | typeof ITEM_SESSION;
  key: Buffer;
  value: Buffer;
}

export interface SnapshotChunk {
  seq: number;
  applied: number;
  done: boolean;
  itemCount: number;
  items: ChunkItem[];
  /** First chunk only: the group's range and epoch at `applied`. */
  shard?: GroupShard;
}

/** Upper bound of a chunk's bytes besides its items, and of each item's framing. */
export const CHUNK_OVERHEAD_BYTES = 64;
export const ITEM_OVERHEAD_BYTES = 12;

export function encodeChunk(c: SnapshotChunk): Buffer {
  const flat: unknown[] = [];
  for (const it of c.items) flat.push(it.kind, it.key, it.value);
  const t: unknown[] = [c.seq, c.applied, c.done, c.itemCount, flat];
  if (c.shard !== undefined) t.push(groupShardTuple(c.shard));
  return encodeRecord(t);
}

export function decodeChunk(buf: Uint8Array): SnapshotChunk {
  return decodeShaped(buf, 'snapshot chunk', (v) => {
    const t = shapeArray(v, 'chunk');
    const flat = shapeArray(t[4], 'chunk items');
    if (flat.length % 3 !== 0) shapeFail('chunk items are not triples');
    const items: ChunkItem[] = [];
    for (let i = 0; i < flat.length; i += 3) {
      const kind = shapeUint(flat[i], 'item kind');
      if (kind !== ITEM_DATA && kind !== ITEM_SESSION) shapeFail(`unknown item kind ${kind}`);
      items.push({ kind, key: shapeBytes(flat[i + 1], 'item key'), value: shapeBytes(flat[i + 2], 'item value') });
    }
    const chunk: SnapshotChunk = {
      seq: shapeUint(t[0], 'seq'),
      applied: shapeUint(t[1], 'applied'),
      done: shapeBool(t[2], 'done'),
      itemCount: shapeUint(t[3], 'itemCount'),
      items,
    };
    if (t[5] !== undefined) {
      if (chunk.seq !== 0) shapeFail('a shard in a chunk after the first');
      chunk.shard = toGroupShard(t[5]);
    }
    return chunk;
  });
}
