import { describe, expect, it } from 'vitest';
import {
  decodeCommand,
  decodeRaftMessage,
  decodeRaftMessageBatch,
  encodeCommand,
  encodeRaftMessage,
  encodeRaftMessageBatch,
} from '../../../src/codec';
import type { Command } from '../../../src/codec';
import type { Message } from '../../../src/raft';

const b = (s: string): Buffer => Buffer.from(s);

describe('commands', () => {
  it('round-trips every command with Buffers preserved', () => {
    const cmds: Command[] = [
      { type: 'noop' },
      { type: 'put', key: b('k'), value: Buffer.from([0, 255]), session: { clientId: 'ab'.repeat(16), seq: 7 } },
      { type: 'put', key: b('k'), value: Buffer.alloc(0), session: null },
      { type: 'delete', key: b('k'), session: null },
      { type: 'cas', key: b('k'), expected: null, value: b('v'), session: { clientId: 'c', seq: 1 } },
      { type: 'cas', key: b('k'), expected: b('x'), value: null, session: null },
      {
        type: 'batch',
        compares: [
          { key: b('a'), expected: b('1') },
          { key: b('b'), expected: null },
        ],
        writes: [
          { op: 'put', key: b('a'), value: b('2') },
          { op: 'delete', key: b('c') },
        ],
        reads: [b('a'), b('z')],
        session: { clientId: 'd', seq: 2 ** 40 },
      },
    ];
    for (const c of cmds) {
      const back = decodeCommand(encodeCommand(c));
      expect(back).toEqual(c);
      if (back.type === 'put') expect(Buffer.isBuffer(back.value)).toBe(true);
    }
  });

  it('is compact: a put of a 3-byte key, a 256-byte value and a 32-char session id is under 310 bytes', () => {
    const bytes = encodeCommand({
      type: 'put',
      key: b('abc'),
      value: Buffer.alloc(256, 1),
      session: { clientId: 'ab'.repeat(16), seq: 12345 },
    });
    expect(bytes.length).toBeLessThan(310);
    expect(bytes.length).toBeGreaterThan(256);
  });

  it('rejects garbage as CORRUPTION', () => {
    expect(() => decodeCommand(Buffer.from([0x93, 1, 2, 3]))).toThrow(/undecodable command/);
    expect(() => decodeCommand(Buffer.from([0xc1]))).toThrow(/undecodable command/);
  });
});

describe('raft messages', () => {
  const msgs: Message[] = [
    { type: 'preVote', from: 1, to: 2, term: 3, lastLogIndex: 10, lastLogTerm: 2 },
    { type: 'preVoteResp', from: 2, to: 1, term: 3, reject: true },
    { type: 'vote', from: 1, to: 2, term: 3, lastLogIndex: 10, lastLogTerm: 2, transfer: true },
    { type: 'voteResp', from: 2, to: 1, term: 3, reject: false },
    {
      type: 'append',
      from: 1,
      to: 3,
      term: 5,
      prevLogIndex: 9,
      prevLogTerm: 4,
      entries: [
        { kind: 'normal', term: 5, index: 10, data: Buffer.from('cmd') },
        { kind: 'empty', term: 5, index: 11 },
        { kind: 'config', term: 5, index: 12, change: { type: 'addVoter', node: 4, context: Buffer.from('addr') } },
      ],
      commit: 8,
    },
    { type: 'appendResp', from: 3, to: 1, term: 5, reject: true, index: 9, rejectHint: 7, hintTerm: 3 },
    { type: 'heartbeat', from: 1, to: 2, term: 5, commit: 11, context: 42 },
    { type: 'heartbeatResp', from: 2, to: 1, term: 5, context: 42 },
    {
      type: 'snapshot',
      from: 1,
      to: 2,
      term: 5,
      snapshot: {
        meta: { index: 100, term: 4, config: { voters: [1, 2, 3], learners: [4], votersOutgoing: [] } },
        data: Buffer.from('token'),
      },
    },
    { type: 'timeoutNow', from: 1, to: 2, term: 5 },
  ];

  it('round-trips every message type with its group', () => {
    for (const [i, m] of msgs.entries()) {
      expect(decodeRaftMessage(encodeRaftMessage({ groupId: i + 1, message: m }))).toEqual({
        groupId: i + 1,
        message: m,
      });
    }
    const envs = msgs.map((message, i) => ({ groupId: 1000 + i, message }));
    expect(decodeRaftMessageBatch(encodeRaftMessageBatch(envs))).toEqual(envs);
  });

  it('rejects malformed peer input as INVALID_ARGUMENT', () => {
    const good = encodeRaftMessage({ groupId: 1, message: msgs[0] as Message });
    expect(() => decodeRaftMessage(good.subarray(0, good.length - 1))).toThrow(/malformed raft message/);
    expect(() => decodeRaftMessage(Buffer.from([0x93, 1, 99, 1]))).toThrow(/malformed raft message/);
    let code = '';
    try {
      decodeRaftMessage(Buffer.from([0x92, 1, 'x'.charCodeAt(0)]));
    } catch (e) {
      code = (e as { code: string }).code;
    }
    expect(code).toBe('INVALID_ARGUMENT');
  });

  it('keeps a heartbeat small', () => {
    expect(encodeRaftMessage({ groupId: 1, message: msgs[6] as Message }).length).toBeLessThan(16);
  });
});
