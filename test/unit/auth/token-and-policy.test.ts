import { describe, expect, it } from 'vitest';
import {
  Authenticator,
  LoginGate,
  authorize,
  hashPassword,
  newAuthFile,
  prefixEnd,
  requirementOf,
  signToken,
  verifyToken,
  type Principal,
} from '../../../src/auth';

const FAST = { N: 1024, r: 8, p: 1 };
const secret = Buffer.alloc(32, 7);
const b = (s: string) => Buffer.from(s);

describe('tokens', () => {
  const claims = { user: 'alice', digest: 'd1', expiresAtMs: 10_000 };

  it('verifies a token it signed until it expires', () => {
    const t = signToken(secret, claims);
    expect(verifyToken(secret, t, 9_999)).toEqual({ ok: true, claims });
    expect(verifyToken(secret, t, 10_000)).toMatchObject({ ok: false, reason: /expired/ });
  });

  it('refuses a token signed with another secret, altered, or malformed', () => {
    const t = signToken(secret, claims);
    expect(verifyToken(Buffer.alloc(32, 8), t, 0)).toMatchObject({ ok: false, reason: /signature/ });
    const [v, payload, mac] = t.split('.') as [string, string, string];
    const forged = Buffer.from(JSON.stringify({ u: 'root', d: 'd1', x: 10_000 })).toString('base64url');
    expect(verifyToken(secret, `${v}.${forged}.${mac}`, 0)).toMatchObject({ ok: false, reason: /signature/ });
    const flipped = mac.slice(0, -2) + (mac.endsWith('AA') ? 'AB' : 'AA');
    expect(verifyToken(secret, `${v}.${payload}.${flipped}`, 0)).toMatchObject({ ok: false });
    for (const bad of ['', 'x', 'a.b', `t2.${payload}.${mac}`, 'x'.repeat(5000)])
      expect(verifyToken(secret, bad, 0)).toMatchObject({ ok: false, reason: /malformed/ });
  });
});

describe('Authenticator', () => {
  async function setup(now: { ms: number }) {
    const file = newAuthFile();
    file.tokenTtlSeconds = 60;
    file.users.alice = { role: 'read', prefixes: [], password: await hashPassword('pw-alice', FAST) };
    return { file, auth: new Authenticator(file, () => now.ms) };
  }

  it('logs in with the right password; the token works on another Authenticator of the same file', async () => {
    const now = { ms: 1_000_000 };
    const { file, auth } = await setup(now);
    const { token, expiresAtMs } = await auth.login('alice', 'pw-alice');
    expect(expiresAtMs).toBe(1_060_000);
    const other = new Authenticator(JSON.parse(JSON.stringify(file)), () => now.ms);
    expect(other.verify(token)).toMatchObject({ user: 'alice', role: 'read' });
    now.ms = 1_060_000;
    expect(() => other.verify(token)).toThrow(expect.objectContaining({ code: 'UNAUTHENTICATED' }));
  });

  it('refuses a wrong password and an unknown user with the same UNAUTHENTICATED message', async () => {
    const { auth } = await setup({ ms: 0 });
    const e1 = await auth.login('alice', 'nope').catch((e: unknown) => e);
    const e2 = await auth.login('mallory', 'pw-alice').catch((e: unknown) => e);
    const e3 = await auth.login('x'.repeat(100), 'p').catch((e: unknown) => e);
    const e4 = await auth.login('alice', 'p'.repeat(5000)).catch((e: unknown) => e);
    for (const e of [e1, e2, e3, e4])
      expect(e).toMatchObject({ code: 'UNAUTHENTICATED', message: 'invalid user name or password' });
  });

  it('stops accepting a user’s tokens once the user is changed or removed', async () => {
    const now = { ms: 0 };
    const { file, auth } = await setup(now);
    const { token } = await auth.login('alice', 'pw-alice');
    expect(auth.verify(token).role).toBe('read'); // now remembered as verified
    file.users.alice = { ...file.users.alice!, role: 'readwrite' };
    auth.replace(file);
    expect(() => auth.verify(token)).toThrow(/removed or changed/);
    expect(() => auth.verify(null)).toThrow(/requires authentication/);
  });

  it('bounds concurrent password checks: past the waiting room a login is RESOURCE_EXHAUSTED', async () => {
    const gate = new LoginGate(1, 1);
    let release!: () => void;
    const held = gate.run(() => new Promise<void>((r) => (release = r)));
    const waiting = gate.run(async () => 'second');
    await expect(gate.run(async () => 'third')).rejects.toMatchObject({ code: 'RESOURCE_EXHAUSTED' });
    expect(gate.load).toEqual({ running: 1, waiting: 1 });
    release();
    await held;
    expect(await waiting).toBe('second');
    expect(gate.load).toEqual({ running: 0, waiting: 0 });
  });
});

describe('roles and prefix grants', () => {
  const reader: Principal = { user: 'r', role: 'read', prefixes: [] };
  const appWriter: Principal = { user: 'w', role: 'readwrite', prefixes: [b('app/')] };
  const admin: Principal = { user: 'a', role: 'admin', prefixes: [] };

  it('orders roles: read < readwrite < admin', () => {
    expect(authorize(reader, requirementOf('KV.Get', { key: b('k') })).ok).toBe(true);
    expect(authorize(reader, requirementOf('KV.Put', { key: b('k') })).ok).toBe(false);
    expect(authorize(appWriter, requirementOf('Admin.AddNode', {})).ok).toBe(false);
    expect(authorize(admin, requirementOf('Admin.AddNode', {})).ok).toBe(true);
    expect(authorize(admin, requirementOf('KV.Put', { key: b('anything') })).ok).toBe(true);
    // The SDK routes with Status and ListShards: any user may call them.
    expect(authorize(reader, requirementOf('Admin.ListShards', {})).ok).toBe(true);
    // A method nobody listed needs admin (fail closed).
    expect(requirementOf('Admin.SomethingNew', {}).role).toBe('admin');
  });

  it('limits keys to the prefixes, for every key of a batch and a multi', () => {
    expect(authorize(appWriter, requirementOf('KV.Put', { key: b('app/x') })).ok).toBe(true);
    expect(authorize(appWriter, requirementOf('KV.Put', { key: b('other') }))).toMatchObject({
      ok: false,
      reason: /outside its key prefixes/,
    });
    const batch = { compares: [{ key: b('app/c') }], ops: [{ put: { key: b('app/a') } }, { get: { key: b('zzz') } }] };
    expect(authorize(appWriter, requirementOf('KV.Batch', batch)).ok).toBe(false);
    batch.ops[1] = { get: { key: b('app/z') } };
    expect(authorize(appWriter, requirementOf('KV.Batch', batch)).ok).toBe(true);
    batch.compares[0] = { key: b('nope') };
    expect(authorize(appWriter, requirementOf('KV.Batch', batch)).ok).toBe(false);
    const multi = { ops: [{ get: { key: b('app/1') } }, { delete: { key: b('x') } }] };
    expect(authorize(appWriter, requirementOf('KV.Multi', multi)).ok).toBe(false);
    // A batch of reads only needs read; one put makes it a write.
    expect(requirementOf('KV.Batch', { ops: [{ get: { key: b('k') } }] }).role).toBe('read');
    expect(requirementOf('KV.Batch', { ops: [{ op: 'delete', delete: { key: b('k') } }] }).role).toBe('readwrite');
  });

  it('refuses a scan range outside one prefix (an open end, a start before it, an end past it)', () => {
    const scan = (start: string, end: string) =>
      authorize(appWriter, requirementOf('KV.Scan', { start: b(start), end: b(end) })).ok;
    expect(scan('app/', 'app0')).toBe(true);
    expect(scan('app/a', 'app/b')).toBe(true);
    expect(scan('app/', '')).toBe(false);
    expect(scan('', 'app/z')).toBe(false);
    expect(scan('app/', 'app1')).toBe(false);
    expect(authorize(reader, requirementOf('KV.Scan', { start: b(''), end: b('') })).ok).toBe(true);
  });

  it('computes the end of a prefix range', () => {
    expect(prefixEnd(b('app/'))).toEqual(b('app0'));
    expect(prefixEnd(Buffer.from([0x61, 0xff]))).toEqual(Buffer.from([0x62]));
    expect(prefixEnd(Buffer.from([0xff, 0xff]))).toEqual(Buffer.alloc(0));
  });

  it('reads hostile requests defensively (wrong types count as empty keys)', () => {
    expect(authorize(appWriter, requirementOf('KV.Put', { key: 'app/x' })).ok).toBe(false);
    expect(authorize(appWriter, requirementOf('KV.Multi', { ops: 'x' })).ok).toBe(true);
    expect(authorize(appWriter, requirementOf('KV.Get', null)).ok).toBe(false);
  });
});
