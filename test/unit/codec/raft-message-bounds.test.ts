/**
 * Bounds of the peer wire format (src/codec/raft-message.ts, raft-tuples.ts): every decoded integer is a
 * safe non-negative integer, terms and indexes at most TERM_MAX / INDEX_MAX, node ids valid, group ids
 * 32-bit, message types, entry kinds and change types known, sizes bounded; anything else is
 * INVALID_ARGUMENT on the wire and CORRUPTION in a stored record.
 */
import { describe, expect, it } from 'vitest';
import { TesseraError } from '../../../src/base';
import {
  decodeEntry,
  decodeHardState,
  decodeRaftMessage,
  decodeRaftMessageBatch,
  encodeHardState,
  encodeRaftMessage,
} from '../../../src/codec';
import { packr } from '../../../src/codec/packr';
import { RAFT_MESSAGE_BYTES_MAX } from '../../../src/codec/raft-message';
import { CHANGE_CONTEXT_BYTES_MAX, CONFIG_IDS_MAX } from '../../../src/codec/raft-tuples';
import { encodeRecord } from '../../../src/codec/record';
import { APPEND_ENTRIES_MAX, INDEX_MAX, TERM_MAX } from '../../../src/raft';
import type { Entry, Message } from '../../../src/raft';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TesseraError);
    return (e as TesseraError).code;
  }
  return 'no error';
}

const rejected = (m: unknown, groupId = 1): string =>
  codeOf(() => decodeRaftMessage(encodeRaftMessage({ groupId, message: m as Message })));
const rejectedTuple = (t: unknown[]): string => codeOf(() => decodeRaftMessage(packr.pack(t)));
const roundTrips = (m: Message): void => {
  expect(decodeRaftMessage(encodeRaftMessage({ groupId: 7, message: m }))).toEqual({ groupId: 7, message: m });
};

const append = (over: Record<string, unknown>): unknown => ({
  type: 'append',
  from: 1,
  to: 2,
  term: 5,
  prevLogIndex: 9,
  prevLogTerm: 4,
  entries: [{ kind: 'empty', term: 5, index: 10 }],
  commit: 8,
  ...over,
});
const config = { voters: [1, 2, 3], learners: [], votersOutgoing: [] };
const snapshot = (meta: Record<string, unknown>): unknown => ({
  type: 'snapshot',
  from: 1,
  to: 2,
  term: 5,
  snapshot: { meta: { index: 100, term: 4, config, ...meta }, data: Buffer.from('x') },
});

describe('raft message decoding bounds', () => {
  it('accepts terms and indexes up to the limits', () => {
    roundTrips({
      type: 'vote',
      from: 1,
      to: 2,
      term: TERM_MAX,
      lastLogIndex: INDEX_MAX,
      lastLogTerm: TERM_MAX,
      transfer: false,
    });
    roundTrips({
      type: 'appendResp',
      from: 0xffff_ffff,
      to: 1,
      term: TERM_MAX,
      reject: true,
      index: INDEX_MAX,
      rejectHint: INDEX_MAX,
      hintTerm: TERM_MAX,
    });
    roundTrips(
      append({
        prevLogIndex: INDEX_MAX - 1,
        entries: [{ kind: 'empty', term: TERM_MAX, index: INDEX_MAX }],
        commit: INDEX_MAX,
      }) as Message,
    );
  });

  it('refuses a term past TERM_MAX in every field that holds one', () => {
    for (const bad of [TERM_MAX + 1, 2 ** 53 - 2, Number.MAX_SAFE_INTEGER]) {
      expect(rejected({ type: 'timeoutNow', from: 1, to: 2, term: bad })).toBe('INVALID_ARGUMENT');
      expect(rejected({ type: 'preVote', from: 1, to: 2, term: 5, lastLogIndex: 3, lastLogTerm: bad })).toBe(
        'INVALID_ARGUMENT',
      );
      expect(rejected(append({ prevLogTerm: bad }))).toBe('INVALID_ARGUMENT');
      expect(rejected(append({ entries: [{ kind: 'empty', term: bad, index: 10 }] }))).toBe('INVALID_ARGUMENT');
      expect(
        rejected({ type: 'appendResp', from: 2, to: 1, term: 5, reject: true, index: 9, rejectHint: 7, hintTerm: bad }),
      ).toBe('INVALID_ARGUMENT');
      expect(rejected(snapshot({ term: bad }))).toBe('INVALID_ARGUMENT');
    }
  });

  it('refuses an index past INDEX_MAX in every field that holds one', () => {
    const bad = INDEX_MAX + 1;
    expect(
      rejected({ type: 'vote', from: 1, to: 2, term: 5, lastLogIndex: bad, lastLogTerm: 4, transfer: false }),
    ).toBe('INVALID_ARGUMENT');
    expect(rejected(append({ prevLogIndex: bad }))).toBe('INVALID_ARGUMENT');
    expect(rejected(append({ commit: bad }))).toBe('INVALID_ARGUMENT');
    expect(rejected(append({ entries: [{ kind: 'empty', term: 5, index: bad }] }))).toBe('INVALID_ARGUMENT');
    for (const field of ['index', 'rejectHint']) {
      const m = {
        type: 'appendResp',
        from: 2,
        to: 1,
        term: 5,
        reject: true,
        index: 9,
        rejectHint: 7,
        hintTerm: 3,
        [field]: bad,
      };
      expect(rejected(m)).toBe('INVALID_ARGUMENT');
    }
    expect(rejected({ type: 'heartbeat', from: 1, to: 2, term: 5, commit: bad, context: 0 })).toBe('INVALID_ARGUMENT');
    expect(rejected(snapshot({ index: bad }))).toBe('INVALID_ARGUMENT');
  });

  it('refuses negative, fractional, non-finite and non-numeric integers', () => {
    for (const bad of [-1, 1.5, Number.NaN, Infinity, '5', null, true]) {
      expect(rejected({ type: 'timeoutNow', from: 1, to: 2, term: bad })).toBe('INVALID_ARGUMENT');
      expect(rejected({ type: 'heartbeat', from: 1, to: 2, term: 5, commit: 3, context: bad })).toBe(
        'INVALID_ARGUMENT',
      );
    }
  });

  it('refuses node ids that are not valid node ids, and group ids past 32 bits', () => {
    for (const bad of [0, -1, 2 ** 32, 1.5]) {
      expect(rejected({ type: 'timeoutNow', from: bad, to: 2, term: 5 })).toBe('INVALID_ARGUMENT');
      expect(rejected({ type: 'timeoutNow', from: 1, to: bad, term: 5 })).toBe('INVALID_ARGUMENT');
      expect(rejected(snapshot({ config: { voters: [1, bad], learners: [], votersOutgoing: [] } }))).toBe(
        'INVALID_ARGUMENT',
      );
      const change = { type: 'addVoter', node: bad };
      expect(rejected(append({ entries: [{ kind: 'config', term: 5, index: 10, change }] }))).toBe('INVALID_ARGUMENT');
    }
    expect(rejected({ type: 'timeoutNow', from: 1, to: 2, term: 5 }, 2 ** 32)).toBe('INVALID_ARGUMENT');
  });

  it('refuses unknown message types, entry kinds and membership change types', () => {
    expect(rejectedTuple([1, 10, 1, 2, 5])).toBe('INVALID_ARGUMENT');
    expect(rejectedTuple([1, -1, 1, 2, 5])).toBe('INVALID_ARGUMENT');
    expect(rejectedTuple([1, 'append', 1, 2, 5])).toBe('INVALID_ARGUMENT');
    expect(rejectedTuple([1, 4, 1, 2, 5, 9, 4, [[3, 5, 10]], 8])).toBe('INVALID_ARGUMENT');
    expect(rejectedTuple([1, 4, 1, 2, 5, 9, 4, [[2, 5, 10, 3, 4, null, null]], 8])).toBe('INVALID_ARGUMENT');
    // The same tuples with known codes decode.
    expect(decodeRaftMessage(packr.pack([1, 4, 1, 2, 5, 9, 4, [[1, 5, 10]], 8])).message.type).toBe('append');
    expect(decodeRaftMessage(packr.pack([1, 4, 1, 2, 5, 9, 4, [[2, 5, 10, 2, 4, null, null]], 8])).message.type).toBe(
      'append',
    );
  });

  it('bounds sizes: entries per append, ids per config list, change context bytes, message bytes', () => {
    const entries = (n: number): Entry[] =>
      Array.from({ length: n }, (_, i) => ({ kind: 'empty', term: 5, index: 10 + i }));
    expect(
      decodeRaftMessage(
        encodeRaftMessage({ groupId: 1, message: append({ entries: entries(APPEND_ENTRIES_MAX) }) as Message }),
      ).message.type,
    ).toBe('append');
    expect(rejected(append({ entries: entries(APPEND_ENTRIES_MAX + 1) }))).toBe('INVALID_ARGUMENT');
    const ids = Array.from({ length: CONFIG_IDS_MAX + 1 }, (_, i) => i + 1);
    expect(rejected(snapshot({ config: { voters: [1], learners: ids, votersOutgoing: [] } }))).toBe('INVALID_ARGUMENT');
    const change = { type: 'addLearner', node: 4, context: Buffer.alloc(CHANGE_CONTEXT_BYTES_MAX + 1) };
    expect(rejected(append({ entries: [{ kind: 'config', term: 5, index: 10, change }] }))).toBe('INVALID_ARGUMENT');
    const huge = Buffer.alloc(RAFT_MESSAGE_BYTES_MAX + 1);
    expect(codeOf(() => decodeRaftMessage(huge))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => decodeRaftMessageBatch(huge))).toBe('INVALID_ARGUMENT');
  });
});

describe('stored raft records use the same bounds', () => {
  it('a hard state past the limits, or voting for an invalid id, is a corrupt record', () => {
    expect(decodeHardState(encodeHardState({ term: TERM_MAX, vote: 0, commit: INDEX_MAX }))).toEqual({
      term: TERM_MAX,
      vote: 0,
      commit: INDEX_MAX,
    });
    expect(codeOf(() => decodeHardState(encodeRecord([2 ** 53 - 2, 1, 5])))).toBe('CORRUPTION');
    expect(codeOf(() => decodeHardState(encodeRecord([5, 1, INDEX_MAX + 1])))).toBe('CORRUPTION');
    expect(codeOf(() => decodeHardState(encodeRecord([5, 2 ** 32, 5])))).toBe('CORRUPTION');
    expect(codeOf(() => decodeEntry(encodeRecord([1, TERM_MAX + 1, 5])))).toBe('CORRUPTION');
  });
});

describe('the quiesce flag of a heartbeat (node/quiescence.ts)', () => {
  it('round-trips when set, is absent when not, and an older 7-element heartbeat still decodes', () => {
    roundTrips({ type: 'heartbeat', from: 1, to: 2, term: 5, commit: 3, context: 0, quiesce: true });
    roundTrips({ type: 'heartbeat', from: 1, to: 2, term: 5, commit: 3, context: 0 });
    const plain = decodeRaftMessage(packr.pack([4, 6, 1, 2, 5, 3, 0]));
    expect(plain.message).toEqual({ type: 'heartbeat', from: 1, to: 2, term: 5, commit: 3, context: 0 });
  });

  it('refuses a flag that is not a boolean', () => {
    expect(rejectedTuple([4, 6, 1, 2, 5, 3, 0, 'yes'])).toBe('INVALID_ARGUMENT');
  });
});
