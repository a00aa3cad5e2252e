/**
 * Keys and values at the SDK boundary: callers pass strings (UTF-8) or bytes; the wire carries Buffers.
 * Invariant: every key and value handed to the transport is a Buffer; bad input types are rejected with
 * INVALID_ARGUMENT before anything is sent. Size limits are the server's (they are configurable there).
 */
import { TesseraError } from '../base';

/** A key or value as the SDK accepts it: a UTF-8 string, a Buffer or any Uint8Array. */
export type Bytes = string | Buffer | Uint8Array;

export function toBuffer(input: Bytes, what: string): Buffer {
  if (typeof input === 'string') return Buffer.from(input, 'utf8');
  if (Buffer.isBuffer(input)) return input;
  if (input instanceof Uint8Array) return Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  throw new TesseraError('INVALID_ARGUMENT', `${what} must be a string, Buffer or Uint8Array, got ${describe(input)}`, {
    limit: what,
  });
}

/** Like toBuffer, but null and undefined stay null (e.g. "absent" in a compare). */
export function toBufferOrNull(input: Bytes | null | undefined, what: string): Buffer | null {
  return input === null || input === undefined ? null : toBuffer(input, what);
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return 'an array';
  return typeof x;
}
