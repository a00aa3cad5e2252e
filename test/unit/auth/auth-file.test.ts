import { mkdtemp, readFile, rm, stat, writeFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  hashPassword,
  loadAuthFile,
  newAuthFile,
  parseAuthFile,
  verifyPassword,
  writeAuthFile,
  type AuthFile,
} from '../../../src/auth';

const FAST = { N: 1024, r: 8, p: 1 };

let dir = '';
let valid: AuthFile;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-auth-file-'));
  valid = newAuthFile();
  valid.users.alice = { role: 'readwrite', prefixes: ['app/'], password: await hashPassword('secret-a', FAST) };
  valid.users.root = { role: 'admin', prefixes: [], password: await hashPassword('secret-r', FAST) };
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const mutate = (f: (o: Record<string, any>) => void): string => {
  const o = JSON.parse(JSON.stringify(valid));
  f(o);
  return JSON.stringify(o);
};

describe('auth file', () => {
  it('round-trips a valid file written atomically with mode 0600', async () => {
    const path = join(dir, 'auth.json');
    writeAuthFile(path, valid);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(loadAuthFile(path)).toEqual(valid);
    // No temporary file is left behind.
    expect(await readdir(dir)).toEqual(['auth.json']);
  });

  it.each([
    ['not JSON', () => '{', /not valid JSON/],
    ['an unknown top-level key', () => mutate((o) => (o.extra = 1)), /unknown key 'extra'/],
    ['a wrong version', () => mutate((o) => (o.version = 2)), /version: must be 1/],
    ['a short token secret', () => mutate((o) => (o.tokenSecret = 'c2hvcnQ=')), /tokenSecret: must decode to 32/],
    ['a missing token secret', () => mutate((o) => delete o.tokenSecret), /tokenSecret: must be a base64/],
    [
      'a bad role',
      () => mutate((o) => (o.users.alice.role = 'owner')),
      /users.alice.role: must be read, readwrite or admin/,
    ],
    ['a bad user name', () => mutate((o) => (o.users['bad name'] = o.users.alice)), /user name "bad name"/],
    ['a prefix on an admin', () => mutate((o) => (o.users.root.prefixes = ['x'])), /an admin cannot be limited/],
    ['an empty prefix', () => mutate((o) => (o.users.alice.prefixes = [''])), /each prefix must be a non-empty/],
    ['a duplicate prefix', () => mutate((o) => (o.users.alice.prefixes = ['a', 'a'])), /appears twice/],
    ['scrypt N not a power of two', () => mutate((o) => (o.users.alice.password.N = 1000)), /N must be a power of two/],
    [
      'scrypt memory too large',
      () => mutate((o) => (o.users.alice.password.N = 2 ** 20)),
      /128\*N\*r\*p must be at most/,
    ],
    ['a short salt', () => mutate((o) => (o.users.alice.password.salt = 'AAAA')), /salt: must decode to 16/],
    ['another algorithm', () => mutate((o) => (o.users.alice.password.algorithm = 'md5')), /must be 'scrypt'/],
    ['an unknown user key', () => mutate((o) => (o.users.alice.email = 'x')), /unknown key 'email'/],
    ['a token lifetime out of range', () => mutate((o) => (o.tokenTtlSeconds = 1)), /tokenTtlSeconds/],
  ])('refuses %s with a CONFIG error naming the file', (_what, text, message) => {
    let err: any;
    try {
      parseAuthFile('/etc/tessera/auth.json', text());
    } catch (e) {
      err = e;
    }
    expect(err?.code).toBe('CONFIG');
    expect(err.message).toMatch(/^auth file \/etc\/tessera\/auth.json/);
    expect(err.message).toMatch(message);
  });

  it('refuses a missing file with CONFIG', () => {
    expect(() => loadAuthFile(join(dir, 'missing.json'))).toThrow(/auth file .*missing.json: cannot read it/);
  });

  it('never writes a file a node would refuse', async () => {
    const path = join(dir, 'refused.json');
    const bad = { ...valid, tokenSecret: 'c2hvcnQ=' };
    expect(() => writeAuthFile(path, bad)).toThrow(/tokenSecret/);
    await expect(readFile(path)).rejects.toThrow(/ENOENT/);
    await writeFile(path, 'x');
  });
});

describe('password hashes', () => {
  it('verifies the right password only, with a fresh salt per hash', async () => {
    const a = await hashPassword('correct horse', FAST);
    const b = await hashPassword('correct horse', FAST);
    expect(a.salt).not.toBe(b.salt);
    expect(a.hash).not.toBe(b.hash);
    expect(await verifyPassword('correct horse', a)).toBe(true);
    expect(await verifyPassword('correct horsf', a)).toBe(false);
    expect(await verifyPassword('', a)).toBe(false);
    expect(await verifyPassword('x'.repeat(2000), a)).toBe(false);
  });

  it('refuses parameters out of bounds', async () => {
    await expect(hashPassword('x', { N: 3, r: 8, p: 1 })).rejects.toThrow(/power of two/);
  });
});
