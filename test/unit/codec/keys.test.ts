import { describe, expect, it } from 'vitest';
import {
  appliedKey,
  dataKey,
  dataRange,
  entryKey,
  formatKey,
  hardStateKey,
  installMarkerKey,
  parseKey,
  raftGroupRange,
  sessionKey,
  snapshotMetaKey,
  stagingPrefix,
} from '../../../src/codec';

describe('keys', () => {
  it('orders entry keys numerically, across the 32-bit boundary', () => {
    const indexes = [0, 1, 2, 255, 256, 65535, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 2 ** 40, Number.MAX_SAFE_INTEGER];
    const keys = indexes.map((i) => entryKey(7, i));
    const sorted = [...keys].sort(Buffer.compare);
    expect(sorted).toEqual(keys);
    for (const i of indexes) expect(parseKey(entryKey(7, i))).toEqual({ kind: 'entry', groupId: 7, index: i });
  });

  it('keeps groups apart and inside their ranges', () => {
    for (const g of [1, 2, 256, 2 ** 32 - 1]) {
      const r = raftGroupRange(g);
      for (const k of [entryKey(g, 5), hardStateKey(g), snapshotMetaKey(g)]) {
        expect(Buffer.compare(k, r.gte) >= 0 && Buffer.compare(k, r.lt) < 0).toBe(true);
      }
      const other = raftGroupRange(g === 1 ? 2 : 1);
      expect(Buffer.compare(entryKey(g, 5), other.gte) >= 0 && Buffer.compare(entryKey(g, 5), other.lt) < 0).toBe(
        false,
      );
    }
  });

  it('formats keys readably', () => {
    expect(formatKey(entryKey(1, 42))).toBe('r/1/e/42');
    expect(formatKey(hardStateKey(3))).toBe('r/3/h');
    expect(formatKey(snapshotMetaKey(3))).toBe('r/3/s');
    expect(formatKey(appliedKey(3))).toBe('m/3/applied');
    expect(formatKey(installMarkerKey(3))).toBe('m/3/install');
    expect(formatKey(sessionKey(3, 'abcd'))).toBe('m/3/sessions/abcd');
    expect(formatKey(dataKey(Buffer.from('user:7')))).toBe('d/user:7');
    expect(formatKey(dataKey(Buffer.from([0, 1, 0xff])))).toBe('d/0x0001ff');
    expect(formatKey(stagingPrefix(3, 'snap'))).toMatch(/^t\/3\//);
  });

  it('maps user key ranges to d/ ranges', () => {
    const r = dataRange(Buffer.from('b'), null);
    expect(Buffer.compare(dataKey(Buffer.from('zzz')), r.lt)).toBeLessThan(0);
    expect(Buffer.compare(dataKey(Buffer.from([0xff, 0xff])), r.lt)).toBeLessThan(0);
    expect(Buffer.compare(dataKey(Buffer.from('a')), r.gte)).toBeLessThan(0);
    const bounded = dataRange(Buffer.from('b'), Buffer.from('d'));
    expect(Buffer.compare(dataKey(Buffer.from('d')), bounded.lt)).toBe(0);
  });
});
