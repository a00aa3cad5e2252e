/**
 * One LevelDB batch of Buffer keys and values, through the store's fast path. level's public batch()
 * clones every operation, validates it and runs it through the key and value encodings before handing
 * it to classic-level's _batch; with Buffer keys and values ('buffer' encodings, no hooks, no listeners)
 * that work changes nothing, and on the write path (persist, apply) it cost about 3x the native call.
 * writeBatch checks what that work would have checked (Buffers, put or del) and calls _batch directly
 * while the database is open; otherwise (opening, closing, or an implementation without _batch) it
 * takes the public path, which defers or refuses as usual.
 * Invariant: the outcome (what is written, durability with sync, errors) is the public batch()'s.
 */
import { assert } from '../base';
import type { StoreDb } from './types';

export type BatchOp = { type: 'put'; key: Buffer; value: Buffer } | { type: 'del'; key: Buffer };

interface PrivateBatch {
  _batch?: (ops: BatchOp[], options: { sync: boolean }) => Promise<void>;
}

export function writeBatch(db: StoreDb, ops: BatchOp[], sync: boolean): Promise<void> {
  if (ops.length === 0) return Promise.resolve();
  const fast = (db as unknown as PrivateBatch)._batch;
  if (db.status !== 'open' || typeof fast !== 'function') return db.batch(ops, { sync });
  for (const op of ops) {
    assert(Buffer.isBuffer(op.key) && op.key.length > 0, 'writeBatch: keys are non-empty Buffers');
    assert(
      op.type === 'del' || (op.type === 'put' && Buffer.isBuffer(op.value)),
      'writeBatch: a put has a Buffer value',
    );
  }
  return fast.call(db, ops, { sync });
}
