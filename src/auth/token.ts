/**
 * Bearer tokens: `t1.<payload>.<mac>` with the payload base64url JSON {u: user, d: digest of the user's
 * record, x: expiry in ms since the epoch} and the mac base64url HMAC-SHA256 of `t1.<payload>` under the
 * cluster's token secret (in the auth file every node reads). So any node of the cluster accepts a token
 * issued by another, and changing a user (password, role, prefixes) makes its old tokens invalid.
 * Invariants: the MAC is compared in constant time before the payload is parsed; a token longer than
 * TOKEN_CHARS_MAX, with a wrong shape, a bad MAC, or expired, is refused with a reason (never thrown).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const TOKEN_CHARS_MAX = 1024;
const VERSION = 't1';

export interface TokenClaims {
  user: string;
  /** Digest of the user's record at issue time (userDigest in auth-file.ts). */
  digest: string;
  expiresAtMs: number;
}

export type TokenCheck = { ok: true; claims: TokenClaims } | { ok: false; reason: string };

function mac(secret: Buffer, body: string): Buffer {
  return createHmac('sha256', secret).update(body).digest();
}

export function signToken(secret: Buffer, claims: TokenClaims): string {
  const payload = Buffer.from(
    JSON.stringify({ u: claims.user, d: claims.digest, x: claims.expiresAtMs }),
    'utf8',
  ).toString('base64url');
  const body = `${VERSION}.${payload}`;
  return `${body}.${mac(secret, body).toString('base64url')}`;
}

/** Checks shape, MAC and expiry (at `nowMs`); the caller checks that the user and digest are current. */
export function verifyToken(secret: Buffer, token: string, nowMs: number): TokenCheck {
  if (token.length === 0 || token.length > TOKEN_CHARS_MAX) return { ok: false, reason: 'malformed token' };
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== VERSION) return { ok: false, reason: 'malformed token' };
  const [, payload, sig] = parts as [string, string, string];
  const expected = mac(secret, `${VERSION}.${payload}`);
  const given = Buffer.from(sig, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { ok: false, reason: 'invalid token signature (issued by another cluster, or altered)' };
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed token' };
  }
  const o = json as { u?: unknown; d?: unknown; x?: unknown };
  if (typeof o.u !== 'string' || typeof o.d !== 'string' || typeof o.x !== 'number' || !Number.isSafeInteger(o.x))
    return { ok: false, reason: 'malformed token' };
  if (o.x <= nowMs) return { ok: false, reason: 'token expired; log in again' };
  return { ok: true, claims: { user: o.u, digest: o.d, expiresAtMs: o.x } };
}
