/**
 * Access control end to end through the SDK and the CLI, against in-process nodes with --auth-file: the SDK
 * logs in on first use and sends its token on every call (unary and the coalesced Pipeline stream), logs in
 * again when a node says UNAUTHENTICATED (the user changed), and surfaces UNAUTHENTICATED /
 * PERMISSION_DENIED; the CLI's --user (password from TESSERA_PASSWORD) works for every client command, and
 * `tessera user add|list|remove` edits the auth file atomically (mode 0600), which running nodes pick up.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword, loadAuthFile, newAuthFile, writeAuthFile, type AuthFile } from '../../../src/auth';
import { Client } from '../../../src/client';
import { NodeCluster } from '../server/node-cluster';
import { runCliCaptured } from '../cli/run-cli';

const FAST = { N: 1024, r: 8, p: 1 };

let c: NodeCluster;
let dir = '';
let authPath = '';
let file: AuthFile;
const clients: Client[] = [];

function client(extra: Record<string, unknown> = {}): Client {
  const cl = new Client({ endpoints: c.endpoints(), deadlineMs: 8000, ...extra });
  clients.push(cl);
  return cl;
}

const savedEnv = { ...process.env };
afterEach(async () => {
  for (const k of ['TESSERA_PASSWORD', 'TESSERA_USER', 'TESSERA_AUTH_FILE']) {
    if (savedEnv[k] === undefined) delete process.env[k];
    else process.env[k] = savedEnv[k];
  }
  await Promise.all(clients.splice(0).map((cl) => cl.close()));
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-auth-sdk-'));
  authPath = join(dir, 'auth.json');
  file = newAuthFile();
  file.users.writer = { role: 'readwrite', prefixes: [], password: await hashPassword('pw-writer', FAST) };
  file.users.reader = { role: 'read', prefixes: [], password: await hashPassword('pw-reader', FAST) };
  file.users.root = { role: 'admin', prefixes: [], password: await hashPassword('pw-root', FAST) };
  writeAuthFile(authPath, file);
  c = await NodeCluster.start(3, ['--auth-file', authPath]);
  await c.waitForLeader();
}, 30_000);

afterAll(async () => {
  await c?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('the SDK with user and password', () => {
  it('logs in on first use and every kind of call carries the token', async () => {
    const w = client({ user: 'writer', password: 'pw-writer' });
    await w.put('sdk/a', '1');
    // Concurrent single-key calls share the Pipeline stream (coalescer): its ops are checked too.
    await Promise.all(Array.from({ length: 20 }, (_, i) => w.put(`sdk/p${i}`, String(i))));
    expect((await w.get('sdk/p7'))?.toString()).toBe('7');
    expect((await w.compareAndSwap('sdk/a', '1', '2')).succeeded).toBe(true);
    expect((await w.batch({ ops: [{ op: 'put', key: 'sdk/b', value: 'x' }] })).succeeded).toBe(true);
    const keys: string[] = [];
    for await (const page of w.scan('sdk/', 'sdk0')) keys.push(...page.items.map((kv) => kv.key.toString()));
    expect(keys).toHaveLength(22);
    expect(await w.delete('sdk/b')).toBe(true);
    expect((await w.status({ endpoint: c.endpoints()[1] })).nodeId).toBe(2);
  });

  it('without credentials, or with a wrong password, calls fail with UNAUTHENTICATED', async () => {
    await expect(client().put('sdk/x', '1')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(client({ user: 'writer', password: 'wrong' }).get('sdk/a')).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
    });
    expect(() => client({ user: 'writer' })).toThrow(/user and password go together/);
  });

  it('a read-only user reads, and its writes fail with PERMISSION_DENIED', async () => {
    const r = client({ user: 'reader', password: 'pw-reader' });
    expect((await r.get('sdk/a'))?.toString()).toBe('2');
    await expect(r.put('sdk/a', 'no')).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    await expect(r.batch({ ops: [{ op: 'delete', key: 'sdk/a' }] })).rejects.toMatchObject({
      code: 'PERMISSION_DENIED',
    });
  });

  it('an admin splits a shard and lists nodes; a readwrite user is refused both', async () => {
    const w = client({ user: 'writer', password: 'pw-writer' });
    await expect(w.splitShard('sdk/m')).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    await expect(w.listNodes()).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
    const shardsBefore = (await w.listShards()).length;
    const root = client({ user: 'root', password: 'pw-root' });
    const split = await root.splitShard('sdk/m', { timeoutMs: 15_000 });
    expect(split.right.start.toString()).toBe('sdk/m');
    expect((await w.listShards()).length).toBe(shardsBefore + 1);
    expect((await root.listNodes()).map((n) => n.id).sort()).toEqual([1, 2, 3]);
  });

  it('logs in again when the nodes stop accepting its token (the user was changed)', async () => {
    const w = client({ user: 'writer', password: 'pw-writer' });
    await w.put('sdk/relogin', '1');
    const generation = () => (w as any).router.endpoints()[0].auth.generation as number;
    const before = generation();
    // Same password, new hash: the user's record digest changes, so its old tokens stop working.
    file.users.writer = { ...file.users.writer!, password: await hashPassword('pw-writer', FAST) };
    writeAuthFile(authPath, file);
    let done = false;
    const t0 = Date.now();
    while (!done && Date.now() - t0 < 10_000) {
      await Promise.all([w.put('sdk/relogin', '2'), w.get('sdk/relogin'), w.put('sdk/relogin2', '2')]);
      done = generation() > before;
      if (!done) await new Promise((r) => setTimeout(r, 250));
    }
    expect(generation()).toBeGreaterThan(before);
    expect((await w.get('sdk/relogin'))?.toString()).toBe('2');
  });
});

describe('the CLI', () => {
  it('--user with TESSERA_PASSWORD works for client commands; without it the cluster refuses', async () => {
    const endpoints = c.endpoints().join(',');
    process.env.TESSERA_PASSWORD = 'pw-writer';
    expect((await runCliCaptured(['put', 'cli/k', 'v', '--user', 'writer', '--endpoints', endpoints])).code).toBe(0);
    const got = await runCliCaptured(['get', 'cli/k', '--user', 'writer', '--endpoints', endpoints]);
    expect(got.out).toBe('v');
    const status = await runCliCaptured(['status', '--user', 'writer', '--endpoints', endpoints]);
    expect(status.code).toBe(0);
    delete process.env.TESSERA_PASSWORD;
    const anonymous = await runCliCaptured(['get', 'cli/k', '--endpoints', endpoints]);
    expect(anonymous.code).toBe(1);
    expect(anonymous.err).toMatch(/requires authentication/);
    // No password and no terminal to ask on: a usage error, nothing sent.
    const noPassword = await runCliCaptured(['get', 'cli/k', '--user', 'writer', '--endpoints', endpoints]);
    expect(noPassword.code).toBe(2);
    expect(noPassword.err).toMatch(/TESSERA_PASSWORD/);
  });

  it('user add creates the file (0600) and the user, and running nodes accept it; list and remove', async () => {
    const fresh = join(dir, 'new-auth.json');
    process.env.TESSERA_PASSWORD = 'pw-new';
    const add = await runCliCaptured([
      'user',
      'add',
      'neo',
      '--role',
      'readwrite',
      '--prefix',
      'app/',
      '--auth-file',
      fresh,
    ]);
    expect(add.code).toBe(0);
    expect(add.out).toMatch(/added user 'neo'.*new auth file/);
    expect((await stat(fresh)).mode & 0o777).toBe(0o600);
    const created = loadAuthFile(fresh);
    expect(created.users.neo).toMatchObject({ role: 'readwrite', prefixes: ['app/'] });
    const upd = await runCliCaptured(['user', 'add', 'neo', '--role', 'read', '--auth-file', fresh]);
    expect(upd.out).toMatch(/updated user 'neo'/);
    expect(loadAuthFile(fresh).tokenSecret).toBe(created.tokenSecret);
    expect((await runCliCaptured(['user', 'list', '--auth-file', fresh])).out).toBe('neo\tread\t');
    expect((await runCliCaptured(['user', 'remove', 'neo', '--auth-file', fresh])).code).toBe(0);
    expect(loadAuthFile(fresh).users).toEqual({});
    const bad = await runCliCaptured(['user', 'add', 'x', '--role', 'owner', '--auth-file', fresh]);
    expect(bad.code).toBe(2);
    process.env.TESSERA_PASSWORD = '';
    const empty = await runCliCaptured(['user', 'add', 'x', '--role', 'read', '--auth-file', fresh]);
    expect(empty.code).toBe(2);

    // Into the cluster's own file: the nodes reload it and the new user logs in.
    process.env.TESSERA_PASSWORD = 'pw-app';
    expect(
      (await runCliCaptured(['user', 'add', 'app', '--role', 'readwrite', '--prefix', 'app/', '--auth-file', authPath]))
        .code,
    ).toBe(0);
    const app = client({ user: 'app', password: 'pw-app' });
    let ok = false;
    const t0 = Date.now();
    while (!ok && Date.now() - t0 < 10_000) {
      ok = await app.put('app/1', 'x').then(
        () => true,
        () => false,
      );
      if (!ok) await new Promise((r) => setTimeout(r, 250));
    }
    expect(ok).toBe(true);
    await expect(app.put('other', 'x')).rejects.toMatchObject({ code: 'PERMISSION_DENIED' });
  });
});
