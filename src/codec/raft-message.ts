/**
 * Wire format of peer Raft messages (for transport/): one msgpackr array per message,
 *   [groupId, typeCode, from, to, term, ...type-specific fields in declaration order]
 * Entries are entry tuples (raft-tuples.ts) with their data as msgpack bin, decoded as Buffer views of the
 * input (no copy). Decoding validates the shape and throws INVALID_ARGUMENT on malformed input (peer data
 * is untrusted input, not stored data): every integer a safe non-negative integer, terms at most TERM_MAX
 * and indexes at most INDEX_MAX (raft/limits.ts), node ids valid, group ids 32-bit, known message types,
 * entry kinds and change types, at most APPEND_ENTRIES_MAX entries and RAFT_MESSAGE_BYTES_MAX bytes.
 * What the fields mean together (contiguous entries, acks within the log) is checked by the core's step.
 */
import { TesseraError, unreachable } from '../base';
import { APPEND_ENTRIES_MAX } from '../raft';
import type { Message } from '../raft';
import { packr } from './packr';
import { entryTuple, index, snapshotMetaTuple, term, toEntry, toSnapshotMeta } from './raft-tuples';
import { ShapeError, arr, arrAtMost, bool, bytes, fail, nodeId, uint, uintAtMost } from './shape';

/** The largest encoded message or batch accepted (the peer transport's gRPC message limit). */
export const RAFT_MESSAGE_BYTES_MAX = 64 * 1024 * 1024;
const GROUP_ID_MAX = 0xffff_ffff;

export interface RaftEnvelope {
  groupId: number;
  message: Message;
}

const CODES = [
  'preVote',
  'preVoteResp',
  'vote',
  'voteResp',
  'append',
  'appendResp',
  'heartbeat',
  'heartbeatResp',
  'snapshot',
  'timeoutNow',
] as const;

function envelopeTuple({ groupId, message: m }: RaftEnvelope): unknown[] {
  switch (m.type) {
    case 'preVote':
      return [groupId, 0, m.from, m.to, m.term, m.lastLogIndex, m.lastLogTerm];
    case 'preVoteResp':
      return [groupId, 1, m.from, m.to, m.term, m.reject];
    case 'vote':
      return [groupId, 2, m.from, m.to, m.term, m.lastLogIndex, m.lastLogTerm, m.transfer];
    case 'voteResp':
      return [groupId, 3, m.from, m.to, m.term, m.reject];
    case 'append':
      return [groupId, 4, m.from, m.to, m.term, m.prevLogIndex, m.prevLogTerm, m.entries.map(entryTuple), m.commit];
    case 'appendResp':
      return [groupId, 5, m.from, m.to, m.term, m.reject, m.index, m.rejectHint, m.hintTerm];
    case 'heartbeat':
      // The quiesce flag is an optional 8th element (older decoders ignore it).
      return m.quiesce === true
        ? [groupId, 6, m.from, m.to, m.term, m.commit, m.context, true]
        : [groupId, 6, m.from, m.to, m.term, m.commit, m.context];
    case 'heartbeatResp':
      return [groupId, 7, m.from, m.to, m.term, m.context];
    case 'snapshot':
      return [groupId, 8, m.from, m.to, m.term, snapshotMetaTuple(m.snapshot.meta), m.snapshot.data];
    case 'timeoutNow':
      return [groupId, 9, m.from, m.to, m.term];
    default:
      return unreachable(m, 'raft message');
  }
}

function toEnvelope(v: unknown): RaftEnvelope {
  const t = arr(v, 'raft message');
  const groupId = uintAtMost(t[0], GROUP_ID_MAX, 'groupId');
  const type = CODES[uint(t[1], 'type')];
  if (type === undefined) return fail(`unknown raft message type ${String(t[1])}`);
  const from = nodeId(t[2], 'from');
  const to = nodeId(t[3], 'to');
  const mTerm = term(t[4], 'term');
  let message: Message;
  switch (type) {
    case 'preVote':
      message = {
        type,
        from,
        to,
        term: mTerm,
        lastLogIndex: index(t[5], 'lastLogIndex'),
        lastLogTerm: term(t[6], 'lastLogTerm'),
      };
      break;
    case 'preVoteResp':
      message = { type, from, to, term: mTerm, reject: bool(t[5], 'reject') };
      break;
    case 'vote':
      message = {
        type,
        from,
        to,
        term: mTerm,
        lastLogIndex: index(t[5], 'lastLogIndex'),
        lastLogTerm: term(t[6], 'lastLogTerm'),
        transfer: bool(t[7], 'transfer'),
      };
      break;
    case 'voteResp':
      message = { type, from, to, term: mTerm, reject: bool(t[5], 'reject') };
      break;
    case 'append':
      message = {
        type,
        from,
        to,
        term: mTerm,
        prevLogIndex: index(t[5], 'prevLogIndex'),
        prevLogTerm: term(t[6], 'prevLogTerm'),
        entries: arrAtMost(t[7], APPEND_ENTRIES_MAX, 'entries').map(toEntry),
        commit: index(t[8], 'commit'),
      };
      break;
    case 'appendResp':
      message = {
        type,
        from,
        to,
        term: mTerm,
        reject: bool(t[5], 'reject'),
        index: index(t[6], 'index'),
        rejectHint: index(t[7], 'rejectHint'),
        hintTerm: term(t[8], 'hintTerm'),
      };
      break;
    case 'heartbeat':
      message = { type, from, to, term: mTerm, commit: index(t[5], 'commit'), context: uint(t[6], 'context') };
      if (t.length > 7 && bool(t[7], 'quiesce')) message.quiesce = true;
      break;
    case 'heartbeatResp':
      message = { type, from, to, term: mTerm, context: uint(t[5], 'context') };
      break;
    case 'snapshot':
      message = {
        type,
        from,
        to,
        term: mTerm,
        snapshot: { meta: toSnapshotMeta(t[5]), data: bytes(t[6], 'snapshot data') },
      };
      break;
    case 'timeoutNow':
      message = { type, from, to, term: mTerm };
      break;
    default:
      return unreachable(type, 'raft message type');
  }
  return { groupId, message };
}

function invalid(e: unknown): TesseraError {
  const why = e instanceof ShapeError ? e.message : (e as Error).message;
  return new TesseraError('INVALID_ARGUMENT', `malformed raft message: ${why}`);
}

/**
 * One message in a buffer of its own (like encodeCommand): packr.pack returns a view into its shared target,
 * and a message queued for a peer that does not read (its outbox, HTTP/2 buffers) would pin the whole
 * target, with every message and command encoded into it since.
 */
export function encodeRaftMessage(envelope: RaftEnvelope): Buffer {
  return Buffer.from(packr.pack(envelopeTuple(envelope)));
}

function checkSize(buf: Uint8Array): void {
  if (buf.length > RAFT_MESSAGE_BYTES_MAX) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `malformed raft message: ${buf.length} bytes, over the limit of ${RAFT_MESSAGE_BYTES_MAX}`,
    );
  }
}

export function decodeRaftMessage(buf: Uint8Array): RaftEnvelope {
  checkSize(buf);
  try {
    return toEnvelope(packr.unpack(buf));
  } catch (e) {
    throw invalid(e);
  }
}

/** Several messages (any groups) in one buffer, for batched peer streams. */
export function encodeRaftMessageBatch(envelopes: readonly RaftEnvelope[]): Buffer {
  return packr.pack(envelopes.map(envelopeTuple));
}

export function decodeRaftMessageBatch(buf: Uint8Array): RaftEnvelope[] {
  checkSize(buf);
  try {
    return arr(packr.unpack(buf), 'batch').map(toEnvelope);
  } catch (e) {
    throw invalid(e);
  }
}
