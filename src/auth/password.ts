/**
 * Password hashes: scrypt from node:crypto with a random per-user salt and the parameters stored next to
 * the hash, so they can be raised later without breaking existing users. Verification recomputes the hash
 * with the stored parameters and compares in constant time (crypto.timingSafeEqual).
 * Bounds: N a power of two in [2^10, 2^20], r 1..32, p 1..16, 128*N*r*p within SCRYPT_MEMORY_MAX, salt
 * 16..64 bytes, hash 16..64 bytes, a password 1..PASSWORD_BYTES_MAX bytes.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

export interface ScryptHash {
  algorithm: 'scrypt';
  N: number;
  r: number;
  p: number;
  /** base64 */
  salt: string;
  /** base64 */
  hash: string;
}

export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/** What `tessera user add` uses: 32 MiB and about 0.1 s of one core per hash. */
export const SCRYPT_DEFAULTS: ScryptParams = { N: 2 ** 15, r: 8, p: 1 };
export const SCRYPT_N_MIN = 2 ** 10;
export const SCRYPT_N_MAX = 2 ** 20;
export const SCRYPT_MEMORY_MAX = 256 * 1024 * 1024;
export const PASSWORD_BYTES_MAX = 1024;
const SALT_BYTES = 16;
const HASH_BYTES = 32;

/** Why these parameters are refused, or null when they are within the bounds. */
export function scryptParamsProblem(params: ScryptParams): string | null {
  const { N, r, p } = params;
  if (!Number.isSafeInteger(N) || N < SCRYPT_N_MIN || N > SCRYPT_N_MAX || (N & (N - 1)) !== 0)
    return `N must be a power of two in ${SCRYPT_N_MIN}..${SCRYPT_N_MAX}`;
  if (!Number.isSafeInteger(r) || r < 1 || r > 32) return 'r must be an integer in 1..32';
  if (!Number.isSafeInteger(p) || p < 1 || p > 16) return 'p must be an integer in 1..16';
  if (128 * N * r * p > SCRYPT_MEMORY_MAX) return `128*N*r*p must be at most ${SCRYPT_MEMORY_MAX} bytes`;
  return null;
}

function derive(password: Buffer, salt: Buffer, keyLength: number, params: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(
      password,
      salt,
      keyLength,
      { N: params.N, r: params.r, p: params.p, maxmem: SCRYPT_MEMORY_MAX + 1024 * 1024 },
      (err, key) => (err ? reject(err) : resolve(key)),
    );
  });
}

/** A new hash of `password` with a fresh random salt. */
export async function hashPassword(password: string, params: ScryptParams = SCRYPT_DEFAULTS): Promise<ScryptHash> {
  const problem = scryptParamsProblem(params);
  if (problem !== null) throw new Error(`scrypt parameters: ${problem}`);
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(Buffer.from(password, 'utf8'), salt, HASH_BYTES, params);
  return {
    algorithm: 'scrypt',
    N: params.N,
    r: params.r,
    p: params.p,
    salt: salt.toString('base64'),
    hash: hash.toString('base64'),
  };
}

/** True when `password` hashes to `stored` (constant-time comparison). */
export async function verifyPassword(password: string, stored: ScryptHash): Promise<boolean> {
  const bytes = Buffer.from(password, 'utf8');
  if (bytes.length === 0 || bytes.length > PASSWORD_BYTES_MAX) return false;
  const expected = Buffer.from(stored.hash, 'base64');
  const actual = await derive(bytes, Buffer.from(stored.salt, 'base64'), expected.length, stored);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
