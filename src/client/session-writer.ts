/**
 * Writes under a session, shard by shard (issue 10, "Routing"; sessions.ts holds the exactly-once rules).
 * A session is registered per shard (each shard's log keeps its own session table; a split copies it to
 * both halves), so before a write to a shard the session was not opened on, it is opened there
 * (KV.OpenSession { client_id, key }: the node registers it in the shard that owns the key). A session
 * records the shard ids it was opened on (the answer's header names the shard; else the cached owner);
 * with no shard known for the key (a cluster before sharding, or a cold cache) it is opened once, as before.
 * - SESSION_EXPIRED from a shard the session was never opened on (the cache was stale: the key's owner is
 *   not the shard it was believed to be) is not a forgotten session: the owner is looked up afresh and, when
 *   the session was never opened there, it is opened there and the same write (same seq) is sent once more.
 *   Safe: that shard never held the session, so no earlier write of it was applied there (a split copies
 *   the table with its seqs to both halves, and then the half would not answer SESSION_EXPIRED).
 * - Any other SESSION_EXPIRED retires the session (the cluster forgot it: it is never re-registered, so a
 *   late retry of its writes can never apply); when no attempt of the write can have applied
 *   (details.indeterminate false) the write is sent once more under a new session, otherwise the error
 *   (outcome unknown: details.indeterminate true) goes to the caller.
 */
import { isShardId, isTesseraError } from '../base';
import { isUnimplemented } from './errors';
import type { Invoker } from './invoker';
import type { Session, SessionLease, SessionPool } from './sessions';
import type { ShardRoutes, WireHeader } from './shard-routes';

const EMPTY = Buffer.alloc(0);

/** What a write sends: its method and key (null: a batch without keys), and the request for a session tag. */
export interface WriteRequest {
  readonly method: string;
  readonly key: Buffer | null;
  readonly build: (session: SessionLease['tag']) => unknown;
}

/** What is left until `deadline` (ms since the epoch), at least 1 ms. */
export function budgetUntil(deadline: number): number {
  return Math.max(1, deadline - Date.now());
}

export class SessionWriter {
  constructor(
    private readonly invoker: Invoker,
    private readonly sessions: SessionPool,
    private readonly shards: ShardRoutes,
  ) {}

  /** The write, exactly once, within budgetMs (see the header). */
  async write<T>(w: WriteRequest, budgetMs: number): Promise<T> {
    const deadline = Date.now() + budgetMs;
    if (w.key !== null) await this.shards.ensure(w.key, Math.min(budgetMs / 2, 1000));
    for (let renewed = 0; ; renewed++) {
      const acquired = this.sessions.acquire();
      const waited = acquired instanceof Promise;
      const lease = waited ? await acquired : acquired;
      let mayHaveApplied = true;
      let retire = false;
      // The whole budget while none of it was spent (the error messages name it), else what is left.
      let spent = waited || renewed > 0;
      try {
        if (this.needsOpen(lease.session, w.key)) {
          mayHaveApplied = false; // the write is not sent before its session is open
          await this.open(lease.session, w.key, spent ? budgetUntil(deadline) : budgetMs);
          mayHaveApplied = true;
          spent = true;
        }
        return await this.send<T>(lease, w, deadline, spent ? budgetUntil(deadline) : budgetMs);
      } catch (e) {
        if (!isTesseraError(e)) throw e;
        if (!mayHaveApplied) {
          e.details.indeterminate = false;
          throw e;
        }
        if (e.code === 'SESSION_EXPIRED') {
          // details.indeterminate (from the invoker) stays: true when an earlier attempt may have applied.
          retire = true;
          if (e.details.indeterminate === false && renewed === 0) continue; // nothing of this write applied anywhere
          throw e;
        }
        if (e.details.indeterminate === false) mayHaveApplied = false;
        throw e;
      } finally {
        if (retire) this.sessions.retire(lease);
        else this.sessions.release(lease, mayHaveApplied);
      }
    }
  }

  /** Sends the write; SESSION_EXPIRED from a shard never opened on: opens it there and sends it once more. */
  private async send<T>(lease: SessionLease, w: WriteRequest, deadline: number, firstBudgetMs: number): Promise<T> {
    const request = w.build(lease.tag);
    const call = (budgetMs: number): Promise<T> =>
      this.invoker.call<T>('kv', w.method, request, 'leader', budgetMs, w.key === null ? {} : { key: w.key });
    try {
      return await call(firstBudgetMs);
    } catch (e) {
      if (!isTesseraError(e) || e.code !== 'SESSION_EXPIRED' || w.key === null) throw e;
      if (!(await this.neverOpenedOnOwner(lease.session, w.key, deadline))) throw e;
      try {
        await this.open(lease.session, w.key, budgetUntil(deadline));
      } catch {
        throw e; // the session stays as it was; the caller handles the SESSION_EXPIRED
      }
      try {
        return await call(budgetUntil(deadline));
      } catch (again) {
        if (isTesseraError(again) && e.details.indeterminate === true) again.details.indeterminate = true;
        throw again;
      }
    }
  }

  /** Whether the key's owner, looked up afresh, is a shard the session was never opened on. */
  private async neverOpenedOnOwner(session: Session, key: Buffer, deadline: number): Promise<boolean> {
    await this.shards.ensure(key, Math.min(budgetUntil(deadline), 1000), true);
    const owner = this.shards.locate(key);
    return owner !== null && !session.shards.has(owner.descriptor.id);
  }

  /**
   * Whether the session must be opened before a write of `key`: on its shard, when the shard is known; on a
   * sharded cluster whose owner of `key` is not cached, yes (opening is idempotent, and its routing teaches
   * the owner); on a cluster before sharding (nothing cached), once.
   */
  private needsOpen(session: Session, key: Buffer | null): boolean {
    const owner = key === null ? null : this.shards.locate(key);
    if (owner !== null) return !session.shards.has(owner.descriptor.id);
    return key !== null && this.shards.cache.size > 0 ? true : !session.opened;
  }

  /**
   * Registers the session in the shard owning `key` (the first shard without a key). The shard is the one
   * the answer's header names, else the cached owner. A cluster that predates OpenSession takes writes
   * without it.
   */
  private async open(session: Session, key: Buffer | null, budgetMs: number): Promise<void> {
    const request = { clientId: session.clientId, key: key ?? EMPTY };
    let header: WireHeader | undefined;
    try {
      const res = await this.invoker.call<{ header?: WireHeader }>(
        'kv',
        'OpenSession',
        request,
        'leader',
        budgetMs,
        key === null ? {} : { key },
      );
      header = res?.header;
    } catch (e) {
      if (!isUnimplemented(e)) throw e;
    }
    const named = header?.groupId;
    const cached = key === null ? null : (this.shards.locate(key)?.descriptor.id ?? null);
    if (isShardId(named)) session.shards.add(named);
    else if (cached !== null) session.shards.add(cached);
    session.opened = true;
  }
}
