/**
 * One LevelDB batch of Buffer keys and values, through the store's fast path. level's public batch()
 * clones every operation, validates it and runs it through the key and value encodings before handing
 * it to classic-level's _batch; with Buffer keys and values ('buffer' encodings, no hooks, no listeners)
 * that work changes nothing, and on the write path (persist, apply) it cost about 3x the native call.
 * writeBatch checks what that work would have checked (Buffers, put or del) and calls _batch directly
 * while the database is open; otherwise (opening, closing, or an implementation without _batch) it
 * takes the public path, which defers or refuses as usual.
 *
 * Group commit of unsynced batches: the state machines of every group on a node write their apply batches
 * (unsynced) to the same database in the same ready-loop run; each LevelDB write costs a native call, a
 * thread-pool hand-off and a turn of LevelDB's writer queue, and with 8 groups those writes dominated the
 * main thread (bench: scripts/bench-shards.sh). Unsynced batches issued within one event-loop turn, or while
 * an earlier merged write is in flight, are written as ONE LevelDB batch: each caller's operations stay
 * contiguous and in its order, callers in the order they called, and every caller's promise settles with
 * that write (a failure rejects all of them; every writer treats it as fatal). Synced batches (the Raft
 * log, identity) are written at once, as before: they carry their own fsync and must not wait a turn.
 * Ordering is no weaker than before: LevelDB orders concurrent async writes by whichever thread-pool thread
 * reaches its writer queue first, so no caller relied on the order of writes it had not awaited; here they
 * even keep their call order.
 * Bound: a merged write takes at most mergedOpsMax operations or mergedBytesMax bytes (one caller's batch
 * whole even when larger); the rest waits for the next write. Pending batches are bounded by their callers,
 * each of which awaits its write.
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
  if (sync) return fast.call(db, ops, { sync });
  return groupCommitOf(db, fast).write(ops);
}

type FastBatch = NonNullable<PrivateBatch['_batch']>;

/** At most this many operations, or bytes of keys and values, in one merged write. */
export const mergedOpsMax = 20_000;
export const mergedBytesMax = 16 * 1024 * 1024;

interface PendingBatch {
  ops: BatchOp[];
  bytes: number;
  resolve: () => void;
  reject: (e: unknown) => void;
}

const groupCommits = new WeakMap<StoreDb, GroupCommit>();

function groupCommitOf(db: StoreDb, fast: FastBatch): GroupCommit {
  let gc = groupCommits.get(db);
  if (gc === undefined) {
    gc = new GroupCommit(db, fast);
    groupCommits.set(db, gc);
  }
  return gc;
}

/** The unsynced writes of one database: one merged write in flight at a time. */
class GroupCommit {
  private pending: PendingBatch[] = [];
  private inFlight = false;
  private scheduled = false;
  /** Merged writes issued (for tests and diagnosis). */
  writes = 0;

  constructor(
    private readonly db: StoreDb,
    private readonly fast: FastBatch,
  ) {}

  write(ops: BatchOp[]): Promise<void> {
    let bytes = 0;
    for (const op of ops) bytes += op.key.length + (op.type === 'put' ? op.value.length : 0);
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ ops, bytes, resolve, reject });
      if (!this.inFlight && !this.scheduled) {
        this.scheduled = true;
        setImmediate(this.onTurnEnd);
      }
    });
  }

  private readonly onTurnEnd = (): void => {
    this.scheduled = false;
    if (!this.inFlight) this.flush();
  };

  private flush(): void {
    if (this.pending.length === 0) return;
    const taken = this.take();
    const ops = taken.length === 1 ? taken[0]!.ops : taken.flatMap((p) => p.ops);
    this.inFlight = true;
    this.writes++;
    // Closing or closed meanwhile: the public path defers or refuses as it does for any caller.
    const written = this.db.status === 'open' ? this.fast.call(this.db, ops, { sync: false }) : this.db.batch(ops);
    written.then(
      () => this.settle(taken, null),
      (e: unknown) => this.settle(taken, e ?? new Error('LevelDB write failed')),
    );
  }

  private take(): PendingBatch[] {
    let n = 0;
    let ops = 0;
    let bytes = 0;
    while (n < this.pending.length) {
      const p = this.pending[n]!;
      if (n > 0 && (ops + p.ops.length > mergedOpsMax || bytes + p.bytes > mergedBytesMax)) break;
      ops += p.ops.length;
      bytes += p.bytes;
      n++;
    }
    return this.pending.splice(0, n);
  }

  private settle(taken: PendingBatch[], error: unknown): void {
    this.inFlight = false;
    for (const p of taken) {
      if (error === null) p.resolve();
      else p.reject(error);
    }
    this.flush();
  }
}

/** Merged unsynced writes issued so far on `db` (tests). */
export function mergedWritesOf(db: StoreDb): number {
  return groupCommits.get(db)?.writes ?? 0;
}
