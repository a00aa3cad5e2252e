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
 *
 * Registered sessions (Raft dissertation, section 6.3): a client opens a session with a registerSession
 * command before its first write; a write whose session carries a fingerprint (the form this version's
 * server writes, requests.ts) is applied only for a session the state machine knows, and a reused seq must
 * come with the same request (same fingerprint). A session tag without a fingerprint was encoded by an
 * older version and keeps the older rules (an unknown session is a new one; no request check), so
 * replaying an old log gives the state and results it gave then.
 * The session id is chosen by the client (16 random bytes) and registered by the command, not the
 * registration's log index as in the dissertation: a random id cannot be guessed, so no client can write
 * into (and disturb the retries of) another client's session, as sequential log indexes would allow; a
 * retried OpenSession is idempotent (the same id registers once) instead of registering a second session;
 * the id is the same in every group, so sessions can be registered per group once keys are sharded; and the
 * wire and stored formats of session ids stay as they were. The SDK never registers an id again once the
 * cluster answered SESSION_EXPIRED for it, so a forgotten session's late retries can never apply.
 */
export interface SessionTag {
  /** 16 random bytes chosen by the client, hex-encoded. */
  clientId: string;
  /** >= 1, strictly increasing per client for new writes; a retry repeats the same seq. */
  seq: number;
  /**
   * commandFingerprint(command) (codec/command.ts): the CRC32C of the command without its session and time.
   * Set by the node that turns a client request into a command; absent in commands of older versions.
   */
  fingerprint?: number;
}

export type WriteOp = { op: 'put'; key: Buffer; value: Buffer } | { op: 'delete'; key: Buffer };

export interface Compare {
  key: Buffer;
  /** null: the key must be absent. */
  expected: Buffer | null;
}

export type Command =
  | { type: 'put'; key: Buffer; value: Buffer; session: SessionTag | null; atMs?: number }
  | { type: 'delete'; key: Buffer; session: SessionTag | null; atMs?: number }
  /** value null: delete on success. */
  | {
      type: 'cas';
      key: Buffer;
      expected: Buffer | null;
      value: Buffer | null;
      session: SessionTag | null;
      atMs?: number;
    }
  /** Atomic: if every compare holds, apply every write and return the reads (taken before the writes). */
  | {
      type: 'batch';
      compares: Compare[];
      writes: WriteOp[];
      reads: Buffer[];
      session: SessionTag | null;
      atMs?: number;
    }
  /** Session bookkeeping and no-ops (e.g. membership records of the node layer) go through here. */
  | { type: 'noop'; atMs?: number }
  /**
   * Opens the client session `clientId` (16 random bytes chosen by the client, hex) at seq 0; a session
   * already known is left as it is (a retried registration changes nothing).
   */
  | { type: 'registerSession'; clientId: string; atMs?: number }
  /**
   * Cuts the group's range [start, end) at `splitKey` (issue 10, "Split"): the group keeps [start, splitKey)
   * at epoch `newEpoch`, group `rightGroupId` starts over [splitKey, end) at `newEpoch` with a copy of the
   * session table. Applied only if the group is at `epoch` (the one the split was planned against) and
   * start < splitKey < end; else refused (splitRefused), nothing changed. kv/split-apply.ts applies it.
   * It never carries a client session (`session` is always null): the epoch check makes it apply at most
   * once (a retry of an applied split is planned against an epoch that is gone).
   */
  | {
      type: 'split';
      splitKey: Buffer;
      epoch: number;
      rightGroupId: number;
      newEpoch: number;
      session: null;
      atMs?: number;
    };

/** A KV group's range and epoch (persisted as m/<g>/shard, see codec/command-split.ts). */
export interface GroupShard {
  start: Buffer;
  /** null: unbounded. */
  end: Buffer | null;
  epoch: number;
}

/** Why a split command changed nothing: planned against another epoch, or a key not strictly inside. */
export type SplitRefusal = 'epoch-mismatch' | 'bad-split';

export type CommandResult =
  | { type: 'put' }
  | { type: 'delete'; existed: boolean }
  | { type: 'cas'; succeeded: boolean; current: Buffer | null }
  | { type: 'batch'; succeeded: boolean; values: (Buffer | null)[] }
  | { type: 'noop' }
  /** The session `clientId` is registered (now, or it already was). */
  | { type: 'registerSession'; clientId: string }
  /**
   * Nothing was applied by this command, and the outcome of the write it carries is unknown (an earlier
   * attempt of it may have applied): its session's seq is older than the last remembered one (a newer write
   * of the session superseded the result), or, for a fingerprinted command, the state machine does not know
   * the session (never registered, evicted by count or expired by time). A legacy command (no fingerprint)
   * from an unknown session is applied as a new session's, as older versions did.
   */
  | { type: 'sessionExpired' }
  /** The command reused its session's last seq with a different request (fingerprint): nothing applied. */
  | { type: 'sessionSeqReused'; seq: number }
  /**
   * The entry's data is not a command this version can decode: applied as a no-op (nothing changed, on
   * every replica alike); `message` says why.
   */
  | { type: 'undecodable'; message: string }
  /** A key of the command lies outside the group's range at apply time: nothing was applied (WRONG_SHARD). */
  | { type: 'wrongShard' }
  /**
   * The split applied: this group is now `left`; the host creates group `right.groupId` over `right`.
   * rightState 'created': the split wrote the right-hand group's initial state (applied index, range and
   * epoch, sessions); 'kept': the right-hand group already had newer state on this node (it received a
   * snapshot first), which the split left untouched (kv/split-apply.ts). Either way the host opens the
   * right-hand group's state machine only after this result (a StateMachine opened before it, e.g. for a
   * group known only from a peer's message, holds stale state: reopen it).
   */
  | { type: 'split'; left: GroupShard; right: GroupShard & { groupId: number }; rightState: 'created' | 'kept' }
  /** The split command was refused; nothing changed. `epoch`: the group's epoch now. */
  | { type: 'splitRefused'; rule: SplitRefusal; message: string; epoch: number };

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
