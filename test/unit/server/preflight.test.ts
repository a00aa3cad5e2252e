import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TesseraError } from '../../../src/base';
import { loadNodeConfig, type NodeConfig } from '../../../src/config';
import type { Logger } from '../../../src/obs';
import { bounded, checkDataDir, checkPorts, establishIdentity } from '../../../src/server/preflight';
import { NodeStore, deriveClusterId, loadIdentity, saveIdentity } from '../../../src/storage';
import { tempDir } from '../storage/temp-dir';

// Preflight (resources before the store opens) and the identity checks once it is open, on real
// directories, sockets and a real NodeStore. Permissions (uid 65534) are tested with real processes in
// test/integration/identity.test.ts: as root access(W_OK) always passes.

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function scratch(): Promise<string> {
  const t = await tempDir('tessera-preflight-');
  cleanups.push(t.cleanup);
  return t.dir;
}

async function refusal(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(TesseraError);
  expect((e as TesseraError).code).toBe('CONFIG');
  return (e as Error).message;
}

function listen(port = 0): Promise<Server> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve(s));
  });
}

const portOf = (s: Server) => (s.address() as { port: number }).port;
const close = (s: Server) => new Promise<void>((r) => s.close(() => r()));

describe('checkDataDir', () => {
  it('accepts an existing writable directory and a path it can create, creating nothing', async () => {
    const dir = await scratch();
    await checkDataDir(dir);
    await checkDataDir(join(dir, 'a', 'b', 'c'));
    mkdirSync(join(dir, 'db'));
    await checkDataDir(dir);
  });

  it('refuses kernel filesystems, files in the way and a symlink into /proc, naming the flag', async () => {
    const dir = await scratch();
    const file = join(dir, 'f');
    writeFileSync(file, 'x');
    expect(await refusal(checkDataDir('/proc/nope'))).toMatch(
      /^--data-dir \/proc\/nope: \/proc\/nope is under \/proc, a kernel filesystem/,
    );
    expect(await refusal(checkDataDir('/dev/shm/x'))).toMatch(/is under \/dev/);
    expect(await refusal(checkDataDir(file))).toMatch(/exists and is not a directory/);
    expect(await refusal(checkDataDir(join(file, 'sub', 'deeper')))).toMatch(
      /cannot create .*regular file, not a directory/,
    );
    symlinkSync('/proc/self', join(dir, 'link'));
    expect(await refusal(checkDataDir(join(dir, 'link', 'nope')))).toMatch(
      /link resolves to \/proc\/\d+ under \/proc, a kernel filesystem/,
    );
    mkdirSync(join(dir, 'd2'));
    writeFileSync(join(dir, 'd2', 'db'), 'x');
    expect(await refusal(checkDataDir(join(dir, 'd2')))).toMatch(/d2\/db exists and is not a directory/);
  });

  it('bounds a probe that never finishes', async () => {
    const t0 = Date.now();
    expect(await refusal(bounded(new Promise(() => undefined), 100, '--data-dir /x: stat /x'))).toBe(
      '--data-dir /x: stat /x did not finish within 100 ms',
    );
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});

describe('checkPorts', () => {
  it('refuses a port in use naming the flag and the address, and two flags on one port; releases what it bound', async () => {
    const used = await listen();
    cleanups.push(() => close(used));
    const port = portOf(used);
    expect(await refusal(checkPorts([{ flag: '--http', address: { host: '127.0.0.1', port } }]))).toBe(
      `--http 127.0.0.1:${port}: cannot listen: the address is in use (another process, or another of this node's flags, listens there)`,
    );
    const free = await listen();
    const freePort = portOf(free);
    await close(free);
    const both = [
      { flag: '--listen', address: { host: '127.0.0.1', port: freePort } },
      { flag: '--http', address: { host: '127.0.0.1', port: freePort } },
    ];
    expect(await refusal(checkPorts(both))).toMatch(
      new RegExp(`^--http 127\\.0\\.0\\.1:${freePort}: cannot listen: the address is in use`),
    );
    await checkPorts([
      { flag: '--listen', address: { host: '127.0.0.1', port: freePort } },
      { flag: '--http', address: { host: '127.0.0.1', port: 0 } },
    ]);
    // Released: it can be bound again.
    await close(await listen(freePort));
  });
});

function capture(): { logger: Logger; lines: { level: string; msg: string }[] } {
  const lines: { level: string; msg: string }[] = [];
  const at = (level: string) => (_: object, msg?: string) => lines.push({ level, msg: msg ?? '' });
  const logger: Logger = {
    fatal: at('fatal'),
    error: at('error'),
    warn: at('warn'),
    info: at('info'),
    debug: at('debug'),
    child: () => logger,
  };
  return { logger, lines };
}

const PEERS = '1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003';

function configOf(dir: string, extra: string[] = [], id = 1, peers = PEERS): NodeConfig {
  return loadNodeConfig({
    argv: ['--id', String(id), '--listen', `127.0.0.1:${7000 + id}`, '--peers', peers, '--data-dir', dir, ...extra],
    env: {},
  });
}

async function openStore(dir: string): Promise<NodeStore> {
  const store = await NodeStore.open(dir);
  cleanups.push(() => store.close());
  return store;
}

/** Gives the store group data (a hard state and one entry), as a node that ran would have. */
async function addGroupData(store: NodeStore): Promise<void> {
  await store.persist([
    {
      groupId: 1,
      hardState: { term: 1, vote: 1, commit: 1 },
      entries: [{ kind: 'empty', term: 1, index: 1 }],
      snapshot: null,
    },
  ]);
}

describe('establishIdentity', () => {
  it('bootstraps an empty data dir: cluster id from the token, else from --peers with a warning', async () => {
    const a = await openStore(await scratch());
    const { logger, lines } = capture();
    const got = await establishIdentity(a, configOf('a'), logger);
    const peers = configOf('a').peers;
    expect(got.identity).toEqual({
      nodeId: 1,
      clusterId: deriveClusterId(null, peers),
      bootstrapPeers: [...peers.entries()],
    });
    expect(await loadIdentity(a.db)).toEqual(got.identity);
    expect(lines.some((l) => l.level === 'warn' && /guess/.test(l.msg) && /--cluster-token/.test(l.msg))).toBe(true);

    const b = await openStore(await scratch());
    const withToken = capture();
    const t = await establishIdentity(b, configOf('b', ['--cluster-token', 's3cret']), withToken.logger);
    expect(t.identity.clusterId).toBe(deriveClusterId('s3cret', new Map()));
    expect(withToken.lines.some((l) => l.level === 'warn')).toBe(false);
  });

  it('a --join node without a token and without peer TLS is refused: peers never send the cluster id in clear', async () => {
    const store = await openStore(await scratch());
    expect(
      await refusal(establishIdentity(store, configOf('j', ['--join'], 4, '1=127.0.0.1:7001'), capture().logger)),
    ).toMatch(/^data dir j: a node joining without peer mutual TLS needs the cluster's --cluster-token/);
    expect(await loadIdentity(store.db)).toBeNull();
    const withToken = await establishIdentity(
      store,
      configOf('j', ['--join', '--cluster-token', 'T'], 4, '1=127.0.0.1:7001'),
      capture().logger,
    );
    expect(withToken.identity.clusterId).toBe(deriveClusterId('T', new Map()));
  });

  it('a --join node with peer TLS and no token has no cluster id until it learns one, then stores it', async () => {
    const store = await openStore(await scratch());
    const tls = [
      '--peer-listen',
      '127.0.0.1:8004',
      '--peer-tls-cert',
      'c.pem',
      '--peer-tls-key',
      'k.pem',
      '--peer-tls-ca',
      'ca.pem',
    ];
    const got = await establishIdentity(
      store,
      configOf('j', ['--join', ...tls], 4, '1=127.0.0.1:8001'),
      capture().logger,
    );
    expect(got.identity).toEqual({ nodeId: 4, clusterId: null, bootstrapPeers: [] });
    const learned = 'ab'.repeat(16);
    await got.learnClusterId(learned);
    await got.learnClusterId('cd'.repeat(16)); // only the first is adopted
    expect(await loadIdentity(store.db)).toEqual({ nodeId: 4, clusterId: learned, bootstrapPeers: [] });
  });

  it('refuses another --id and another cluster token, writing nothing', async () => {
    const store = await openStore(await scratch());
    await establishIdentity(store, configOf('x', ['--cluster-token', 'X']), capture().logger);
    await addGroupData(store);
    const before = await loadIdentity(store.db);
    expect(await refusal(establishIdentity(store, configOf('x', [], 2), capture().logger))).toBe(
      "data dir x holds node 1's data, but --id is 2; start node 1 on it, or give node 2 its own data dir",
    );
    expect(await refusal(establishIdentity(store, configOf('x', ['--cluster-token', 'Y']), capture().logger))).toMatch(
      /^data dir x belongs to cluster [0-9a-f]{8}\.\.\., but --cluster-token names cluster [0-9a-f]{8}\.\.\.; this data dir is another cluster's$/,
    );
    expect(await loadIdentity(store.db)).toEqual(before);
  });

  it('with data: refuses a contradicting --peers, and runs with the bootstrap membership whatever --peers and --join say', async () => {
    const store = await openStore(await scratch());
    await establishIdentity(store, configOf('m'), capture().logger);
    await addGroupData(store);
    expect(await refusal(establishIdentity(store, configOf('m', [], 1, '1=127.0.0.1:7001'), capture().logger))).toMatch(
      /^data dir m: it holds group 1 with members 1,2,3 \(bootstrapped with 1,2,3\), but --peers lists 1; --peers only bootstraps/,
    );
    const current = `${PEERS},4=127.0.0.1:7004`;
    // The bootstrap flags pass; so does the current membership once the log says node 4 joined.
    const same = await establishIdentity(store, configOf('m'), capture().logger);
    expect([...same.config.peers.keys()]).toEqual([1, 2, 3]);
    await store.persist([
      {
        groupId: 1,
        hardState: null,
        snapshot: null,
        entries: [
          {
            kind: 'config',
            term: 1,
            index: 2,
            change: { type: 'addVoter', node: 4, context: Buffer.from('127.0.0.1:7004') },
            config: { voters: [1, 2, 3, 4], learners: [], votersOutgoing: [] },
          },
        ],
      },
    ]);
    const now = await establishIdentity(store, configOf('m', [], 1, current), capture().logger);
    expect([...now.config.peers.entries()]).toEqual([...configOf('m').peers.entries()]);
    expect(now.config.join).toBe(false);
    // --join with data: --peers is ignored (logged), the node keeps its bootstrap membership.
    const joined = capture();
    const j = await establishIdentity(store, configOf('m', ['--join'], 1, '1=127.0.0.1:7001'), joined.logger);
    expect(j.config.join).toBe(false);
    expect([...j.config.peers.keys()]).toEqual([1, 2, 3]);
    expect(joined.lines.some((l) => /--peers is ignored/.test(l.msg))).toBe(true);
  });

  it('records an identity for a data dir written by an older version, from the current flags', async () => {
    const store = await openStore(await scratch());
    await addGroupData(store);
    const { logger, lines } = capture();
    const got = await establishIdentity(store, configOf('old'), logger);
    expect(await loadIdentity(store.db)).toEqual(got.identity);
    expect(got.identity.nodeId).toBe(1);
    expect(lines.some((l) => /older version/.test(l.msg))).toBe(true);
  });

  it('a node that joined keeps an empty bootstrap membership after a restart without --join', async () => {
    const store = await openStore(await scratch());
    await saveIdentity(store.db, { nodeId: 4, clusterId: 'ab'.repeat(16), bootstrapPeers: [] });
    await store.persist([
      {
        groupId: 1,
        hardState: { term: 2, vote: 0, commit: 1 },
        snapshot: null,
        entries: [
          {
            kind: 'config',
            term: 2,
            index: 1,
            change: { type: 'addLearner', node: 4 },
            config: { voters: [1, 2, 3], learners: [4], votersOutgoing: [] },
          },
        ],
      },
    ]);
    const peers = '1=127.0.0.1:7001,2=127.0.0.1:7002,3=127.0.0.1:7003,4=127.0.0.1:7004';
    const got = await establishIdentity(store, configOf('jr', [], 4, peers), capture().logger);
    expect(got.config.join).toBe(true);
    expect(got.identity.clusterId).toBe('ab'.repeat(16));
  });
});
