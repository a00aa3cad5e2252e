import { describe, expect, it } from 'vitest';
import { crc32c } from '../../../src/codec';
import { CRC32C_IMPLEMENTATION, crc32cNative, crc32cTable } from '../../../src/codec/crc32c';

type Crc = (buf: Uint8Array, start?: number, end?: number, crc?: number) => number;
const implementations: Array<[string, Crc]> = [
  ['crc32c', crc32c],
  ['table', crc32cTable],
  ...(crc32cNative === null ? [] : [['native', crc32cNative] as [string, Crc]]),
];

describe.each(implementations)('crc32c (%s)', (_name, crc) => {
  it('matches the standard check value and RFC 3720 vectors', () => {
    expect(crc(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc(Buffer.alloc(0))).toBe(0);
    expect(crc(Buffer.alloc(32, 0))).toBe(0x8a9136aa);
    expect(crc(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
    const inc = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
    expect(crc(inc)).toBe(0x46dd794e);
    const dec = Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i));
    expect(crc(dec)).toBe(0x113fdb5c);
    expect(crc(new Uint8Array([0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39]))).toBe(0xe3069283);
  });

  it('gives the same result for every split and offset (slicing and tail paths agree)', () => {
    const data = Buffer.from(Array.from({ length: 103 }, (_, i) => (i * 37 + 11) & 0xff));
    const whole = crc(data);
    for (let cut = 0; cut <= data.length; cut++) {
      expect(crc(data, cut, data.length, crc(data, 0, cut))).toBe(whole);
    }
    const padded = Buffer.concat([Buffer.from([1, 2, 3]), data, Buffer.from([4, 5])]);
    expect(crc(padded, 3, 3 + data.length)).toBe(whole);
    expect(crc(padded, 3, 3, 0x1234abcd)).toBe(0x1234abcd);
  });
});

describe('crc32c implementation', () => {
  it('uses the native module where a prebuilt binary exists, and it agrees with the table code', () => {
    if (process.platform === 'linux' && (process.arch === 'x64' || process.arch === 'arm64'))
      expect(CRC32C_IMPLEMENTATION).toBe('native');
    if (crc32cNative === null) return;
    let seed = 12345;
    const next = () => (seed = (seed * 1103515245 + 12345) >>> 0);
    for (const size of [0, 1, 3, 4, 7, 64, 1000, 65_537]) {
      const buf = Buffer.alloc(size);
      for (let i = 0; i < size; i++) buf[i] = next() & 0xff;
      const start = size > 10 ? 5 : 0;
      const prior = next();
      expect(crc32cNative(buf, start, size, prior)).toBe(crc32cTable(buf, start, size, prior));
    }
  });
});
