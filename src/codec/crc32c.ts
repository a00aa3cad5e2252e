/**
 * CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), table-driven, slicing by 4 bytes.
 * Used for every stored record and snapshot chunk. Known vector: crc32c("123456789") = 0xE3069283.
 */
const POLY = 0x82f63b78;

/** tables[k][b]: CRC contribution of byte b followed by k zero bytes. */
const tables: Uint32Array[] = (() => {
  const t0 = new Uint32Array(256);
  for (let b = 0; b < 256; b++) {
    let c = b;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t0[b] = c >>> 0;
  }
  const out = [t0];
  for (let k = 1; k < 4; k++) {
    const prev = out[k - 1] as Uint32Array;
    const t = new Uint32Array(256);
    for (let b = 0; b < 256; b++) t[b] = ((prev[b] as number) >>> 8) ^ (t0[(prev[b] as number) & 0xff] as number);
    out.push(t);
  }
  return out;
})();
const T0 = tables[0] as Uint32Array;
const T1 = tables[1] as Uint32Array;
const T2 = tables[2] as Uint32Array;
const T3 = tables[3] as Uint32Array;

/** CRC-32C of buf[start, end), continuing from `crc` (the CRC of the preceding bytes, 0 to start). */
export function crc32c(buf: Uint8Array, start = 0, end = buf.length, crc = 0): number {
  let c = ~crc >>> 0;
  let i = start;
  const end4 = end - ((end - start) & 3);
  for (; i < end4; i += 4) {
    c ^= (buf[i] as number) | ((buf[i + 1] as number) << 8) | ((buf[i + 2] as number) << 16) | ((buf[i + 3] as number) << 24);
    c = (T3[c & 0xff] as number) ^ (T2[(c >>> 8) & 0xff] as number) ^ (T1[(c >>> 16) & 0xff] as number) ^ (T0[c >>> 24] as number);
  }
  for (; i < end; i++) c = (T0[(c ^ (buf[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}
