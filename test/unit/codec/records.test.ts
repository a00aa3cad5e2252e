import { describe, expect, it } from 'vitest';
import {
  RECORD_RAW,
  RECORD_VALUE_KEYED,
  crc32c,
  decodeEntry,
  decodeHardState,
  decodeRecord,
  decodeSnapshotMeta,
  decodeValueRecord,
  encodeEntry,
  encodeHardState,
  encodeRecord,
  encodeSnapshotMeta,
  encodeValueRecord,
} from '../../../src/codec';
import { TesseraError } from '../../../src/base';
import type { Entry } from '../../../src/raft';

function corruptionOf(fn: () => unknown): TesseraError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(TesseraError);
    return e as TesseraError;
  }
  throw new Error('expected a CORRUPTION error');
}

describe('records', () => {
  it('round-trips values and lays out [version][crc BE][body]', () => {
    const buf = encodeRecord({ a: 1, b: [1, 2, 3] });
    expect(buf[0]).toBe(1);
    expect(decodeRecord(buf, 'k')).toEqual({ a: 1, b: [1, 2, 3] });
  });

  it('reports a flipped byte, a bad version or a truncated record as CORRUPTION naming the key', () => {
    const buf = encodeRecord([1, 2, 'hello world']);
    for (let i = 0; i < buf.length; i++) {
      const bad = Buffer.from(buf);
      bad[i] = (bad[i] as number) ^ 0x40;
      const e = corruptionOf(() => decodeRecord(bad, 'r/1/h'));
      expect(e.code).toBe('CORRUPTION');
      expect(e.message).toContain('r/1/h');
      expect(e.details.key).toBe('r/1/h');
    }
    expect(corruptionOf(() => decodeRecord(buf.subarray(0, 3), 'x')).code).toBe('CORRUPTION');
  });

  it('stores user values raw and detects corruption in them', () => {
    const v = Buffer.from('some user value');
    const key = Buffer.from('user:7');
    const rec = encodeValueRecord(key, v);
    expect(rec.length).toBe(v.length + 5);
    expect(rec[0]).toBe(RECORD_VALUE_KEYED);
    expect(decodeValueRecord(rec, key, 'd/k').equals(v)).toBe(true);
    for (let i = 0; i < rec.length; i++) {
      const bad = Buffer.from(rec);
      bad[i] = (bad[i] as number) ^ 1;
      expect(corruptionOf(() => decodeValueRecord(bad, key, 'd/k')).details.key).toBe('d/k');
    }
    // a packed record is not a value record
    expect(corruptionOf(() => decodeValueRecord(encodeRecord(1), key, 'd/k')).code).toBe('CORRUPTION');
  });

  it('covers the user key too: a value record read under another key (a flipped key byte) is CORRUPTION', () => {
    const key = Buffer.from('user:7');
    const rec = encodeValueRecord(key, Buffer.from('v'));
    for (let i = 0; i < key.length; i++) {
      for (const bit of [0x01, 0x80]) {
        const other = Buffer.from(key);
        other[i] = (other[i] as number) ^ bit;
        const e = corruptionOf(() => decodeValueRecord(rec, other, 'd/user:6'));
        expect(e.code).toBe('CORRUPTION');
        expect(e.message).toMatch(/checksum mismatch/);
      }
    }
    expect(corruptionOf(() => decodeValueRecord(rec, Buffer.from('user:'), 'd/user:')).code).toBe('CORRUPTION');
    expect(corruptionOf(() => decodeValueRecord(rec, Buffer.from('user:77'), 'd/user:77')).code).toBe('CORRUPTION');
    // The empty key and the empty value are records like any other.
    const empty = encodeValueRecord(Buffer.alloc(0), Buffer.alloc(0));
    expect(decodeValueRecord(empty, Buffer.alloc(0), 'd/').length).toBe(0);
    expect(corruptionOf(() => decodeValueRecord(empty, Buffer.from([0]), 'd/0x00')).code).toBe('CORRUPTION');
  });

  it('still reads legacy format 2 value records (CRC over the value only), written by earlier versions', () => {
    const v = Buffer.from('written before format 3');
    const legacy = Buffer.concat([Buffer.from([RECORD_RAW, 0, 0, 0, 0]), v]);
    legacy.writeUInt32BE(crc32c(v), 1);
    expect(decodeValueRecord(legacy, Buffer.from('any key'), 'd/k').equals(v)).toBe(true);
    const bad = Buffer.from(legacy);
    bad[bad.length - 1] = (bad[bad.length - 1] as number) ^ 4;
    expect(corruptionOf(() => decodeValueRecord(bad, Buffer.from('any key'), 'd/k')).code).toBe('CORRUPTION');
    const unknown = Buffer.from(legacy);
    unknown[0] = 4;
    expect(corruptionOf(() => decodeValueRecord(unknown, Buffer.from('any key'), 'd/k')).message).toMatch(
      /format byte 4/,
    );
  });

  it('round-trips every kind of entry, hard state and snapshot meta', () => {
    const entries: Entry[] = [
      { kind: 'normal', term: 3, index: 2 ** 40 + 5, data: Buffer.from([0, 1, 255]) },
      { kind: 'normal', term: 1, index: 1, data: Buffer.alloc(0) },
      { kind: 'empty', term: 7, index: 9 },
      {
        kind: 'config',
        term: 2,
        index: 4,
        change: { type: 'addVoter', node: 4, context: Buffer.from('127.0.0.1:7004') },
      },
      { kind: 'config', term: 2, index: 5, change: { type: 'removeNode', node: 2 } },
      {
        kind: 'config',
        term: 2,
        index: 6,
        change: { type: 'addLearner', node: 5 },
        config: { voters: [1, 3, 4], learners: [5], votersOutgoing: [] },
      },
    ];
    for (const e of entries) {
      const back = decodeEntry(encodeEntry(e), 'k');
      expect(back).toEqual(e);
      if (back.kind === 'normal') expect(Buffer.isBuffer(back.data)).toBe(true);
    }
    const hs = { term: 12, vote: 3, commit: 2 ** 33 };
    expect(decodeHardState(encodeHardState(hs))).toEqual(hs);
    const meta = { index: 100, term: 4, config: { voters: [1, 2, 3], learners: [], votersOutgoing: [1, 2] } };
    expect(decodeSnapshotMeta(encodeSnapshotMeta(meta))).toEqual(meta);
  });

  it('rejects a well-checksummed record of the wrong shape as CORRUPTION', () => {
    expect(corruptionOf(() => decodeHardState(encodeRecord(['x', 1, 2]), 'r/1/h')).message).toContain('r/1/h');
    expect(corruptionOf(() => decodeEntry(encodeRecord([9, 1, 1]), 'r/1/e/1')).code).toBe('CORRUPTION');
  });
});
