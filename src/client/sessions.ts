/**
 * Client sessions for exactly-once writes (proto Session, kv/types SessionTag). Each session is a random
 * 16-byte client id with a sequence counter. Invariants:
 * - at most one outstanding write per session: a write acquires a session and holds it until its last
 *   attempt has settled; concurrent writes use different sessions (the pool grows up to sessionsMax, then
 *   writers wait in FIFO order);
 * - a new write takes seq = last seq + 1; every retry of that write repeats the same (clientId, seq), so
 *   the state machine applies it at most once;
 * - a seq is consumed only if the write may have reached the state machine; a write that every node
 *   definitively rejected (e.g. INVALID_ARGUMENT, NOT_LEADER) leaves the counter where it was, so seqs
 *   stay dense;
 * - a session is registered with the cluster (KV.OpenSession, `opened`) before its first write, and with
 *   each shard before its first write there (`shards`, session-writer.ts); a session
 *   the cluster answered SESSION_EXPIRED for is retired (never used again: its id is not re-registered, so
 *   a late retry of its writes can never apply), and a fresh session with a new id takes its place.
 */
import { randomBytes } from 'node:crypto';
import { TesseraError, assert } from '../base';

export class Session {
  readonly clientId: Buffer;
  /** The seq of the last write that may have been applied; the next write uses lastSeq + 1. */
  lastSeq = 0;
  busy = false;
  /** Registered with the cluster (KV.OpenSession answered, or the cluster predates it). */
  opened = false;
  /** The shards it was registered in (bounded by the shards a client writes to). */
  readonly shards = new Set<number>();
  constructor(clientId: Buffer) {
    assert(clientId.length === 16, 'a session client id is 16 bytes');
    this.clientId = clientId;
  }
}

export interface SessionLease {
  session: Session;
  /** The proto Session message for this write (reused verbatim by every retry). */
  tag: { clientId: Buffer; seq: number };
}

export class SessionPool {
  private readonly free: Session[] = [];
  private readonly waiters: Array<{ resolve: (s: Session) => void; reject: (e: Error) => void }> = [];
  private created = 0;
  private retired = 0;
  private closed = false;

  constructor(
    readonly sessionsMax: number,
    private readonly newClientId: () => Buffer = () => randomBytes(16),
  ) {
    assert(Number.isInteger(sessionsMax) && sessionsMax >= 1, 'sessionsMax >= 1');
  }

  /** Sessions created so far (for tests and metrics). */
  size(): number {
    return this.created;
  }

  /** A free session, or waits until one is released. */
  acquire(): SessionLease | Promise<SessionLease> {
    if (this.closed) throw new TesseraError('UNAVAILABLE', 'client is closed');
    const s = this.free.pop() ?? (this.created < this.sessionsMax ? this.create() : null);
    if (s !== null) return this.lease(s);
    return new Promise<SessionLease>((resolve, reject) => {
      this.waiters.push({ resolve: (next) => resolve(this.lease(next)), reject });
    });
  }

  /** Ends the lease. `mayHaveApplied`: the write's seq is consumed (it succeeded or its outcome is unknown). */
  release(lease: SessionLease, mayHaveApplied: boolean): void {
    const s = lease.session;
    assert(s.busy, 'released a session that was not leased');
    assert(lease.tag.seq === s.lastSeq + 1, 'one outstanding write per session');
    if (mayHaveApplied) s.lastSeq = lease.tag.seq;
    s.busy = false;
    const waiter = this.waiters.shift();
    if (waiter !== undefined && !this.closed) waiter.resolve(s);
    else this.free.push(s);
  }

  /**
   * Ends the lease and forgets its session (the cluster no longer knows it: SESSION_EXPIRED). The next
   * acquire, or the first waiter, gets a new session with a new id.
   */
  retire(lease: SessionLease): void {
    const s = lease.session;
    assert(s.busy, 'retired a session that was not leased');
    s.busy = false;
    this.created--;
    this.retired++;
    const waiter = this.waiters.shift();
    if (waiter !== undefined && !this.closed) waiter.resolve(this.create());
  }

  /** Sessions retired so far (for tests and metrics). */
  retiredCount(): number {
    return this.retired;
  }

  /** Rejects every waiter; later acquires fail. */
  close(): void {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w.reject(new TesseraError('UNAVAILABLE', 'client is closed'));
  }

  private create(): Session {
    this.created++;
    return new Session(this.newClientId());
  }

  private lease(s: Session): SessionLease {
    assert(!s.busy, 'a session has at most one outstanding write');
    s.busy = true;
    return { session: s, tag: { clientId: s.clientId, seq: s.lastSeq + 1 } };
  }
}
