/**
 * The in-memory index of a group's client sessions: clientId -> (last seq, log index of its last use, log
 * time of its last use), kept in least-recently-used order by apply index (Map insertion order: oldest
 * first). The remembered results live only in the stored session records (m/<g>/sessions/<clientId>), so
 * memory stays small. Sessions leave the table in two ways, both deterministic (every replica applies the
 * same entries in the same order, so every replica evicts the same sessions):
 * - by count: at most sessionsMax sessions; the least recently used go first;
 * - by time: a session unused for more than sessionTtlMs of log time expires.
 *
 * Log time: a command carries atMs, its proposer's wall clock (codec/command-types.ts); a replica never
 * reads its own clock. The log clock while applying a command is
 *   clockFor(atMs) = max(atMs, lastSeenMs of the most recently used timed session)   (0: no time known)
 * a function of the replicated state and the entry only, so a replica that restarted (the session records
 * store lastSeenMs) or installed a snapshot (which carries the records verbatim) computes the same value as
 * one that applied every entry. A command without atMs (older version) does not advance it. The clock never
 * goes back while any timed session is remembered, whatever the leaders' clocks do.
 *
 * Invariants:
 * - a session used at log clock c gets lastSeenMs = c >= every other lastSeenMs, so lastSeenMs is
 *   non-decreasing from the oldest to the newest timed session, and expiry pops from the oldest end while
 *   expired: O(evicted), O(1) when nothing expires;
 * - untimed sessions (lastSeenMs null: used while no time was known, or stored by an older version) are all
 *   older than every timed session (a session used once time is known becomes timed), so they are kept in a
 *   separate LRU list in front of the timed one. Their last use precedes that of the oldest timed session,
 *   so they expire with it at the latest (conservative: never before they were idle for sessionTtlMs of log
 *   time); count eviction takes them first.
 */
import { assert } from '../base';

/** What expire() and touch() return when nothing left (the common case: no allocation per command). */
const NONE: readonly string[] = Object.freeze([]);

export interface SessionState {
  seq: number;
  lastIndex: number;
  /** The log clock (ms) at the session's last use; null: no time was known then. */
  lastSeenMs: number | null;
}

export class SessionTable {
  /** Sessions without time, least recently used first; all older than every timed session. */
  private readonly untimed = new Map<string, SessionState>();
  /** Sessions with time, least recently used first (lastSeenMs non-decreasing). */
  private readonly timed = new Map<string, SessionState>();
  /** lastSeenMs of the most recently used timed session; 0 when there is none. */
  private newestSeenMs = 0;

  constructor(
    readonly sessionsMax: number,
    readonly sessionTtlMs: number,
  ) {
    assert(
      Number.isInteger(sessionsMax) && sessionsMax >= 1,
      () => `sessionsMax must be an integer >= 1, got ${sessionsMax}`,
    );
    assert(
      Number.isSafeInteger(sessionTtlMs) && sessionTtlMs >= 1,
      () => `sessionTtlMs must be an integer >= 1, got ${sessionTtlMs}`,
    );
  }

  /** Rebuilds the table from stored sessions (any order). */
  static fromStored(
    sessionsMax: number,
    sessionTtlMs: number,
    stored: Array<{ clientId: string } & SessionState>,
  ): SessionTable {
    const t = new SessionTable(sessionsMax, sessionTtlMs);
    stored.sort((a, b) => a.lastIndex - b.lastIndex || (a.clientId < b.clientId ? -1 : 1));
    for (const s of stored) {
      const state = { seq: s.seq, lastIndex: s.lastIndex, lastSeenMs: s.lastSeenMs };
      if (s.lastSeenMs === null) {
        t.untimed.set(s.clientId, state);
      } else {
        t.timed.set(s.clientId, state);
        t.newestSeenMs = s.lastSeenMs;
      }
    }
    return t;
  }

  get size(): number {
    return this.untimed.size + this.timed.size;
  }

  get(clientId: string): SessionState | undefined {
    return this.timed.get(clientId) ?? this.untimed.get(clientId);
  }

  /** The log clock for applying a command stamped `atMs` (null: not stamped); 0 = no time known. */
  clockFor(atMs: number | null): number {
    return atMs === null ? this.newestSeenMs : Math.max(atMs, this.newestSeenMs);
  }

  /**
   * Evicts the sessions unused since before clockMs - sessionTtlMs (oldest first; untimed sessions with the
   * first expiring timed one). Returns the evicted client ids.
   */
  expire(clockMs: number): readonly string[] {
    const cutoffMs = clockMs - this.sessionTtlMs;
    let evicted: string[] | null = null;
    for (const [clientId, s] of this.timed) {
      if ((s.lastSeenMs as number) >= cutoffMs) break;
      evicted ??= [];
      if (this.untimed.size > 0) {
        for (const old of this.untimed.keys()) evicted.push(old);
        this.untimed.clear();
      }
      this.timed.delete(clientId);
      evicted.push(clientId);
    }
    if (this.timed.size === 0) this.newestSeenMs = 0;
    return evicted ?? NONE;
  }

  /**
   * Records a use of the session at log index `lastIndex` and log clock `clockMs` (from clockFor, so it is
   * >= every remembered lastSeenMs; 0 = no time known), making it the most recently used; then evicts the
   * least recently used sessions while the table is over sessionsMax. Returns the evicted client ids.
   */
  touch(clientId: string, seq: number, lastIndex: number, clockMs: number): readonly string[] {
    assert(
      clockMs >= this.newestSeenMs,
      () => `session ${clientId} used at log clock ${clockMs}, before ${this.newestSeenMs}`,
    );
    this.untimed.delete(clientId);
    this.timed.delete(clientId);
    if (clockMs === 0) {
      this.untimed.set(clientId, { seq, lastIndex, lastSeenMs: null });
    } else {
      this.timed.set(clientId, { seq, lastIndex, lastSeenMs: clockMs });
      this.newestSeenMs = clockMs;
    }
    if (this.size <= this.sessionsMax) return NONE;
    const evicted: string[] = [];
    while (this.size > this.sessionsMax) {
      const from = this.untimed.size > 0 ? this.untimed : this.timed;
      const oldest = from.keys().next().value as string;
      from.delete(oldest);
      evicted.push(oldest);
    }
    return evicted;
  }

  /** Client ids from least to most recently used. */
  clientIds(): string[] {
    return [...this.untimed.keys(), ...this.timed.keys()];
  }
}
