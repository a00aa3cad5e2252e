/**
 * Receiving a meta snapshot: chunks are staged under t/G/<id>/ as they arrive (`c` + item suffix; `z` =
 * complete, [applied, itemCount]), then runMetaInstall replaces the c/G/ records with them.
 *
 * - Every chunk is hostile: its shape (decodeMetaChunk), order (seq), index (the same applied in every
 *   chunk), item count (at most META_ITEMS_MAX in all, each item once) are checked, and every item is decoded as the record its key names
 *   (StateLoader). The done chunk is accepted only if the whole staged set builds a coherent state, so a
 *   snapshot that would leave a gap in the keyspace, a replica on an unknown node, a duplicated item or a
 *   damaged record is refused before it replaces anything.
 * - runMetaInstall is one LevelDB batch (delete the old c/G/ records, put the staged ones, set m/G/applied,
 *   delete the m/G/install marker): atomic. It is idempotent and re-run by MetaStateMachine.open while the
 *   marker exists (written by NodeStore.persist with the snapshot meta), so a crash part-way finishes it.
 */
import { TesseraError, assert } from '../base';
import {
  appliedKey,
  decodeRecord,
  encodeIndex,
  encodeRecord,
  formatKey,
  installMarkerKey,
  shapeArray,
  shapeUint,
  stagingEndKey,
  stagingGroupRange,
  stagingPrefix,
} from '../codec';
import type { BatchOp, StoreDb } from '../storage';
import { META_ITEMS_MAX, StateLoader } from './load-state';
import { metaKey, metaRange } from './meta-keys';
import { decodeMetaChunk } from './snapshot-chunk';

interface Staging {
  id: string;
  prefix: Buffer;
  nextSeq: number;
  applied: number;
  itemCount: number;
  done: boolean;
}

const ITEM = Buffer.from('c');
const itemRange = (prefix: Buffer): { gte: Buffer; lt: Buffer } => ({
  gte: Buffer.concat([prefix, ITEM]),
  lt: Buffer.concat([prefix, Buffer.from('d')]),
});

export async function discardAllStaging(db: StoreDb, groupId: number): Promise<void> {
  await db.clear({ ...stagingGroupRange(groupId) });
}

/** Loads the staged items of `prefix` into a StateLoader (checks every record and the whole state). */
async function loadStaged(db: StoreDb, prefix: Buffer, where: string): Promise<StateLoader> {
  const loader = new StateLoader(where);
  for await (const [key, value] of db.iterator({ ...itemRange(prefix) }))
    loader.add(key.subarray(prefix.length + 1), value);
  return loader;
}

export class MetaSnapshotStaging {
  private current: Staging | null = null;

  constructor(
    private readonly db: StoreDb,
    private readonly groupId: number,
  ) {}

  async begin(id: string): Promise<void> {
    this.current = null;
    const prefix = stagingPrefix(this.groupId, id);
    await discardAllStaging(this.db, this.groupId);
    this.current = { id, prefix, nextSeq: 0, applied: 0, itemCount: 0, done: false };
  }

  private expect(id: string): Staging {
    const st = this.current;
    if (st === null || st.id !== id)
      throw new TesseraError('INVALID_ARGUMENT', `meta group ${this.groupId}: no snapshot staging with id ${id}`);
    return st;
  }

  async stage(id: string, bytes: Uint8Array): Promise<{ done: boolean; applied: number }> {
    const st = this.expect(id);
    const refuse = (problem: string): never => {
      throw new TesseraError('INVALID_ARGUMENT', `meta snapshot ${id}: ${problem}`);
    };
    if (st.done) refuse('a chunk after the last one');
    const chunk = decodeMetaChunk(bytes);
    if (chunk.seq !== st.nextSeq) refuse(`chunk ${chunk.seq}, expected ${st.nextSeq}`);
    if (chunk.seq > 0 && chunk.applied !== st.applied) refuse(`chunk of index ${chunk.applied}, not ${st.applied}`);
    const check = new StateLoader(`meta snapshot ${id}`);
    const ops: BatchOp[] = chunk.items.map((it) => {
      check.add(it.key, it.value);
      return { type: 'put', key: Buffer.concat([st.prefix, ITEM, it.key]), value: it.value };
    });
    const itemCount = st.itemCount + chunk.items.length;
    if (itemCount > META_ITEMS_MAX) refuse(`more than ${META_ITEMS_MAX} items`);
    if (ops.length > 0) await this.db.batch(ops);
    if (chunk.done) {
      if (chunk.itemCount !== itemCount) refuse(`${itemCount} items received, the sender sent ${chunk.itemCount}`);
      const staged = await loadStaged(this.db, st.prefix, `meta snapshot ${id}`);
      // An item sent twice overwrote itself in the staging: refuse rather than keep the last copy.
      if (staged.count !== itemCount) refuse(`${itemCount} items received, ${staged.count} distinct`);
      staged.finish();
      await this.db.put(stagingEndKey(st.prefix), encodeRecord([chunk.applied, itemCount]));
    }
    st.nextSeq++;
    st.applied = chunk.applied;
    st.itemCount = itemCount;
    st.done = chunk.done;
    return { done: st.done, applied: st.applied };
  }

  completed(id: string): Staging {
    const st = this.expect(id);
    if (!st.done)
      throw new TesseraError('INVALID_ARGUMENT', `meta snapshot ${id} is incomplete (${st.nextSeq} chunks)`);
    return st;
  }

  forget(): void {
    this.current = null;
  }

  async discard(id: string): Promise<void> {
    if (this.current !== null && this.current.id !== id) return;
    this.current = null;
    await discardAllStaging(this.db, this.groupId);
  }
}

/** Replaces the c/G/ records with staging `stagingId` at `index` in one batch, then drops the staging. */
export async function runMetaInstall(db: StoreDb, groupId: number, stagingId: string, index: number): Promise<void> {
  const prefix = stagingPrefix(groupId, stagingId);
  const endKey = stagingEndKey(prefix);
  const end = await db.get(endKey);
  if (end === undefined)
    throw new TesseraError(
      'CORRUPTION',
      `meta group ${groupId}: a snapshot install of ${stagingId} at index ${index} is pending but its staged data is incomplete`,
      { key: formatKey(installMarkerKey(groupId)) },
    );
  const stagedApplied = shapeUint(shapeArray(decodeRecord(end, formatKey(endKey)), 'staging end')[0], 'applied');
  assert(stagedApplied === index, () => `meta group ${groupId}: staged ${stagedApplied}, install marker ${index}`);
  const ops: BatchOp[] = [];
  for await (const key of db.keys({ ...metaRange(groupId) })) ops.push({ type: 'del', key });
  for await (const [key, value] of db.iterator({ ...itemRange(prefix) }))
    ops.push({ type: 'put', key: metaKey(groupId, key.subarray(prefix.length + 1)), value });
  ops.push({ type: 'put', key: appliedKey(groupId), value: encodeIndex(index) });
  ops.push({ type: 'del', key: installMarkerKey(groupId) });
  await db.batch(ops);
  await discardAllStaging(db, groupId);
}
