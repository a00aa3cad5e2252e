/**
 * The auth file (--auth-file / TESSERA_AUTH_FILE): users with scrypt password hashes, roles and key-prefix
 * grants, plus the cluster's token secret and token lifetime. Every node of a cluster reads the same file;
 * `tessera user add` writes it (atomically: a temporary file in the same directory, mode 0600, renamed).
 *
 *   { "version": 1, "tokenSecret": "<base64, 32..128 bytes>", "tokenTtlSeconds": 3600,
 *     "users": { "alice": { "role": "readwrite", "prefixes": ["app/"],
 *                           "password": { "algorithm": "scrypt", "N": 32768, "r": 8, "p": 1,
 *                                         "salt": "<base64>", "hash": "<base64>" } } } }
 *
 * Validation is strict (parseAuthFile): unknown keys, a bad role, a weak or malformed secret, out-of-range
 * scrypt parameters, a prefix on an admin all throw TesseraError('CONFIG') naming the file and the field,
 * so a node with a bad file exits 2 at start.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { TesseraError } from '../base';
import { scryptParamsProblem, type ScryptHash } from './password';
import { isRole, type Role } from './roles';

export interface AuthUser {
  role: Role;
  /** UTF-8 key prefixes the user is limited to; empty: every key. */
  prefixes: string[];
  password: ScryptHash;
}

export interface AuthFile {
  version: 1;
  tokenSecret: string;
  tokenTtlSeconds: number;
  users: Record<string, AuthUser>;
}

export const USER_NAME_RE = /^[A-Za-z0-9._@-]{1,64}$/;
export const USERS_MAX = 10_000;
export const PREFIXES_MAX = 64;
export const PREFIX_BYTES_MAX = 4096;
export const TOKEN_TTL_SECONDS_DEFAULT = 3600;
const TOKEN_TTL_SECONDS_MIN = 10;
const TOKEN_TTL_SECONDS_MAX = 7 * 24 * 3600;
const SECRET_BYTES = 32;
export const AUTH_FILE_BYTES_MAX = 16 * 1024 * 1024;

function fail(where: string, message: string): never {
  throw new TesseraError('CONFIG', `auth file ${where}: ${message}`);
}

function onlyKeys(where: string, o: Record<string, unknown>, keys: readonly string[]): void {
  for (const k of Object.keys(o))
    if (!keys.includes(k)) fail(where, `unknown key '${k}' (expected ${keys.join(', ')})`);
}

function object(where: string, v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(where, 'must be a JSON object');
  return v as Record<string, unknown>;
}

function base64Bytes(where: string, v: unknown, min: number, max: number): Buffer {
  if (typeof v !== 'string' || !/^[A-Za-z0-9+/]+={0,2}$/.test(v)) fail(where, 'must be a base64 string');
  const b = Buffer.from(v, 'base64');
  if (b.length < min || b.length > max) fail(where, `must decode to ${min}..${max} bytes, got ${b.length}`);
  return b;
}

function passwordOf(where: string, v: unknown): ScryptHash {
  const o = object(where, v);
  onlyKeys(where, o, ['algorithm', 'N', 'r', 'p', 'salt', 'hash']);
  if (o.algorithm !== 'scrypt') fail(`${where}.algorithm`, "must be 'scrypt'");
  const params = { N: o.N as number, r: o.r as number, p: o.p as number };
  const problem = scryptParamsProblem(params);
  if (problem !== null) fail(where, problem);
  base64Bytes(`${where}.salt`, o.salt, 16, 64);
  base64Bytes(`${where}.hash`, o.hash, 16, 64);
  return { algorithm: 'scrypt', ...params, salt: o.salt as string, hash: o.hash as string };
}

function userOf(where: string, v: unknown): AuthUser {
  const o = object(where, v);
  onlyKeys(where, o, ['role', 'prefixes', 'password']);
  if (!isRole(o.role)) fail(`${where}.role`, `must be read, readwrite or admin, got ${JSON.stringify(o.role)}`);
  const prefixes = o.prefixes ?? [];
  if (!Array.isArray(prefixes) || prefixes.length > PREFIXES_MAX)
    fail(`${where}.prefixes`, `must be an array of at most ${PREFIXES_MAX} strings`);
  const seen = new Set<string>();
  for (const p of prefixes) {
    if (typeof p !== 'string' || p.length === 0 || Buffer.byteLength(p) > PREFIX_BYTES_MAX)
      fail(`${where}.prefixes`, `each prefix must be a non-empty string of at most ${PREFIX_BYTES_MAX} bytes`);
    if (seen.has(p)) fail(`${where}.prefixes`, `prefix ${JSON.stringify(p)} appears twice`);
    seen.add(p);
  }
  if (o.role === 'admin' && prefixes.length > 0)
    fail(`${where}.prefixes`, 'an admin cannot be limited to prefixes (admin calls span the whole keyspace)');
  return { role: o.role, prefixes: prefixes as string[], password: passwordOf(`${where}.password`, o.password) };
}

/** Parses and validates the file's text; throws TesseraError('CONFIG') naming `path` and the field. */
export function parseAuthFile(path: string, text: string): AuthFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    fail(path, `not valid JSON: ${(e as Error).message}`);
  }
  const o = object(path, json);
  onlyKeys(path, o, ['version', 'tokenSecret', 'tokenTtlSeconds', 'users']);
  if (o.version !== 1) fail(`${path} version`, 'must be 1');
  base64Bytes(`${path} tokenSecret`, o.tokenSecret, SECRET_BYTES, 128);
  const ttl = o.tokenTtlSeconds ?? TOKEN_TTL_SECONDS_DEFAULT;
  if (!Number.isSafeInteger(ttl) || (ttl as number) < TOKEN_TTL_SECONDS_MIN || (ttl as number) > TOKEN_TTL_SECONDS_MAX)
    fail(`${path} tokenTtlSeconds`, `must be an integer in ${TOKEN_TTL_SECONDS_MIN}..${TOKEN_TTL_SECONDS_MAX}`);
  const usersRaw = object(`${path} users`, o.users ?? {});
  const names = Object.keys(usersRaw);
  if (names.length > USERS_MAX) fail(`${path} users`, `at most ${USERS_MAX} users`);
  const users: Record<string, AuthUser> = Object.create(null) as Record<string, AuthUser>;
  for (const name of names) {
    if (!USER_NAME_RE.test(name)) fail(`${path} users`, `user name ${JSON.stringify(name)} must match ${USER_NAME_RE}`);
    users[name] = userOf(`${path} users.${name}`, usersRaw[name]);
  }
  return { version: 1, tokenSecret: o.tokenSecret as string, tokenTtlSeconds: ttl as number, users };
}

/** Reads and validates the file (CONFIG when it is missing, unreadable, too large or invalid). */
export function loadAuthFile(path: string): AuthFile {
  let text: string;
  try {
    const bytes = readFileSync(path);
    if (bytes.length > AUTH_FILE_BYTES_MAX) fail(path, `larger than ${AUTH_FILE_BYTES_MAX} bytes`);
    text = bytes.toString('utf8');
  } catch (e) {
    if (e instanceof TesseraError) throw e;
    fail(path, `cannot read it: ${(e as Error).message}`);
  }
  return parseAuthFile(path, text);
}

/** A new, empty auth file with a fresh random token secret. */
export function newAuthFile(): AuthFile {
  return {
    version: 1,
    tokenSecret: randomBytes(SECRET_BYTES).toString('base64'),
    tokenTtlSeconds: TOKEN_TTL_SECONDS_DEFAULT,
    users: {},
  };
}

/** Digest of a user's record: a token carries it, so changing the user invalidates its old tokens. */
export function userDigest(name: string, user: AuthUser): string {
  const canonical = JSON.stringify([
    name,
    user.role,
    [...user.prefixes].sort(),
    user.password.salt,
    user.password.hash,
  ]);
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 22);
}

/** Writes the file atomically: a temporary file (mode 0600) in the same directory, fsynced, then renamed. */
export function writeAuthFile(path: string, file: AuthFile): void {
  parseAuthFile(path, JSON.stringify(file)); // never write a file a node would refuse
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, JSON.stringify(file, null, 2) + '\n');
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(tmp);
    throw e;
  }
  closeSync(fd);
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}
