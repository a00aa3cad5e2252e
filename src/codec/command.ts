/**
 * The replicated state machine's commands (the data of normal Raft entries) and results, as compact
 * msgpackr tuples. Buffers are preserved (decoded as Buffers viewing the input).
 *
 * Command tuples (session s = null | [clientId, seq, fingerprint?]; t = atMs, the proposer's wall clock in ms):
 *   noop [0, t?] | put [1, key, value, s, t?] | delete [2, key, s, t?] | cas [3, key, expected|null, value|null, s, t?]
 *   batch [4, [[key, expected|null]...], [[0, key, value] | [1, key]...], [key...], s, t?]
 *   registerSession [5, clientId, t?]
 *   split [6, splitKey, epoch, rightGroupId, newEpoch, t?]   (command-split.ts)
 * Result tuples:
 *   noop [0] | put [1] | delete [2, existed] | cas [3, succeeded, current|null]
 *   batch [4, succeeded, [value|null...]] | sessionExpired [5] | wrongShard [6]
 *   registerSession [7, clientId] | sessionSeqReused [8, seq] | undecodable [9, message]
 *   split [10, ...] | splitRefused [11, ...]   (command-split.ts)
 * Session record (m/<g>/sessions/<clientId>): [seq, lastIndex, result tuple, lastSeenMs|null?, fingerprint?]
 * (lastSeenMs is written as null when a fingerprint follows it and no time was known).
 *
 * Request fingerprint: commandFingerprint(c) = CRC32C of the msgpack body of the command with session null
 * and no time, so a retry of the same request has the same fingerprint on every node and replica. It guards
 * against a client's own mistake (one seq reused for two requests), not an adversary: the only client a
 * collision could fool is the one that reused its seq.
 *
 * Compatibility: optional fields are trailing tuple elements, written only when present. A tuple without
 * them (encoded by an older version) decodes with the field absent (a command without time information or
 * fingerprint, a session record without a last-use time or fingerprint); decoders read fields by position,
 * so older decoders ignore them.
 */
import { TesseraError, unreachable } from '../base';
import type { Command, CommandResult, Compare, SessionTag, WriteOp } from './command-types';
import { splitCommandBody, splitResultTuple, toSplitCommand, toSplitResult } from './command-split';
import { crc32c } from './crc32c';
import { decodeShaped } from './raft-records';
import { encodeRecord } from './record';
import { packr } from './packr';
import { ShapeError, arr, bool, bytes, bytesOrNull, fail, str, uint } from './shape';

function sessionTuple(s: SessionTag | null): unknown {
  if (s === null) return null;
  return s.fingerprint === undefined ? [s.clientId, s.seq] : [s.clientId, s.seq, s.fingerprint];
}

function toSession(v: unknown): SessionTag | null {
  if (v === null) return null;
  const t = arr(v, 'session');
  const s: SessionTag = { clientId: str(t[0], 'clientId'), seq: uint(t[1], 'seq') };
  if (t[2] !== undefined) s.fingerprint = fingerprintOf(t[2]);
  return s;
}

function fingerprintOf(v: unknown): number {
  const f = uint(v, 'fingerprint');
  if (f > 0xffff_ffff) fail('fingerprint: expected a 32-bit value');
  return f;
}

/** Appends the optional trailing atMs of a command tuple. */
function stamped(tuple: unknown[], atMs: number | undefined): unknown[] {
  if (atMs !== undefined) tuple.push(atMs);
  return tuple;
}

/** The command with its atMs set from the tuple's trailing element `v` (undefined: no time information). */
function withTime<C extends Command>(c: C, v: unknown): C {
  if (v !== undefined) c.atMs = uint(v, 'atMs');
  return c;
}

export function commandTuple(c: Command): unknown[] {
  return stamped(commandBody(c, true), c.atMs);
}

/** The tuple of `c` without its time; without its session too unless `withSession`. */
function commandBody(c: Command, withSession: boolean): unknown[] {
  switch (c.type) {
    case 'noop':
      return [0];
    case 'put':
      return [1, c.key, c.value, withSession ? sessionTuple(c.session) : null];
    case 'delete':
      return [2, c.key, withSession ? sessionTuple(c.session) : null];
    case 'cas':
      return [3, c.key, c.expected, c.value, withSession ? sessionTuple(c.session) : null];
    case 'batch':
      return [
        4,
        c.compares.map((x) => [x.key, x.expected]),
        c.writes.map((w) => (w.op === 'put' ? [0, w.key, w.value] : [1, w.key])),
        c.reads,
        withSession ? sessionTuple(c.session) : null,
      ];
    case 'registerSession':
      return [5, c.clientId];
    case 'split':
      return splitCommandBody(c);
    default:
      return unreachable(c, 'command');
  }
}

/** The request fingerprint of a command (header): CRC32C of its tuple without session and time. */
export function commandFingerprint(c: Command): number {
  return crc32c(packr.pack(commandBody(c, false)));
}

/** `c` with its session (if any) carrying the command's fingerprint: the form this version proposes. */
export function withFingerprint<C extends Command>(c: C): C {
  if (!('session' in c) || c.session === null) return c;
  return { ...c, session: { clientId: c.session.clientId, seq: c.session.seq, fingerprint: commandFingerprint(c) } };
}

export function toCommand(v: unknown): Command {
  const t = arr(v, 'command');
  switch (t[0]) {
    case 0:
      return withTime({ type: 'noop' }, t[1]);
    case 1:
      return withTime(
        { type: 'put', key: bytes(t[1], 'key'), value: bytes(t[2], 'value'), session: toSession(t[3]) },
        t[4],
      );
    case 2:
      return withTime({ type: 'delete', key: bytes(t[1], 'key'), session: toSession(t[2]) }, t[3]);
    case 3:
      return withTime(
        {
          type: 'cas',
          key: bytes(t[1], 'key'),
          expected: bytesOrNull(t[2], 'expected'),
          value: bytesOrNull(t[3], 'value'),
          session: toSession(t[4]),
        },
        t[5],
      );
    case 4: {
      const compares: Compare[] = arr(t[1], 'compares').map((x) => {
        const c = arr(x, 'compare');
        return { key: bytes(c[0], 'compare key'), expected: bytesOrNull(c[1], 'compare expected') };
      });
      const writes: WriteOp[] = arr(t[2], 'writes').map((x) => {
        const w = arr(x, 'write');
        if (w[0] === 0) return { op: 'put', key: bytes(w[1], 'write key'), value: bytes(w[2], 'write value') };
        if (w[0] === 1) return { op: 'delete', key: bytes(w[1], 'write key') };
        return fail(`unknown write op ${String(w[0])}`);
      });
      const reads = arr(t[3], 'reads').map((x) => bytes(x, 'read key'));
      return withTime({ type: 'batch', compares, writes, reads, session: toSession(t[4]) }, t[5]);
    }
    case 5:
      return withTime({ type: 'registerSession', clientId: str(t[1], 'clientId') }, t[2]);
    case 6:
      return withTime(toSplitCommand(t), t[5]);
    default:
      return fail(`unknown command type ${String(t[0])}`);
  }
}

/**
 * The bytes of a normal entry carrying `command`, in a buffer of their own: packr.pack returns a view into
 * its shared target, which later packs (1 MiB Raft messages among them) keep filling, so an entry kept in
 * the Raft log would pin megabytes of unrelated bytes (a 64 KiB write held ~5x its size on the leader).
 */
export function encodeCommand(command: Command): Uint8Array {
  return Buffer.from(packr.pack(commandTuple(command)));
}

/** The command in a normal entry's data; throws CORRUPTION if the bytes are not a command. */
export function decodeCommand(data: Uint8Array): Command {
  try {
    return toCommand(packr.unpack(data));
  } catch (e) {
    if (e instanceof ShapeError) throw new TesseraError('CORRUPTION', `undecodable command: ${e.message}`);
    throw new TesseraError('CORRUPTION', `undecodable command: ${(e as Error).message}`);
  }
}

export function resultTuple(r: CommandResult): unknown[] {
  switch (r.type) {
    case 'noop':
      return [0];
    case 'put':
      return [1];
    case 'delete':
      return [2, r.existed];
    case 'cas':
      return [3, r.succeeded, r.current];
    case 'batch':
      return [4, r.succeeded, r.values];
    case 'sessionExpired':
      return [5];
    case 'wrongShard':
      return [6];
    case 'registerSession':
      return [7, r.clientId];
    case 'sessionSeqReused':
      return [8, r.seq];
    case 'undecodable':
      return [9, r.message];
    case 'split':
    case 'splitRefused':
      return splitResultTuple(r);
    default:
      return unreachable(r, 'command result');
  }
}

export function toResult(v: unknown): CommandResult {
  const t = arr(v, 'result');
  switch (t[0]) {
    case 0:
      return { type: 'noop' };
    case 1:
      return { type: 'put' };
    case 2:
      return { type: 'delete', existed: bool(t[1], 'existed') };
    case 3:
      return { type: 'cas', succeeded: bool(t[1], 'succeeded'), current: bytesOrNull(t[2], 'current') };
    case 4:
      return {
        type: 'batch',
        succeeded: bool(t[1], 'succeeded'),
        values: arr(t[2], 'values').map((x) => bytesOrNull(x, 'value')),
      };
    case 5:
      return { type: 'sessionExpired' };
    case 6:
      return { type: 'wrongShard' };
    case 7:
      return { type: 'registerSession', clientId: str(t[1], 'clientId') };
    case 8:
      return { type: 'sessionSeqReused', seq: uint(t[1], 'seq') };
    case 9:
      return { type: 'undecodable', message: str(t[1], 'message') };
    case 10:
    case 11:
      return toSplitResult(t);
    default:
      return fail(`unknown result type ${String(t[0])}`);
  }
}

/** What the state machine remembers of a client session. */
export interface SessionRecord {
  seq: number;
  /** Log index of the last command of this session (its position in the LRU order). */
  lastIndex: number;
  result: CommandResult;
  /**
   * The log clock (ms, time from the log, see kv/session-table.ts) at the session's last use. Absent: no
   * time was known then (the record was stored by an older version, or no command had carried time yet).
   */
  lastSeenMs?: number;
  /**
   * The fingerprint of the request that produced `result` (SessionTag.fingerprint). Absent: the session was
   * just registered, its last write was a legacy command, or the record was stored by an older version.
   */
  fingerprint?: number;
}

export function encodeSessionRecord(s: SessionRecord): Buffer {
  const t: unknown[] = [s.seq, s.lastIndex, resultTuple(s.result)];
  if (s.lastSeenMs !== undefined) t.push(s.lastSeenMs);
  if (s.fingerprint !== undefined) {
    if (s.lastSeenMs === undefined) t.push(null);
    t.push(s.fingerprint);
  }
  return encodeRecord(t);
}

export function decodeSessionRecord(buf: Uint8Array, keyForError: string): SessionRecord {
  return decodeShaped(buf, keyForError, (v) => {
    const t = arr(v, 'session record');
    const rec: SessionRecord = { seq: uint(t[0], 'seq'), lastIndex: uint(t[1], 'lastIndex'), result: toResult(t[2]) };
    if (t[3] !== undefined && (t[3] !== null || t[4] === undefined)) rec.lastSeenMs = uint(t[3], 'lastSeenMs');
    if (t[4] !== undefined) rec.fingerprint = fingerprintOf(t[4]);
    return rec;
  });
}
