import { describe, expect, it } from 'vitest';
import {
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
    const rec = encodeValueRecord(v);
    expect(rec.length).toBe(v.length + 5);
    expect(decodeValueRecord(rec, 'd/k').equals(v)).toBe(true);
    const bad = Buffer.from(rec);
    bad[7] = (bad[7] as number) ^ 1;
    expect(corruptionOf(() => decodeValueRecord(bad, 'd/k')).details.key).toBe('d/k');
    // a packed record is not a value record
    expect(corruptionOf(() => decodeValueRecord(encodeRecord(1), 'd/k')).code).toBe('CORRUPTION');
  });

  it('round-trips every kind of entry, hard state and snapshot meta', () => {
    const entries: Entry[] = [
      { kind: 'normal', term: 3, index: 2 ** 40 + 5, data: Buffer.from([0, 1, 255]) },
      { kind: 'normal', term: 1, index: 1, data: Buffer.alloc(0) },
      { kind: 'empty', term: 7, index: 9 },
      { kind: 'config', term: 2, index: 4, change: { type: 'addVoter', node: 4, context: Buffer.from('127.0.0.1:7004') } },
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
