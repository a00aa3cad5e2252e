/**
 * Checksummed records: what every value stored by Tessera in LevelDB looks like.
 *
 *   [format u8][CRC32C u32 big-endian][body]
 *
 * format 1 (RECORD_PACKED):      body is one msgpackr value (log entries, hard state, metadata, sessions);
 *                                the CRC covers the body.
 * format 2 (RECORD_RAW):         legacy user values (d/), written by versions before format 3: body is the
 *                                raw value bytes and the CRC covers only them. Still read, never written.
 * format 3 (RECORD_VALUE_KEYED): user values (d/): body is the raw value bytes (a get costs one CRC, no
 *                                msgpack) and the CRC covers the USER KEY and then the value, i.e.
 *                                crc32c(value, crc32c(userKey)). A byte flipped in the stored key turns the
 *                                record into one under another key whose CRC no longer matches: a scan or get
 *                                that meets it reports CORRUPTION instead of serving a phantom key. The user
 *                                key (not the d/ storage key) is covered, so a record travels verbatim through
 *                                snapshot chunks and staging (t/ keys) and stays valid under its d/ key.
 * A record that is too short, has an unknown format byte, a wrong CRC or an undecodable body is reported
 * as TesseraError('CORRUPTION', ..., { key }): it is never returned to a caller.
 * Limit: a flipped key byte makes the original key absent in LevelDB; a get of the original key then
 * answers not found (LevelDB itself does not verify its block checksums on reads, classic-level exposes no
 * verify_checksums option), and so may a get of the damaged key (the table's bloom filter was built for the
 * original one). Reads that meet the damaged record (scans, gets that reach it, the snapshot sender) refuse it.
 */
import { TesseraError } from '../base';
import { crc32c } from './crc32c';
import { packr } from './packr';

export const RECORD_PACKED = 1;
export const RECORD_RAW = 2;
export const RECORD_VALUE_KEYED = 3;
export const RECORD_HEADER_BYTES = 5;

function frame(format: number, body: Uint8Array, crc: number): Buffer {
  const out = Buffer.allocUnsafe(RECORD_HEADER_BYTES + body.length);
  out[0] = format;
  out.writeUInt32BE(crc, 1);
  out.set(body, RECORD_HEADER_BYTES);
  return out;
}

function corruption(keyForError: string, problem: string): TesseraError {
  return new TesseraError('CORRUPTION', `corrupt record at key ${keyForError}: ${problem}`, { key: keyForError });
}

function asBuffer(buf: Uint8Array): Buffer {
  return Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Checks the stored CRC against `actual`; returns the body (a view into buf). */
function checked(b: Buffer, actual: number, keyForError: string): Buffer {
  const stored = b.readUInt32BE(1);
  if (stored !== actual) {
    throw corruption(
      keyForError,
      `checksum mismatch (stored 0x${stored.toString(16)}, computed 0x${actual.toString(16)})`,
    );
  }
  return b.subarray(RECORD_HEADER_BYTES);
}

function checkHeader(buf: Uint8Array, keyForError: string): void {
  if (buf.length < RECORD_HEADER_BYTES)
    throw corruption(keyForError, `${buf.length} bytes is shorter than a record header`);
}

/** A msgpackr record of `value`. */
export function encodeRecord(value: unknown): Buffer {
  const body = packr.pack(value);
  return frame(RECORD_PACKED, body, crc32c(body));
}

/** The value of a msgpackr record; throws CORRUPTION naming keyForError on any defect. */
export function decodeRecord(buf: Uint8Array, keyForError: string): unknown {
  checkHeader(buf, keyForError);
  if (buf[0] !== RECORD_PACKED) throw corruption(keyForError, `format byte ${buf[0]}, expected ${RECORD_PACKED}`);
  const b = asBuffer(buf);
  const body = checked(b, crc32c(b, RECORD_HEADER_BYTES), keyForError);
  try {
    return packr.unpack(body);
  } catch (e) {
    throw corruption(keyForError, `undecodable body (${(e as Error).message})`);
  }
}

/** The value record (format 3) of user key `userKey` holding `value`. */
export function encodeValueRecord(userKey: Uint8Array, value: Uint8Array): Buffer {
  return frame(RECORD_VALUE_KEYED, value, crc32c(value, 0, value.length, crc32c(userKey)));
}

/**
 * The value bytes (a view into buf) of the value record stored for user key `userKey` (format 3, or a
 * legacy format 2 record); throws CORRUPTION naming keyForError on any defect, a key that is not the one
 * the record was written for included.
 */
export function decodeValueRecord(buf: Uint8Array, userKey: Uint8Array, keyForError: string): Buffer {
  checkHeader(buf, keyForError);
  const b = asBuffer(buf);
  if (b[0] === RECORD_VALUE_KEYED)
    return checked(b, crc32c(b, RECORD_HEADER_BYTES, b.length, crc32c(userKey)), keyForError);
  if (b[0] === RECORD_RAW) return checked(b, crc32c(b, RECORD_HEADER_BYTES), keyForError);
  throw corruption(keyForError, `format byte ${b[0]}, expected ${RECORD_VALUE_KEYED} (or legacy ${RECORD_RAW})`);
}
