/**
 * Real processes: client TLS on a 3-node cluster (issue 8, section 1). Each node serves its client port
 * with --tls-cert/--tls-key (and, for mutual TLS, --tls-ca) and talks to its peers on --peer-listen.
 * Certificates are made at test time (test/support/tls-certs.ts). Checked: the SDK with the CA reads and
 * writes; a plaintext SDK and an SDK trusting another CA fail with UNAVAILABLE within their deadline and
 * write nothing; with mutual TLS a client without a certificate (or with one another CA signed) is refused
 * and one the CA signed works; the CLI binary puts and gets with --tls-ca (and --tls-cert/--tls-key);
 * a bad TLS file or TLS on a port that also serves peers stops the node with exit 2 before it writes.
 *
 * Ports: a free block of 100 (one cluster at a time): client gRPC base+id, peers base+10+id, HTTP
 * base+50+id; single-node config checks use base+90..99.
 */
import { execFile, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TesseraError } from '../../src/base';
import { Client } from '../../src/client';
import type { ClientOptions } from '../../src/client';
import { summarize } from '../../cmd/cli/status-summary';
import { makeTestCa, type TestCa } from '../support/tls-certs';
import { LOG_LINES_KEPT, TESSERA_JS, freeClusterBasePort, serverBuilt } from './cluster';

let BASE_PORT = 0;
const IDS = [1, 2, 3];
const clientAddress = (id: number): string => `127.0.0.1:${BASE_PORT + id}`;
const peerAddress = (id: number): string => `127.0.0.1:${BASE_PORT + 10 + id}`;
const endpoints = (): string[] => IDS.map(clientAddress);

// A free block of 100 ports for this file, found before any test starts a node.
beforeAll(async () => {
  BASE_PORT = await freeClusterBasePort();
});

let ca: TestCa;
let other: TestCa;

beforeAll(() => {
  if (!serverBuilt()) throw new Error('integration tests need the build: run `npm run build` first (npm test does)');
  ca = makeTestCa('client-tls-it-ca');
  other = makeTestCa('client-tls-it-other-ca');
});
afterAll(() => {
  ca?.cleanup();
  other?.cleanup();
});

/** Three node processes with client TLS; every process is killed by its PID in stop(). */
class TlsCluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'tessera-client-tls-'));
  private readonly procs = new Map<number, ChildProcess>();
  private readonly logs = new Map<number, string[]>();
  private readonly clients: Client[] = [];

  constructor(private readonly tlsArgs: (id: number) => string[]) {}

  start(): void {
    const peers = IDS.map((id) => `${id}=${peerAddress(id)}`).join(',');
    for (const id of IDS) {
      const args = [
        TESSERA_JS,
        'start',
        '--id',
        String(id),
        '--listen',
        clientAddress(id),
        '--peer-listen',
        peerAddress(id),
        '--peers',
        peers,
        '--data-dir',
        join(this.dir, `n${id}`),
        '--http',
        `127.0.0.1:${BASE_PORT + 50 + id}`,
        '--profile',
        'low-latency',
        ...this.tlsArgs(id),
      ];
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      const lines: string[] = [];
      this.logs.set(id, lines);
      const keep = (chunk: Buffer): void => {
        for (const line of chunk.toString('utf8').split('\n')) {
          if (line.length === 0) continue;
          lines.push(line.length > 500 ? line.slice(0, 500) + '...' : line);
          if (lines.length > LOG_LINES_KEPT) lines.shift();
        }
      };
      child.stdout!.on('data', keep);
      child.stderr!.on('data', keep);
      this.procs.set(id, child);
    }
  }

  client(options: Partial<ClientOptions>): Client {
    const c = new Client({ endpoints: endpoints(), discover: false, ...options });
    this.clients.push(c);
    return c;
  }

  /** Bounded wait until one node leads and the others agree, asked over TLS with `tls`. */
  async waitForLeader(tls: ClientOptions['tls'], timeoutMs = 30_000): Promise<number> {
    const c = this.client({ tls, deadlineMs: 1000 });
    const deadline = Date.now() + timeoutMs;
    let last = 'no status yet';
    while (Date.now() < deadline) {
      const statuses = await c.clusterStatus({ timeoutMs: 800 });
      const g = summarize(statuses).groups[0];
      last = JSON.stringify(
        statuses.map((s) => (s.ok ? `${s.status.nodeId}:${s.status.groups[0]?.role}` : s.error.message.slice(0, 200))),
      );
      if (
        g !== undefined &&
        g.leader !== 0 &&
        g.replicas.length === IDS.length &&
        g.replicas.every((r) => r.leader === g.leader && r.term === g.term)
      ) {
        return g.leader;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`no leader within ${timeoutMs} ms (last ${last})\n${this.recentLogs()}`);
  }

  recentLogs(lines = 20): string {
    return IDS.map((id) => `--- node ${id} ---\n${(this.logs.get(id) ?? []).slice(-lines).join('\n')}`).join('\n');
  }

  async stop(): Promise<void> {
    await Promise.all(this.clients.splice(0).map((c) => c.close()));
    await Promise.all(
      [...this.procs.values()].map(async (p) => {
        if (p.exitCode !== null || p.signalCode !== null) return;
        const exited = new Promise<void>((res) => p.once('exit', () => res()));
        try {
          process.kill(p.pid!, 'SIGKILL');
        } catch {
          // already gone: the exit event follows
        }
        await exited;
      }),
    );
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The SDK error a call rejects with, and how long it took. */
async function failure(p: Promise<unknown>): Promise<{ error: TesseraError; elapsedMs: number }> {
  const start = Date.now();
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(TesseraError);
    return { error: e as TesseraError, elapsedMs: Date.now() - start };
  }
  throw new Error('expected the call to fail');
}

/** Runs the tessera binary (bounded); resolves to its exit code and output. */
function run(args: string[], timeoutMs = 20_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [TESSERA_JS, ...args], { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code =
        err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

const nodeCertArgs = (id: number): string[] => {
  const c = ca.issue(`node-${id}`);
  return ['--tls-cert', c.cert, '--tls-key', c.key];
};

describe('client TLS (server certificates)', () => {
  let cluster: TlsCluster;
  beforeAll(async () => {
    cluster = new TlsCluster(nodeCertArgs);
    cluster.start();
    await cluster.waitForLeader({ ca: ca.read(ca.ca) });
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  }, 30_000);

  it('the SDK with the CA writes and reads on every path (Pipeline, unary, Scan, Status)', async () => {
    const c = cluster.client({ tls: { ca: ca.read(ca.ca) }, deadlineMs: 5000 });
    await c.put('tls/a', '1');
    await Promise.all(['b', 'c', 'd'].map((k) => c.put(`tls/${k}`, k)));
    expect((await c.get('tls/a'))?.toString()).toBe('1');
    expect((await c.get('tls/b', { consistency: 'stale' }))?.toString() ?? 'b').toBe('b');
    expect((await c.compareAndSwap('tls/a', '1', '2')).succeeded).toBe(true);
    expect(
      (
        await c.batch({
          ops: [
            { op: 'get', key: 'tls/a' },
            { op: 'put', key: 'tls/e', value: 'e' },
          ],
        })
      ).results[0]?.toString(),
    ).toBe('2');
    const keys: string[] = [];
    for await (const page of c.scan('tls/', 'tls0')) keys.push(...page.items.map((kv) => kv.key.toString()));
    expect(keys).toEqual(['tls/a', 'tls/b', 'tls/c', 'tls/d', 'tls/e']);
    const statuses = await c.clusterStatus({ timeoutMs: 2000 });
    expect(statuses.map((s) => s.ok)).toEqual([true, true, true]);
  }, 30_000);

  it('a plaintext SDK, or one trusting another CA, fails with UNAVAILABLE within its deadline and writes nothing', async () => {
    const plain = await failure(cluster.client({ deadlineMs: 1500 }).put('tls/plain', 'x'));
    expect(plain.error.code).toBe('UNAVAILABLE');
    expect(plain.elapsedMs).toBeLessThan(1500 + 1500);
    const stranger = await failure(
      cluster.client({ tls: { ca: other.read(other.ca) }, deadlineMs: 1500 }).put('tls/stranger', 'x'),
    );
    expect(stranger.error.code).toBe('UNAVAILABLE');
    expect(stranger.error.message).toMatch(/certificate/i);
    expect(stranger.elapsedMs).toBeLessThan(1500 + 1500);
    const c = cluster.client({ tls: { ca: ca.read(ca.ca) }, deadlineMs: 5000 });
    expect(await c.get('tls/plain')).toBeNull();
    expect(await c.get('tls/stranger')).toBeNull();
  }, 30_000);

  it('the CLI with --tls-ca puts and gets; without it the cluster is unreachable (exit 3)', async () => {
    const ep = ['--endpoints', endpoints().join(',')];
    expect(await run(['put', 'tls/cli', 'hello', ...ep, '--tls-ca', ca.ca])).toMatchObject({ code: 0, stdout: 'OK\n' });
    expect(await run(['get', 'tls/cli', ...ep, '--tls-ca', ca.ca])).toMatchObject({ code: 0, stdout: 'hello\n' });
    expect((await run(['get', 'tls/cli', ...ep, '--deadline-ms', '1500'])).code).toBe(3);
  }, 60_000);
});

describe('client mutual TLS (--tls-ca on the nodes)', () => {
  let cluster: TlsCluster;
  const clientCert = () => ca.issue('app-client');
  beforeAll(async () => {
    cluster = new TlsCluster((id) => [...nodeCertArgs(id), '--tls-ca', ca.ca]);
    cluster.start();
    const c = clientCert();
    await cluster.waitForLeader({ ca: ca.read(ca.ca), cert: ca.read(c.cert), key: ca.read(c.key) });
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  }, 30_000);

  it('refuses a client without a certificate, or with one another CA signed; one the CA signed works', async () => {
    const anonymous = await failure(
      cluster.client({ tls: { ca: ca.read(ca.ca) }, deadlineMs: 1500 }).put('mtls/anonymous', 'x'),
    );
    expect(anonymous.error.code).toBe('UNAVAILABLE');
    expect(anonymous.elapsedMs).toBeLessThan(1500 + 1500);
    const s = other.issue('app-client');
    const stranger = await failure(
      cluster
        .client({ tls: { ca: ca.read(ca.ca), cert: other.read(s.cert), key: other.read(s.key) }, deadlineMs: 1500 })
        .put('mtls/stranger', 'x'),
    );
    expect(stranger.error.code).toBe('UNAVAILABLE');
    const c = clientCert();
    const good = cluster.client({
      tls: { ca: ca.read(ca.ca), cert: ca.read(c.cert), key: ca.read(c.key) },
      deadlineMs: 5000,
    });
    await good.put('mtls/k', 'v');
    expect((await good.get('mtls/k'))?.toString()).toBe('v');
    expect(await good.get('mtls/anonymous')).toBeNull();
    expect(await good.get('mtls/stranger')).toBeNull();
  }, 30_000);

  it('the CLI with --tls-ca, --tls-cert and --tls-key puts and gets', async () => {
    const c = clientCert();
    const flags = ['--endpoints', endpoints().join(','), '--tls-ca', ca.ca, '--tls-cert', c.cert, '--tls-key', c.key];
    expect(await run(['put', 'mtls/cli', 'hello', ...flags])).toMatchObject({ code: 0, stdout: 'OK\n' });
    expect(await run(['get', 'mtls/cli', ...flags])).toMatchObject({ code: 0, stdout: 'hello\n' });
    expect(
      (await run(['get', 'mtls/cli', '--endpoints', endpoints().join(','), '--tls-ca', ca.ca, '--deadline-ms', '1500']))
        .code,
    ).toBe(3);
  }, 60_000);
});

describe('node start with client TLS flags', () => {
  let dir = '';
  afterEach(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
    dir = '';
  });

  const start = (extra: string[]) => {
    if (dir === '') dir = mkdtempSync(join(tmpdir(), 'tessera-client-tls-config-'));
    const args = [
      'start',
      '--id',
      '1',
      '--listen',
      `127.0.0.1:${BASE_PORT + 91}`,
      '--peers',
      `1=127.0.0.1:${BASE_PORT + 92}`,
      '--data-dir',
      join(dir, 'data'),
      ...extra,
    ];
    return run(args, 15_000);
  };

  it('a missing or bad file is exit 2 naming the flag, before the data dir is written', async () => {
    const peer = ['--peer-listen', `127.0.0.1:${BASE_PORT + 92}`];
    const c = ca.issue('node-1');
    const missing = await start([...peer, '--tls-cert', join(ca.dir, 'nope.pem'), '--tls-key', c.key]);
    expect(missing.code).toBe(2);
    expect(missing.stdout + missing.stderr).toMatch(/--tls-cert: cannot read '.*nope\.pem'/);
    expect(existsSync(join(dir, 'data'))).toBe(false);
    const garbage = join(ca.dir, 'garbage.pem');
    writeFileSync(garbage, 'garbage\n');
    const badKey = await start([...peer, '--tls-cert', c.cert, '--tls-key', garbage]);
    expect(badKey.code).toBe(2);
    expect(badKey.stdout + badKey.stderr).toMatch(/--tls-key: .*garbage\.pem' is not a PEM private key/);
    expect(existsSync(join(dir, 'data'))).toBe(false);
  }, 40_000);

  it('TLS on a client port that also serves peers (no --peer-listen) is exit 2 with the reason', async () => {
    const c = ca.issue('node-1');
    const r = await start(['--tls-cert', c.cert, '--tls-key', c.key]);
    expect(r.code).toBe(2);
    expect(r.stdout + r.stderr).toMatch(/--tls-cert requires --peer-listen/);
  }, 20_000);
});
