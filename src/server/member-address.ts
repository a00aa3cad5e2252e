/**
 * Member addresses as Admin requests give them (AddNode's address and peer_address, MoveReplica's target
 * addresses): HOST:PORT that peers can dial, bounded in bytes. Invariant: what passes is safe to hand the
 * transport (no wildcard host, a port in 1..65535, at most MEMBER_ADDRESS_BYTES_MAX bytes).
 */
import { TesseraError } from '../base';
import { isUnspecifiedHost } from '../config';

/** A member address is stored in the log and the address book of every node: bounded like DNS names. */
export const MEMBER_ADDRESS_BYTES_MAX = 255;
const MEMBER_ADDRESS_RE = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9._-]+):(\d{1,5})$/;

/**
 * A member address from an Admin request: at most MEMBER_ADDRESS_BYTES_MAX bytes, HOST:PORT with a name,
 * an IPv4 or a bracketed IPv6 host that peers can dial (not a wildcard such as 0.0.0.0) and a port 1..65535.
 */
export function checkMemberAddress(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new TesseraError('INVALID_ARGUMENT', `${field} must be HOST:PORT`, { limit: 'address' });
  }
  const bytes = Buffer.byteLength(value, 'utf8');
  if (bytes > MEMBER_ADDRESS_BYTES_MAX) {
    throw new TesseraError('INVALID_ARGUMENT', `${field} is ${bytes} bytes; at most ${MEMBER_ADDRESS_BYTES_MAX}`, {
      limit: 'addressBytesMax',
    });
  }
  const m = MEMBER_ADDRESS_RE.exec(value);
  const port = m ? Number(m[2]) : 0;
  if (!m || port < 1 || port > 65535) {
    throw new TesseraError('INVALID_ARGUMENT', `${field} must be HOST:PORT with a port in 1..65535, got '${value}'`, {
      limit: 'address',
    });
  }
  if (isUnspecifiedHost(m[1] as string)) {
    throw new TesseraError(
      'INVALID_ARGUMENT',
      `${field} '${value}' is a wildcard address; give one that peers can dial`,
      { limit: 'address' },
    );
  }
  return value;
}
