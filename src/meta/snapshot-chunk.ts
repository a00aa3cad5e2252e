/**
 * Meta snapshot chunks: checksummed msgpackr records of
 *   ['tessera-meta', seq, applied, done, itemCount, [suffix, record, suffix, record, ...]]
 * like KV's chunks (kv/snapshot-chunk.ts) but tagged, so a KV chunk sent to the meta group (or the
 * reverse) is refused by its tag. Items are the c/G/ records verbatim under their suffix (meta-keys.ts).
 * seq counts from 0, `applied` is the same in every chunk, the last chunk has done = true and itemCount =
 * the items of the whole snapshot (a truncated stream is detected). A chunk is hostile: decodeMetaChunk
 * checks its shape and bounds (CORRUPTION); the records themselves are checked by the staging.
 */
import { decodeShaped, encodeRecord, shapeArray, shapeBool, shapeBytes, shapeFail, shapeUint } from '../codec';
import { checkTuple } from './validate';

const TAG = 'tessera-meta';
/** Items per chunk, and the byte size a chunk aims at. */
export const META_CHUNK_ITEMS_MAX = 4096;
export const META_CHUNK_BYTES_DEFAULT = 256 * 1024;

export interface MetaChunkItem {
  key: Buffer;
  value: Buffer;
}

export interface MetaChunk {
  seq: number;
  applied: number;
  done: boolean;
  itemCount: number;
  items: MetaChunkItem[];
}

export function encodeMetaChunk(c: MetaChunk): Buffer {
  const flat: Buffer[] = [];
  for (const it of c.items) flat.push(it.key, it.value);
  return encodeRecord([TAG, c.seq, c.applied, c.done, c.itemCount, flat]);
}

export function decodeMetaChunk(buf: Uint8Array): MetaChunk {
  return decodeShaped(buf, 'meta snapshot chunk', (v) => {
    const t = checkTuple(v, 6, 6, 'meta chunk');
    if (t[0] !== TAG) shapeFail('not a meta snapshot chunk');
    const flat = shapeArray(t[5], 'chunk items');
    if (flat.length % 2 !== 0) shapeFail('chunk items are not pairs');
    if (flat.length / 2 > META_CHUNK_ITEMS_MAX) shapeFail(`more than ${META_CHUNK_ITEMS_MAX} items`);
    const items: MetaChunkItem[] = [];
    for (let i = 0; i < flat.length; i += 2)
      items.push({ key: shapeBytes(flat[i], 'item key'), value: shapeBytes(flat[i + 1], 'item value') });
    return {
      seq: shapeUint(t[1], 'seq'),
      applied: shapeUint(t[2], 'applied'),
      done: shapeBool(t[3], 'done'),
      itemCount: shapeUint(t[4], 'itemCount'),
      items,
    };
  });
}
