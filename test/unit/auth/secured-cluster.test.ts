/**
 * A cluster with access control (--auth-file), driven through raw gRPC calls: for EACH method of the KV and
 * Admin services (enumerated from the loaded protos, so a new method is covered without editing this
 * file), a call without a token or with a bad one is UNAUTHENTICATED and changes nothing; a read-only user
 * cannot write; a prefix user cannot touch other prefixes; only an admin makes admin calls; a token issued
 * by one node works on the others.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  hashPassword,
  methodPolicyNames,
  newAuthFile,
  signToken,
  userDigest,
  writeAuthFile,
  type AuthFile,
} from '../../../src/auth';
import { NodeCluster } from '../server/node-cluster';
import { callWithToken, methodsOf, type CallResult, type ServiceName } from './raw-auth-call';

const FAST = { N: 1024, r: 8, p: 1 };
const b = (s: string) => Buffer.from(s);
const EMPTY = Buffer.alloc(0);

let c: NodeCluster;
let dir = '';
let authPath = '';
let file: AuthFile;
const tokens: Record<string, string> = {};

const USERS = {
  root: { role: 'admin', prefixes: [] },
  writer: { role: 'readwrite', prefixes: [] },
  reader: { role: 'read', prefixes: [] },
  app: { role: 'readwrite', prefixes: ['app/'] },
} as const;

const port = (id: number) => c.ports.get(id)!;

/** The port of the node leading the shard of `key`. */
function leaderPortFor(key: Buffer): number {
  for (const [id, n] of c.nodes) if (n.host.groupStatus(n.host.groupFor(key)).role === 'leader') return port(id);
  throw new Error('no leader for the key');
}

async function ok(r: Promise<CallResult>): Promise<any> {
  const { err, res } = await r;
  if (err) throw err;
  return res;
}

async function login(user: string, password: string, nodeId = 1): Promise<string> {
  return (await ok(callWithToken(port(nodeId), 'Auth', 'Login', { user, password }, null))).token;
}

async function waitFor(cond: () => boolean, ms = 8000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Everything a refused call could change: the data, the shards, the nodes, and every group's log. */
async function state(): Promise<string> {
  const scan = await ok(callWithToken(leaderPortFor(EMPTY), 'KV', 'Scan', { start: EMPTY, end: EMPTY }, tokens.root!));
  const shards = await ok(callWithToken(port(1), 'Admin', 'ListShards', {}, tokens.root!));
  const logs = [...c.nodes].flatMap(([id, n]) =>
    n.host.groupIds().map((g) => {
      const s = n.host.groupStatus(g);
      return `${id}/${g}:${s.lastIndex}:${s.members.map((m) => `${m.id}${m.voter ? 'v' : 'l'}`).join(',')}`;
    }),
  );
  return JSON.stringify({
    data: scan.items.map((kv: any) => [kv.key.toString(), kv.value.toString()]),
    shards: shards.shards.map((s: any) => [s.id, s.start.toString('hex'), s.end.toString('hex'), s.epoch]),
    logs: logs.sort(),
  });
}

/** A request for each method that would change something (or read something) if it were allowed. */
function sampleRequest(service: ServiceName, method: string): unknown {
  const samples: Record<string, unknown> = {
    'KV.Get': { key: b('k1') },
    'KV.Put': { key: b('new-key'), value: b('v') },
    'KV.Delete': { key: b('k1') },
    'KV.CompareAndSwap': { key: b('k1'), expected: b('v1'), value: b('changed') },
    'KV.Scan': { start: EMPTY, end: EMPTY },
    'KV.Batch': { ops: [{ put: { key: b('batch-key'), value: b('v') } }] },
    'KV.Multi': { ops: [{ put: { key: b('multi-key'), value: b('v') } }] },
    'KV.Pipeline': { ops: [{ id: 1, timeoutMs: 2000, put: { key: b('pipe-key'), value: b('v') } }] },
    'KV.OpenSession': { clientId: Buffer.alloc(16, 9), key: b('k1') },
    'Admin.AddNode': { id: 9, address: '127.0.0.1:1', learner: true },
    'Admin.RemoveNode': { id: 3 },
    'Admin.TransferLeader': { groupId: 0, to: 2 },
    'Admin.Digest': { groupId: 0 },
    'Admin.SplitShard': { key: b('m') },
    'Admin.MoveReplica': { shardId: 1, from: 1, to: 2 },
    'Admin.SetNodeState': { id: 3, state: 'draining' },
    'Admin.BackupShard': { shardId: 1 },
  };
  return samples[`${service}.${method}`] ?? {};
}

const ALL = (['KV', 'Admin'] as const).flatMap((s) => methodsOf(s).map((m) => ({ service: s, method: m.name })));
const ALL_ROWS = ALL.map((m) => [m.service, m.method] as const);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-auth-cluster-'));
  authPath = join(dir, 'auth.json');
  file = newAuthFile();
  for (const [name, u] of Object.entries(USERS))
    file.users[name] = { role: u.role, prefixes: [...u.prefixes], password: await hashPassword(`pw-${name}`, FAST) };
  writeAuthFile(authPath, file);
  c = await NodeCluster.start(3, ['--auth-file', authPath]);
  await c.waitForLeader();
  for (const name of Object.keys(USERS)) tokens[name] = await login(name, `pw-${name}`);
  await waitFor(() => {
    try {
      leaderPortFor(EMPTY);
      return true;
    } catch {
      return false;
    }
  });
  for (const [k, v] of [
    ['k1', 'v1'],
    ['app/a', '1'],
  ])
    await ok(callWithToken(leaderPortFor(b(k)), 'KV', 'Put', { key: b(k), value: b(v) }, tokens.root!));
}, 30_000);

afterAll(async () => {
  await c?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('a secured cluster', () => {
  it('has an access rule of its own for every method of the KV and Admin services', () => {
    const rules = new Set(methodPolicyNames());
    const missing = ALL.map((m) => `${m.service}.${m.method}`).filter((name) => !rules.has(name));
    expect(missing).toEqual([]);
    expect(ALL.length).toBeGreaterThanOrEqual(19);
  });

  it.each(ALL_ROWS)(
    '%s.%s without a token, or with a bad one, is UNAUTHENTICATED and changes nothing',
    async (service, method) => {
      const before = await state();
      const other = signToken(Buffer.alloc(32, 1), { user: 'root', digest: 'x', expiresAtMs: Date.now() + 60_000 });
      const root = file.users.root!;
      const expired = signToken(Buffer.from(file.tokenSecret, 'base64'), {
        user: 'root',
        digest: userDigest('root', root),
        expiresAtMs: Date.now() - 1,
      });
      const target = service === 'KV' ? leaderPortFor(b('k1')) : port(1);
      for (const token of [null, 'garbage', other, expired, `${tokens.root}x`]) {
        const { err } = await callWithToken(target, service, method, sampleRequest(service, method), token);
        expect(err?.code, `${service}.${method} with token ${String(token).slice(0, 12)}`).toBe(
          grpc.status.UNAUTHENTICATED,
        );
        expect(err?.metadata.get('tessera-reason')[0]).toBe('UNAUTHENTICATED');
      }
      expect(await state()).toBe(before);
    },
  );

  it('a read-only user reads but cannot write; nothing changes', async () => {
    const before = await state();
    const t = tokens.reader!;
    const leader = leaderPortFor(b('k1'));
    expect((await ok(callWithToken(leader, 'KV', 'Get', { key: b('k1') }, t))).value.toString()).toBe('v1');
    for (const method of ['Put', 'Delete', 'CompareAndSwap', 'Batch', 'Multi', 'OpenSession']) {
      const { err } = await callWithToken(leader, 'KV', method, sampleRequest('KV', method), t);
      expect(err?.code, method).toBe(grpc.status.PERMISSION_DENIED);
    }
    const piped = await ok(callWithToken(leader, 'KV', 'Pipeline', sampleRequest('KV', 'Pipeline'), t));
    expect(piped[0].results[0].error.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(await state()).toBe(before);
  });

  it('a prefix user touches its prefix only: keys, every key of a batch, scan ranges, pipeline ops', async () => {
    const t = tokens.app!;
    const leader = leaderPortFor(b('app/x'));
    await ok(callWithToken(leader, 'KV', 'Put', { key: b('app/x'), value: b('y') }, t));
    const before = await state();
    const denied = async (method: string, req: unknown) =>
      expect((await callWithToken(leader, 'KV', method, req, t)).err?.code, method).toBe(grpc.status.PERMISSION_DENIED);
    await denied('Put', { key: b('k1'), value: b('stolen') });
    await denied('Get', { key: b('k1') });
    await denied('Batch', {
      ops: [{ put: { key: b('app/y'), value: b('1') } }, { put: { key: b('k1'), value: b('2') } }],
    });
    await denied('Multi', { ops: [{ put: { key: b('app/y'), value: b('1') } }, { delete: { key: b('k1') } }] });
    await denied('Scan', { start: b('app/'), end: EMPTY });
    await denied('Scan', { start: EMPTY, end: b('app/z') });
    const inside = await ok(callWithToken(leader, 'KV', 'Scan', { start: b('app/'), end: b('app0') }, t));
    expect(inside.items.map((kv: any) => kv.key.toString())).toEqual(['app/a', 'app/x']);
    const piped = await ok(
      callWithToken(
        leader,
        'KV',
        'Pipeline',
        {
          ops: [
            { id: 1, timeoutMs: 2000, get: { key: b('app/a') } },
            { id: 2, timeoutMs: 2000, delete: { key: b('k1') } },
          ],
        },
        t,
      ),
    );
    const results = piped.flatMap((m: any) => m.results);
    expect(results.find((r: any) => r.index === 1).get.value.toString()).toBe('1');
    expect(results.find((r: any) => r.index === 2).error.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(await state()).toBe(before);
  });

  it('only an admin makes admin calls; routing calls (Status, ListShards) are open to every user', async () => {
    const before = await state();
    for (const { name } of methodsOf('Admin')) {
      const { err } = await callWithToken(port(1), 'Admin', name, sampleRequest('Admin', name), tokens.writer!);
      if (name === 'Status' || name === 'ListShards') expect(err, name).toBeNull();
      else expect(err?.code, name).toBe(grpc.status.PERMISSION_DENIED);
    }
    expect(await state()).toBe(before);
    const nodes = await ok(callWithToken(c.ports.get(1)!, 'Admin', 'ListNodes', {}, tokens.root!)).catch(
      (e: grpc.ServiceError) => e,
    );
    // ListNodes is answered by the meta leader: any answer but an auth refusal shows the admin got through.
    expect([grpc.status.UNAUTHENTICATED, grpc.status.PERMISSION_DENIED]).not.toContain((nodes as any).code);
    const digest = await ok(callWithToken(leaderPortFor(EMPTY), 'Admin', 'Digest', { groupId: 0 }, tokens.root!));
    expect(digest.keyCount).toBeGreaterThanOrEqual(2);
  });

  it('a token issued by node 1 works on nodes 2 and 3', async () => {
    const t = await login('writer', 'pw-writer', 1);
    for (const id of [2, 3]) expect((await ok(callWithToken(port(id), 'Admin', 'Status', {}, t))).nodeId).toBe(id);
    await ok(callWithToken(leaderPortFor(b('from-node-1')), 'KV', 'Put', { key: b('from-node-1'), value: b('1') }, t));
  });

  it('refuses a wrong password with UNAUTHENTICATED, the same for an unknown user', async () => {
    for (const [user, pw] of [
      ['writer', 'wrong'],
      ['nobody', 'pw-writer'],
    ]) {
      const { err } = await callWithToken(port(2), 'Auth', 'Login', { user, password: pw }, null);
      expect(err?.code).toBe(grpc.status.UNAUTHENTICATED);
      expect(err?.details).toBe('invalid user name or password');
    }
  });

  it('counts refusals by code and logins by result (tessera_auth_refused_total, tessera_logins_total)', async () => {
    const text = async (name: string) =>
      (await Promise.all([...c.nodes.values()].map((n) => n.metrics.registry.getSingleMetricAsString(name)))).join(
        '\n',
      );
    const sum = (t: string, labels: string) =>
      [...t.matchAll(new RegExp(`\\{${labels}\\} (\\d+)`, 'g'))].reduce((a, m) => a + Number(m[1]), 0);
    const refused = await text('tessera_auth_refused_total');
    expect(sum(refused, 'code="UNAUTHENTICATED"')).toBeGreaterThanOrEqual(5 * ALL.length);
    expect(sum(refused, 'code="PERMISSION_DENIED"')).toBeGreaterThan(0);
    const logins = await text('tessera_logins_total');
    expect(sum(logins, 'result="ok"')).toBeGreaterThanOrEqual(Object.keys(USERS).length);
    expect(sum(logins, 'result="refused"')).toBeGreaterThanOrEqual(2);
  });

  it('picks up a user added to the file while the nodes run', async () => {
    file.users.late = { role: 'read', prefixes: [], password: await hashPassword('pw-late', FAST) };
    writeAuthFile(authPath, file);
    let token: string | null = null;
    const t0 = Date.now();
    while (token === null && Date.now() - t0 < 10_000) {
      token = await login('late', 'pw-late', 3).catch(() => null);
      if (token === null) await new Promise((r) => setTimeout(r, 200));
    }
    expect(token).not.toBeNull();
    // An invalid file is ignored (the last valid one stays).
    await writeFile(authPath, '{"version": 1}');
    await new Promise((r) => setTimeout(r, 2500));
    expect(await login('late', 'pw-late', 3)).toMatch(/^t1\./);
  });
});
