/**
 * Checksummed records: what every value stored by Tessera in LevelDB looks like.
 *
 *   [format u8][CRC32C u32 big-endian of body][body]
 *
 * format 1 (RECORD_PACKED): body is one msgpackr value (log entries, hard state, metadata, sessions).
 * format 2 (RECORD_RAW):    body is raw bytes, no msgpack (user values under d/, so a get costs one CRC).
 * A record that is too short, has an unknown format byte, a wrong CRC or an undecodable body is reported
 * as TesseraError('CORRUPTION', ..., { key }): it is never returned to a caller.
 */
import { TesseraError } from '../base';
import { crc32c } from './crc32c';
import { packr } from './packr';

export const RECORD_PACKED = 1;
export const RECORD_RAW = 2;
export const RECORD_HEADER_BYTES = 5;

function frame(format: number, body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(RECORD_HEADER_BYTES + body.length);
  out[0] = format;
  out.writeUInt32BE(crc32c(body), 1);
  out.set(body, RECORD_HEADER_BYTES);
  return out;
}

function corruption(keyForError: string, problem: string): TesseraError {
  return new TesseraError('CORRUPTION', `corrupt record at key ${keyForError}: ${problem}`, { key: keyForError });
}

/** The verified body of a record of the given format (a view into buf). */
function unframe(buf: Uint8Array, format: number, keyForError: string): Buffer {
  if (buf.length < RECORD_HEADER_BYTES) throw corruption(keyForError, `${buf.length} bytes is shorter than a record header`);
  if (buf[0] !== format) throw corruption(keyForError, `format byte ${buf[0]}, expected ${format}`);
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const stored = b.readUInt32BE(1);
  const actual = crc32c(b, RECORD_HEADER_BYTES);
  if (stored !== actual) {
    throw corruption(keyForError, `checksum mismatch (stored 0x${stored.toString(16)}, computed 0x${actual.toString(16)})`);
  }
  return b.subarray(RECORD_HEADER_BYTES);
}

/** A msgpackr record of `value`. */
export function encodeRecord(value: unknown): Buffer {
  return frame(RECORD_PACKED, packr.pack(value));
}

/** The value of a msgpackr record; throws CORRUPTION naming keyForError on any defect. */
export function decodeRecord(buf: Uint8Array, keyForError: string): unknown {
  const body = unframe(buf, RECORD_PACKED, keyForError);
  try {
    return packr.unpack(body);
  } catch (e) {
    throw corruption(keyForError, `undecodable body (${(e as Error).message})`);
  }
}

/** A raw record of `value` (user values). */
export function encodeValueRecord(value: Uint8Array): Buffer {
  return frame(RECORD_RAW, value);
}

/** The bytes of a raw record (a view into buf); throws CORRUPTION naming keyForError on any defect. */
export function decodeValueRecord(buf: Uint8Array, keyForError: string): Buffer {
  return unframe(buf, RECORD_RAW, keyForError);
}

/** Verifies a record of either format without decoding its body's msgpack (used by snapshot senders). */
export function verifyRecord(buf: Uint8Array, keyForError: string): void {
  unframe(buf, buf.length > 0 && buf[0] === RECORD_RAW ? RECORD_RAW : RECORD_PACKED, keyForError);
}
