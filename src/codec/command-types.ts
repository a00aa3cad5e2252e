/**
 * The replicated state machine's commands and results (owned by kv/, defined here so that codec/ can
 * encode them without importing kv/; kv/ re-exports them). A Command is what a normal Raft entry carries.
 * Writes carry an optional session (clientId, seq): the state machine remembers the last result per
 * session, so a retried write with the same (clientId, seq) returns the remembered result and is applied
 * at most once. Reads never go through the log.
 * Every command may carry `atMs`: the proposer's wall clock (ms since the epoch) when it was proposed
 * (NodeHost.propose stamps it). It is the only time the state machine knows: session expiry uses time from
 * the log, never a replica's own clock, so every replica expires the same sessions. Absent in commands
 * encoded by older versions (they carry no time information).
 */
export interface SessionTag {
  /** 16 random bytes chosen by the client, hex-encoded. */
  clientId: string;
  /** >= 1, strictly increasing per client for new writes; a retry repeats the same seq. */
  seq: number;
}

export type WriteOp =
  | { op: 'put'; key: Buffer; value: Buffer }
  | { op: 'delete'; key: Buffer };

export interface Compare {
  key: Buffer;
  /** null: the key must be absent. */
  expected: Buffer | null;
}

export type Command =
  | { type: 'put'; key: Buffer; value: Buffer; session: SessionTag | null; atMs?: number }
  | { type: 'delete'; key: Buffer; session: SessionTag | null; atMs?: number }
  /** value null: delete on success. */
  | { type: 'cas'; key: Buffer; expected: Buffer | null; value: Buffer | null; session: SessionTag | null; atMs?: number }
  /** Atomic: if every compare holds, apply every write and return the reads (taken before the writes). */
  | { type: 'batch'; compares: Compare[]; writes: WriteOp[]; reads: Buffer[]; session: SessionTag | null; atMs?: number }
  /** Session bookkeeping and no-ops (e.g. membership records of the node layer) go through here. */
  | { type: 'noop'; atMs?: number };

export type CommandResult =
  | { type: 'put' }
  | { type: 'delete'; existed: boolean }
  | { type: 'cas'; succeeded: boolean; current: Buffer | null }
  | { type: 'batch'; succeeded: boolean; values: (Buffer | null)[] }
  | { type: 'noop' }
  /**
   * A session's seq older than its last remembered one: the result is gone (a newer write of the session
   * superseded it); nothing was applied, and the retried write's outcome is unknown. A session the state
   * machine does not know (never seen, or evicted by count or expired by time) is NOT answered with this:
   * its write, whatever its seq, is applied and remembered like a new session's (so an idle SDK session
   * keeps working after expiry; the price is that a retry arriving after its session was evicted applies
   * again, see kv/state-machine.ts).
   */
  | { type: 'sessionExpired' }
  /** A key of the command lies outside the group's range at apply time: nothing was applied (WRONG_SHARD). */
  | { type: 'wrongShard' };

export interface KeyValue {
  key: Buffer;
  value: Buffer;
}

export interface ScanPage {
  items: KeyValue[];
  more: boolean;
  /** Where the next page starts when more is true. */
  nextStart: Buffer | null;
}
