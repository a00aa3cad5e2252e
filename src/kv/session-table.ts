/**
 * The in-memory index of a group's client sessions: clientId -> (last seq, log index of its last use),
 * kept in least-recently-used order by apply index (Map insertion order: oldest first). The remembered
 * results live only in the stored session records (m/<g>/sessions/<clientId>), so memory stays small.
 * Eviction is deterministic: every replica applies the same entries in the same order, so every replica
 * evicts the same sessions.
 */
import { assert } from '../base';

export interface SessionState {
  seq: number;
  lastIndex: number;
}

export class SessionTable {
  private readonly byClient = new Map<string, SessionState>();

  constructor(readonly sessionsMax: number) {
    assert(Number.isInteger(sessionsMax) && sessionsMax >= 1, () => `sessionsMax must be an integer >= 1, got ${sessionsMax}`);
  }

  /** Rebuilds the table from stored sessions (any order). */
  static fromStored(sessionsMax: number, stored: Array<{ clientId: string } & SessionState>): SessionTable {
    const t = new SessionTable(sessionsMax);
    stored.sort((a, b) => a.lastIndex - b.lastIndex || (a.clientId < b.clientId ? -1 : 1));
    for (const s of stored) t.byClient.set(s.clientId, { seq: s.seq, lastIndex: s.lastIndex });
    return t;
  }

  get size(): number {
    return this.byClient.size;
  }

  get(clientId: string): SessionState | undefined {
    return this.byClient.get(clientId);
  }

  /**
   * Records a use of the session at log index `lastIndex` (the most recent use), then evicts the least
   * recently used sessions while the table is over sessionsMax. Returns the evicted client ids.
   */
  touch(clientId: string, seq: number, lastIndex: number): string[] {
    this.byClient.delete(clientId);
    this.byClient.set(clientId, { seq, lastIndex });
    const evicted: string[] = [];
    for (const oldest of this.byClient.keys()) {
      if (this.byClient.size <= this.sessionsMax) break;
      this.byClient.delete(oldest);
      evicted.push(oldest);
    }
    return evicted;
  }

  /** Client ids from least to most recently used. */
  clientIds(): string[] {
    return [...this.byClient.keys()];
  }
}
