/**
 * The optional time fields of commands (atMs) and session records (lastSeenMs): round trips, and the
 * compatible extension of the older tuples (trailing elements, absent in data of older versions).
 */
import { describe, expect, it } from 'vitest';
import {
  decodeCommand,
  decodeSessionRecord,
  encodeCommand,
  encodeRecord,
  encodeSessionRecord,
} from '../../../src/codec';
import type { Command } from '../../../src/codec';
import { packr } from '../../../src/codec/packr';

const b = (s: string): Buffer => Buffer.from(s);
const AT = 1_700_000_123_456;

const commands: Command[] = [
  { type: 'noop' },
  { type: 'put', key: b('k'), value: b('v'), session: { clientId: 'c', seq: 3 } },
  { type: 'delete', key: b('k'), session: null },
  { type: 'cas', key: b('k'), expected: null, value: b('v'), session: { clientId: 'c', seq: 4 } },
  {
    type: 'batch',
    compares: [{ key: b('a'), expected: b('1') }],
    writes: [{ op: 'delete', key: b('a') }],
    reads: [b('z')],
    session: null,
  },
];

/** The tuples the previous version encoded for `commands`, verbatim. */
const olderTuples: unknown[][] = [
  [0],
  [1, b('k'), b('v'), ['c', 3]],
  [2, b('k'), null],
  [3, b('k'), null, b('v'), ['c', 4]],
  [4, [[b('a'), b('1')]], [[1, b('a')]], [b('z')], null],
];

describe('command time (atMs)', () => {
  it('round-trips atMs on every command type, appended after the older fields', () => {
    for (const [i, c] of commands.entries()) {
      const stamped = { ...c, atMs: AT } as Command;
      const bytes = encodeCommand(stamped);
      expect(decodeCommand(bytes)).toEqual(stamped);
      expect(decodeCommand(bytes).atMs).toBe(AT);
      // The stamped tuple is the older tuple plus one trailing element: older decoders read fields by position.
      expect(packr.unpack(bytes)).toEqual([...(olderTuples[i] as unknown[]), AT]);
    }
  });

  it('decodes commands of the older format as carrying no time, and encodes an unstamped command as before', () => {
    for (const [i, c] of commands.entries()) {
      const older = packr.pack(olderTuples[i]);
      const decoded = decodeCommand(older);
      expect(decoded).toEqual(c);
      expect('atMs' in decoded).toBe(false);
      expect(Buffer.from(encodeCommand(c)).equals(Buffer.from(older))).toBe(true);
      // ...while the same command stamped carries its time
      expect(decodeCommand(encodeCommand({ ...c, atMs: AT } as Command)).atMs).toBe(AT);
    }
  });

  it('rejects a malformed atMs as CORRUPTION', () => {
    expect(() => decodeCommand(packr.pack([1, b('k'), b('v'), null, -5]))).toThrow(/undecodable command: atMs/);
    expect(() => decodeCommand(packr.pack([0, 'soon']))).toThrow(/undecodable command: atMs/);
    expect(() => decodeCommand(packr.pack([2, b('k'), null, 1.5]))).toThrow(/undecodable command: atMs/);
  });
});

describe('session record time (lastSeenMs)', () => {
  it('round-trips lastSeenMs and decodes records of the older format without it', () => {
    const rec = {
      seq: 7,
      lastIndex: 42,
      result: { type: 'cas' as const, succeeded: true, current: b('x') },
      lastSeenMs: AT,
    };
    expect(decodeSessionRecord(encodeSessionRecord(rec), 'k')).toEqual(rec);
    const older = encodeRecord([7, 42, [3, true, b('x')]]);
    const decoded = decodeSessionRecord(older, 'k');
    expect(decoded).toEqual({ seq: 7, lastIndex: 42, result: { type: 'cas', succeeded: true, current: b('x') } });
    expect(decoded.lastSeenMs).toBeUndefined();
    // A record without time is written exactly as before.
    const { lastSeenMs: _, ...untimed } = rec;
    expect(encodeSessionRecord(untimed).equals(older)).toBe(true);
  });

  it('reports a malformed lastSeenMs as CORRUPTION naming the key', () => {
    expect(() => decodeSessionRecord(encodeRecord([1, 2, [1], 'yesterday']), 'm/1/sessions/c')).toThrow(
      /m\/1\/sessions\/c.*lastSeenMs/,
    );
  });
});
