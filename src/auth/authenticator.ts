/**
 * The node's view of the auth file: checks passwords at login (bounded by a LoginGate) and turns the
 * bearer token of every client call into a Principal, or refuses it with UNAUTHENTICATED.
 * - A token is valid on every node that reads the same file: its MAC uses the file's token secret, and its
 *   user digest must match the user's current record (a changed or removed user's tokens stop working).
 * - A login for an unknown user still runs one scrypt (on a fixed dummy hash), so the answer's timing does
 *   not tell which users exist; every refused login has the same message.
 * - Verified tokens are remembered (at most VERIFIED_CACHE_MAX, all forgotten on replace), so the check on
 *   every call is a map lookup and an expiry comparison, not an HMAC and a JSON parse.
 * - replace(file) swaps in a reloaded file atomically (tokens signed with the old secret stop working when
 *   the secret changes); `poll` (auth-file-watch.ts) runs first on every login and check, and calls it
 *   when the file changed.
 */
import { TesseraError } from '../base';
import { userDigest, USER_NAME_RE, type AuthFile } from './auth-file';
import { LoginGate } from './login-gate';
import { PASSWORD_BYTES_MAX, verifyPassword, type ScryptHash } from './password';
import type { Principal } from './roles';
import { signToken, verifyToken } from './token';

/** Concurrent scrypt computations per node, and logins that may wait for one. */
export const LOGINS_RUNNING_MAX = 2;
export const LOGINS_WAITING_MAX = 64;

const LOGIN_REFUSED = 'invalid user name or password';
/** Verified tokens remembered; past it the cache starts over (a bound, not an LRU: tokens are long-lived). */
export const VERIFIED_CACHE_MAX = 4096;

interface UserEntry {
  principal: Principal;
  digest: string;
  password: ScryptHash;
}

interface Loaded {
  secret: Buffer;
  ttlMs: number;
  users: Map<string, UserEntry>;
  dummy: ScryptHash;
}

function loadedOf(file: AuthFile): Loaded {
  const users = new Map<string, UserEntry>();
  for (const [name, u] of Object.entries(file.users)) {
    users.set(name, {
      principal: { user: name, role: u.role, prefixes: u.prefixes.map((p) => Buffer.from(p, 'utf8')) },
      digest: userDigest(name, u),
      password: u.password,
    });
  }
  // Unknown users are checked against a hash with the parameters real users have (or the defaults).
  const first = users.values().next().value?.password;
  const dummy: ScryptHash = {
    algorithm: 'scrypt',
    N: first?.N ?? 2 ** 15,
    r: first?.r ?? 8,
    p: first?.p ?? 1,
    salt: Buffer.alloc(16, 1).toString('base64'),
    hash: Buffer.alloc(32, 2).toString('base64'),
  };
  return { secret: Buffer.from(file.tokenSecret, 'base64'), ttlMs: file.tokenTtlSeconds * 1000, users, dummy };
}

export function unauthenticated(message: string): TesseraError {
  return new TesseraError('UNAUTHENTICATED', message);
}

export class Authenticator {
  private loaded: Loaded;
  private readonly gate: LoginGate;
  private verified = new Map<string, { principal: Principal; expiresAtMs: number }>();

  constructor(
    file: AuthFile,
    private readonly nowMs: () => number = Date.now,
    gate: LoginGate = new LoginGate(LOGINS_RUNNING_MAX, LOGINS_WAITING_MAX),
    private readonly poll: () => void = () => undefined,
  ) {
    this.loaded = loadedOf(file);
    this.gate = gate;
  }

  /** Swaps in a reloaded auth file. */
  replace(file: AuthFile): void {
    this.loaded = loadedOf(file);
    this.verified = new Map();
  }

  get userCount(): number {
    return this.loaded.users.size;
  }

  /** A token for `user` when `password` is right; UNAUTHENTICATED otherwise (same message either way). */
  async login(user: unknown, password: unknown): Promise<{ token: string; expiresAtMs: number }> {
    this.poll();
    if (typeof user !== 'string' || typeof password !== 'string') throw unauthenticated(LOGIN_REFUSED);
    const nameOk = USER_NAME_RE.test(user);
    const bytes = Buffer.byteLength(password, 'utf8');
    if (!nameOk || bytes === 0 || bytes > PASSWORD_BYTES_MAX) throw unauthenticated(LOGIN_REFUSED);
    const loaded = this.loaded;
    const entry = loaded.users.get(user);
    const ok = await this.gate.run(() => verifyPassword(password, entry?.password ?? loaded.dummy));
    if (!ok || entry === undefined) throw unauthenticated(LOGIN_REFUSED);
    const expiresAtMs = this.nowMs() + loaded.ttlMs;
    return { token: signToken(loaded.secret, { user, digest: entry.digest, expiresAtMs }), expiresAtMs };
  }

  /** The principal a bearer token names; UNAUTHENTICATED when missing, malformed, altered, stale or expired. */
  verify(token: string | null): Principal {
    this.poll();
    if (token === null || token === '')
      throw unauthenticated('this cluster requires authentication: log in (user and password) and send the token');
    const now = this.nowMs();
    const known = this.verified.get(token);
    if (known !== undefined && now < known.expiresAtMs) return known.principal;
    const loaded = this.loaded;
    const check = verifyToken(loaded.secret, token, now);
    if (!check.ok) throw unauthenticated(check.reason);
    const entry = loaded.users.get(check.claims.user);
    if (entry === undefined || entry.digest !== check.claims.digest)
      throw unauthenticated('the token names a user that was removed or changed; log in again');
    if (this.verified.size >= VERIFIED_CACHE_MAX) this.verified = new Map();
    this.verified.set(token, { principal: entry.principal, expiresAtMs: check.claims.expiresAtMs });
    return entry.principal;
  }

  /** When a verified token expires (for streams that outlive their token). */
  expiryOf(token: string): number {
    const check = verifyToken(this.loaded.secret, token, this.nowMs());
    return check.ok ? check.claims.expiresAtMs : 0;
  }
}
