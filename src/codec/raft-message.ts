/**
 * Wire format of peer Raft messages (for transport/): one msgpackr array per message,
 *   [groupId, typeCode, from, to, term, ...type-specific fields in declaration order]
 * Entries are entry tuples (raft-tuples.ts) with their data as msgpack bin, decoded as Buffer views of the
 * input (no copy). Decoding validates the shape and throws INVALID_ARGUMENT on malformed input (peer data
 * is untrusted input, not stored data).
 */
import { TesseraError, unreachable } from '../base';
import type { Message } from '../raft';
import { packr } from './packr';
import { entryTuple, snapshotMetaTuple, toEntry, toSnapshotMeta } from './raft-tuples';
import { ShapeError, arr, bool, bytes, fail, uint } from './shape';

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
      return [groupId, 6, m.from, m.to, m.term, m.commit, m.context];
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
  const groupId = uint(t[0], 'groupId');
  const from = uint(t[2], 'from');
  const to = uint(t[3], 'to');
  const term = uint(t[4], 'term');
  const type = CODES[uint(t[1], 'type')];
  let message: Message;
  switch (type) {
    case 'preVote':
      message = { type, from, to, term, lastLogIndex: uint(t[5], 'lastLogIndex'), lastLogTerm: uint(t[6], 'lastLogTerm') };
      break;
    case 'preVoteResp':
      message = { type, from, to, term, reject: bool(t[5], 'reject') };
      break;
    case 'vote':
      message = {
        type,
        from,
        to,
        term,
        lastLogIndex: uint(t[5], 'lastLogIndex'),
        lastLogTerm: uint(t[6], 'lastLogTerm'),
        transfer: bool(t[7], 'transfer'),
      };
      break;
    case 'voteResp':
      message = { type, from, to, term, reject: bool(t[5], 'reject') };
      break;
    case 'append':
      message = {
        type,
        from,
        to,
        term,
        prevLogIndex: uint(t[5], 'prevLogIndex'),
        prevLogTerm: uint(t[6], 'prevLogTerm'),
        entries: arr(t[7], 'entries').map(toEntry),
        commit: uint(t[8], 'commit'),
      };
      break;
    case 'appendResp':
      message = {
        type,
        from,
        to,
        term,
        reject: bool(t[5], 'reject'),
        index: uint(t[6], 'index'),
        rejectHint: uint(t[7], 'rejectHint'),
        hintTerm: uint(t[8], 'hintTerm'),
      };
      break;
    case 'heartbeat':
      message = { type, from, to, term, commit: uint(t[5], 'commit'), context: uint(t[6], 'context') };
      break;
    case 'heartbeatResp':
      message = { type, from, to, term, context: uint(t[5], 'context') };
      break;
    case 'snapshot':
      message = { type, from, to, term, snapshot: { meta: toSnapshotMeta(t[5]), data: bytes(t[6], 'snapshot data') } };
      break;
    case 'timeoutNow':
      message = { type, from, to, term };
      break;
    default:
      return fail(`unknown raft message type ${String(t[1])}`);
  }
  return { groupId, message };
}

function invalid(e: unknown): TesseraError {
  const why = e instanceof ShapeError ? e.message : (e as Error).message;
  return new TesseraError('INVALID_ARGUMENT', `malformed raft message: ${why}`);
}

export function encodeRaftMessage(envelope: RaftEnvelope): Buffer {
  return packr.pack(envelopeTuple(envelope));
}

export function decodeRaftMessage(buf: Uint8Array): RaftEnvelope {
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
  try {
    return arr(packr.unpack(buf), 'batch').map(toEnvelope);
  } catch (e) {
    throw invalid(e);
  }
}
