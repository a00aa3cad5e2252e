/**
 * Registered sessions in the codec: the request fingerprint carried in a command's session tag, the
 * registerSession command, the new results, and session records with a fingerprint; older tuples still decode.
 */
import { describe, expect, it } from 'vitest';
import {
  commandFingerprint,
  decodeCommand,
  decodeSessionRecord,
  encodeCommand,
  encodeRecord,
  encodeSessionRecord,
  withFingerprint,
} from '../../../src/codec';
import type { Command, SessionRecord } from '../../../src/codec';
import { packr } from '../../../src/codec/packr';

const b = (s: string): Buffer => Buffer.from(s);
const S = { clientId: 'ab'.repeat(16), seq: 3 };

describe('request fingerprint', () => {
  it('depends on the request only: not on its session or time', () => {
    const base: Command = { type: 'put', key: b('k'), value: b('v'), session: S };
    const fp = commandFingerprint(base);
    expect(commandFingerprint({ ...base, session: null })).toBe(fp);
    expect(commandFingerprint({ ...base, session: { clientId: 'other', seq: 99 }, atMs: 123 })).toBe(fp);
    expect(commandFingerprint({ ...base, key: b('k2') })).not.toBe(fp);
    expect(commandFingerprint({ ...base, value: b('w') })).not.toBe(fp);
    expect(commandFingerprint({ type: 'delete', key: b('k'), session: S })).not.toBe(fp);
    expect(Number.isInteger(fp) && fp >= 0 && fp <= 0xffff_ffff).toBe(true);
  });

  it('withFingerprint puts it in the session tag, which round-trips as a third session element', () => {
    const cmds: Command[] = [
      { type: 'put', key: b('k'), value: b('v'), session: S },
      { type: 'delete', key: b('k'), session: S },
      { type: 'cas', key: b('k'), expected: null, value: b('v'), session: S },
      {
        type: 'batch',
        compares: [{ key: b('a'), expected: b('1') }],
        writes: [{ op: 'delete', key: b('a') }],
        reads: [b('z')],
        session: S,
      },
    ];
    for (const c of cmds) {
      const sealed = withFingerprint(c);
      const fp = commandFingerprint(c);
      expect(sealed).toEqual({ ...c, session: { ...S, fingerprint: fp } });
      const back = decodeCommand(encodeCommand({ ...sealed, atMs: 77 } as Command));
      expect(back).toEqual({ ...sealed, atMs: 77 });
      const tuple = packr.unpack(encodeCommand(sealed)) as unknown[];
      expect(tuple.find((x) => Array.isArray(x) && x[0] === S.clientId)).toEqual([S.clientId, S.seq, fp]);
    }
    const noSession: Command = { type: 'put', key: b('k'), value: b('v'), session: null };
    expect(withFingerprint(noSession)).toBe(noSession);
  });

  it('decodes an older session tag [clientId, seq] without a fingerprint and rejects a malformed one', () => {
    const older = decodeCommand(packr.pack([1, b('k'), b('v'), ['c', 3]]));
    expect(older).toEqual({ type: 'put', key: b('k'), value: b('v'), session: { clientId: 'c', seq: 3 } });
    expect(older.type === 'put' && 'fingerprint' in (older.session ?? {})).toBe(false);
    expect(() => decodeCommand(packr.pack([1, b('k'), b('v'), ['c', 3, -1]]))).toThrow(
      /undecodable command: fingerprint/,
    );
    expect(() => decodeCommand(packr.pack([1, b('k'), b('v'), ['c', 3, 2 ** 40]]))).toThrow(
      /undecodable command: fingerprint/,
    );
  });
});

describe('registerSession command and the new results', () => {
  it('round-trips registerSession with and without time', () => {
    const c: Command = { type: 'registerSession', clientId: 'cd'.repeat(16) };
    expect(decodeCommand(encodeCommand(c))).toEqual(c);
    expect(packr.unpack(encodeCommand(c))).toEqual([5, 'cd'.repeat(16)]);
    expect(decodeCommand(encodeCommand({ ...c, atMs: 5 }))).toEqual({ ...c, atMs: 5 });
    expect(() => decodeCommand(packr.pack([5, 42]))).toThrow(/undecodable command: clientId/);
  });

  it('session records carry the new results and a fingerprint, with or without lastSeenMs', () => {
    const recs: SessionRecord[] = [
      { seq: 0, lastIndex: 3, result: { type: 'registerSession', clientId: 'x' } },
      { seq: 2, lastIndex: 4, result: { type: 'sessionSeqReused', seq: 2 }, lastSeenMs: 10, fingerprint: 0xffff_ffff },
      { seq: 2, lastIndex: 4, result: { type: 'undecodable', message: 'm' }, fingerprint: 0 },
      { seq: 5, lastIndex: 9, result: { type: 'put' }, fingerprint: 12345 },
      { seq: 5, lastIndex: 9, result: { type: 'put' }, lastSeenMs: 1, fingerprint: 12345 },
    ];
    for (const r of recs) expect(decodeSessionRecord(encodeSessionRecord(r), 'k')).toEqual(r);
    // no time but a fingerprint: null holds lastSeenMs's place
    expect(
      Buffer.from(encodeSessionRecord(recs[3] as SessionRecord)).equals(encodeRecord([5, 9, [1], null, 12345])),
    ).toBe(true);
  });

  it('decodes records of the older formats unchanged, and rejects a malformed fingerprint', () => {
    expect(decodeSessionRecord(encodeRecord([7, 42, [1]]), 'k')).toEqual({
      seq: 7,
      lastIndex: 42,
      result: { type: 'put' },
    });
    expect(decodeSessionRecord(encodeRecord([7, 42, [1], 99]), 'k')).toEqual({
      seq: 7,
      lastIndex: 42,
      result: { type: 'put' },
      lastSeenMs: 99,
    });
    expect(decodeSessionRecord(encodeRecord([7, 42, [1], null, 5]), 'k')).toEqual({
      seq: 7,
      lastIndex: 42,
      result: { type: 'put' },
      fingerprint: 5,
    });
    expect(() => decodeSessionRecord(encodeRecord([7, 42, [1], null]), 'm/1/sessions/c')).toThrow(/lastSeenMs/);
    expect(() => decodeSessionRecord(encodeRecord([7, 42, [1], 1, 'x']), 'm/1/sessions/c')).toThrow(/fingerprint/);
  });
});
