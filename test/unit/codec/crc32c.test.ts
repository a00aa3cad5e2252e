import { describe, expect, it } from 'vitest';
import { crc32c } from '../../../src/codec';

describe('crc32c', () => {
  it('matches the standard check value and RFC 3720 vectors', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(0))).toBe(0);
    expect(crc32c(Buffer.alloc(32, 0))).toBe(0x8a9136aa);
    expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
    const inc = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
    expect(crc32c(inc)).toBe(0x46dd794e);
    const dec = Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i));
    expect(crc32c(dec)).toBe(0x113fdb5c);
  });

  it('gives the same result for every split and offset (slicing and tail paths agree)', () => {
    const data = Buffer.from(Array.from({ length: 103 }, (_, i) => (i * 37 + 11) & 0xff));
    const whole = crc32c(data);
    for (let cut = 0; cut <= data.length; cut++) {
      expect(crc32c(data, cut, data.length, crc32c(data, 0, cut))).toBe(whole);
    }
    const padded = Buffer.concat([Buffer.from([1, 2, 3]), data]);
    expect(crc32c(padded, 3)).toBe(whole);
  });
});
