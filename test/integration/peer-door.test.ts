/**
 * The peer door with real processes (issue 8, section 1): forged Raft calls from a plain gRPC client are
 * refused and change nothing; --peer-listen takes the Raft service off the client port; peer mutual TLS
 * refuses certificates from another CA and a certificate that names another node than the handshake.
 * Ports: a free block of 100 (one cluster at a time): (a) TestCluster on the base (gRPC base+1..3, HTTP
 * base+51..53); (b), (c) and (d) client gRPC base+10+id, peers base+20+id, HTTP base+30+id (ids 1-4).
 * Needs `npm run build` (the nodes run from dist/).
 */
import type { ChildProcess } from 'node:child_process';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { summarize } from '../../cmd/cli/status-summary';
import { Client } from '../../src/client';
import { encodeRaftMessage } from '../../src/codec';
import { deriveClusterId } from '../../src/storage';
import { handshakeMetadata } from '../../src/transport';
import { makeTestCa, type TestCa } from '../support/tls-certs';
import { ROOT, TESSERA_JS, TestCluster, eventually, freeClusterBasePort, serverBuilt } from './cluster';

let A_BASE = 0;
let CLIENT_BASE = 0;
let PEER_BASE = 0;
let HTTP_BASE = 0;

// A free block of 100 ports for this file, found before any test starts a node.
beforeAll(async () => {
  A_BASE = await freeClusterBasePort();
  CLIENT_BASE = A_BASE + 10;
  PEER_BASE = A_BASE + 20;
  HTTP_BASE = A_BASE + 30;
});
const TOKEN = 'peer-door-integration-token';

// ---------------------------------------------------------------- an attacker's plain gRPC client

const loaderOptions: protoLoader.Options = {
  keepCase: false,
  longs: Number,
  enums: Number,
  bytes: Buffer,
  defaults: true,
};
const pkg = grpc.loadPackageDefinition(
  protoLoader.loadSync([join(ROOT, 'proto', 'raft.proto'), join(ROOT, 'proto', 'kv.proto')], {
    ...loaderOptions,
    includeDirs: [join(ROOT, 'proto')],
  }),
) as unknown as { tessera: { v1: { Raft: grpc.ServiceClientConstructor; KV: grpc.ServiceClientConstructor } } };

interface Wire {
  stream(md: grpc.Metadata): grpc.ClientDuplexStream<unknown, unknown>;
  installSnapshot(
    md: grpc.Metadata,
    cb: (err: grpc.ServiceError | null, ack?: { accepted: boolean }) => void,
  ): grpc.ClientWritableStream<unknown>;
  close(): void;
}

const openClients: grpc.Client[] = [];
function raftClient(address: string, creds = grpc.credentials.createInsecure()): Wire {
  const c = new pkg.tessera.v1.Raft(address, creds);
  openClients.push(c);
  return c as unknown as Wire;
}

/** A handshake as node `node` of `cluster` would make it for node `to` (an insider knowing the cluster id). */
function handshake(cluster: string, node: number, to: number, address = '127.0.0.1:9'): grpc.Metadata {
  return handshakeMetadata({ clusterId: cluster, nodeId: node, to, clientAddress: address, revealClusterId: false });
}

/** A forged append with a huge term and an entry that puts a key, from "node `from`" to node `to`. */
function forgedAppend(from: number, to: number): Buffer {
  const put = Buffer.from('not a decodable command');
  return encodeRaftMessage({
    groupId: 1,
    message: {
      type: 'append',
      from,
      to,
      term: 1_000_000,
      prevLogIndex: 0,
      prevLogTerm: 0,
      commit: 1,
      entries: [{ kind: 'normal', index: 1, term: 1_000_000, data: put }],
    } as never,
  });
}

/** Opens a Raft.Stream, writes one forged batch, and resolves with the final status code (bounded). */
async function forgeStream(
  address: string,
  md: grpc.Metadata,
  from: number,
  to: number,
  creds?: grpc.ChannelCredentials,
): Promise<{ code: grpc.status; details: string }> {
  const call = raftClient(address, creds).stream(md);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      call.cancel();
      resolve({ code: grpc.status.OK, details: 'still open after 3 s' });
    }, 3000);
    call.on('status', (s: grpc.StatusObject) => {
      clearTimeout(timer);
      resolve({ code: s.code, details: s.details });
    });
    call.on('error', () => undefined);
    call.on('data', () => undefined);
    call.write({ from, to, messages: [forgedAppend(from, to)] });
  });
}

/** A forged InstallSnapshot (header: a snapshot message with a huge term); resolves with the outcome. */
async function forgeSnapshot(
  address: string,
  md: grpc.Metadata,
  from: number,
  to: number,
): Promise<{ code: grpc.status | null; accepted: boolean }> {
  const header = encodeRaftMessage({
    groupId: 1,
    message: {
      type: 'snapshot',
      from,
      to,
      term: 1_000_000,
      snapshot: {
        meta: { index: 1_000_000, term: 1_000_000, config: { voters: [from], learners: [] } },
        data: Buffer.alloc(0),
      },
    } as never,
  });
  return new Promise((resolve) => {
    const call = raftClient(address).installSnapshot(md, (err, ack) =>
      resolve({ code: err ? err.code : null, accepted: ack?.accepted === true }),
    );
    call.on('error', () => undefined);
    call.write({ from, to, groupId: 1, header, data: Buffer.alloc(0), last: true });
    call.end();
  });
}

async function metricsText(httpPort: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/metrics`);
  return res.text();
}

// ---------------------------------------------------------------- processes for (b) and (c)

class Nodes {
  readonly dir = mkdtempSync(join(tmpdir(), 'tessera-peer-door-'));
  private readonly procs = new Map<number, ChildProcess>();
  private readonly logs = new Map<number, string[]>();
  /** The first 300 lines of each node's log (what it did at start). */
  private readonly heads = new Map<number, string[]>();
  readonly clients: Client[] = [];

  start(id: number, args: string[]): void {
    const child = spawn(
      process.execPath,
      [TESSERA_JS, 'start', '--id', String(id), '--data-dir', join(this.dir, `n${id}`), '--log-level', 'info', ...args],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const lines: string[] = [];
    const head: string[] = [];
    this.logs.set(id, lines);
    this.heads.set(id, head);
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue;
        lines.push(line.slice(0, 400));
        if (head.length < 300) head.push(line.slice(0, 400));
      }
      while (lines.length > 100) lines.shift();
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    this.procs.set(id, child);
  }

  /** Whether node `id` logged a line matching `re` among its first 300 or its last 100 lines. */
  logged(id: number, re: RegExp): boolean {
    return [...(this.heads.get(id) ?? []), ...(this.logs.get(id) ?? [])].some((l) => re.test(l));
  }

  running(id: number): boolean {
    const p = this.procs.get(id);
    return p !== undefined && p.exitCode === null && p.signalCode === null;
  }

  client(endpoints: string[]): Client {
    const c = new Client({ endpoints, deadlineMs: 5000 });
    this.clients.push(c);
    return c;
  }

  recentLogs(): string {
    return [...this.logs].map(([id, l]) => `--- node ${id} ---\n${l.slice(-20).join('\n')}`).join('\n');
  }

  async stop(): Promise<void> {
    await Promise.all(this.clients.splice(0).map((c) => c.close()));
    await Promise.all(
      [...this.procs.values()].map(async (p) => {
        if (p.exitCode !== null || p.signalCode !== null) return;
        const exited = new Promise<void>((r) => p.once('exit', () => r()));
        try {
          process.kill(p.pid!, 'SIGKILL');
        } catch {
          // gone already
        }
        await exited;
      }),
    );
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const clientAddr = (id: number) => `127.0.0.1:${CLIENT_BASE + id}`;
const peerAddr = (id: number) => `127.0.0.1:${PEER_BASE + id}`;
const IDS = [1, 2, 3];
const peersFlag = (): string => IDS.map((i) => `${i}=${peerAddr(i)}`).join(',');

function peerListenArgs(id: number, extra: string[] = []): string[] {
  return [
    '--listen',
    clientAddr(id),
    '--peer-listen',
    peerAddr(id),
    '--peers',
    peersFlag(),
    '--http',
    `127.0.0.1:${HTTP_BASE + id}`,
    '--profile',
    'low-latency',
    ...extra,
  ];
}

async function waitForLeader(client: Client, timeoutMs = 20_000): Promise<{ leader: number; term: number }> {
  let found: { leader: number; term: number } | null = null;
  await eventually('a leader every node acknowledges', timeoutMs, async () => {
    const s = summarize(await client.clusterStatus({ timeoutMs: 800 }));
    const g = s.groups[0];
    if (
      !g ||
      g.leader <= 0 ||
      g.replicas.length !== IDS.length ||
      !g.replicas.every((r) => r.leader === g.leader && r.term === g.term)
    )
      return false;
    found = { leader: g.leader, term: g.term };
    return true;
  });
  return found!;
}

let cleanup: (() => Promise<void>) | null = null;
afterEach(async () => {
  for (const c of openClients.splice(0)) c.close();
  await cleanup?.();
  cleanup = null;
}, 30_000);

describe.skipIf(!serverBuilt())('peer door (real processes)', () => {
  it('(a) forged InstallSnapshot and append calls on a client port are refused; the data and the term stay', async () => {
    const cluster = await TestCluster.start({ basePort: A_BASE });
    cleanup = () => cluster.stopAll();
    const client = cluster.client({ deadlineMs: 5000 });
    await client.put('door/before', 'kept');
    const { leader, term } = await cluster.waitForLeader();
    const follower = cluster.ids.find((id) => id !== leader)!;
    const target = cluster.address(follower);
    const otherCluster = 'deadbeefdeadbeefdeadbeefdeadbeef';

    // No handshake, a handshake of another cluster: refused before anything reaches the node.
    expect((await forgeSnapshot(target, new grpc.Metadata(), leader, follower)).code).toBe(grpc.status.UNAUTHENTICATED);
    expect((await forgeSnapshot(target, handshake(otherCluster, leader, follower), leader, follower)).code).toBe(
      grpc.status.PERMISSION_DENIED,
    );
    expect((await forgeStream(target, new grpc.Metadata(), leader, follower)).code).toBe(grpc.status.UNAUTHENTICATED);
    expect((await forgeStream(target, handshake(otherCluster, leader, follower), leader, follower)).code).toBe(
      grpc.status.PERMISSION_DENIED,
    );
    // Speaking as the follower itself.
    expect((await forgeStream(target, handshake(otherCluster, follower, follower), follower, follower)).code).toBe(
      grpc.status.UNAUTHENTICATED,
    );

    await new Promise((r) => setTimeout(r, 1000));
    expect(cluster.ids.filter((id) => !cluster.isRunning(id))).toEqual([]);
    const after = await cluster.waitForLeader();
    expect(after.term).toBeLessThan(1000); // the forged term 1,000,000 never reached a core
    expect(after.term).toBeGreaterThanOrEqual(term);
    for (const id of cluster.ids) {
      const one = cluster.client({ endpoints: [cluster.address(id)], deadlineMs: 5000 });
      expect((await one.get('door/before', { consistency: 'stale' }))?.toString()).toBe('kept');
    }
    expect((await client.get('door/before'))?.toString()).toBe('kept');
    await client.put('door/after', 'ok');
    expect((await client.get('door/after'))?.toString()).toBe('ok');
    const text = await metricsText(A_BASE + 50 + follower);
    expect(text).toMatch(/tessera_peer_rejected_total\{reason="no_handshake"\} [1-9]/);
    expect(text).toMatch(/tessera_peer_rejected_total\{reason="cluster_mismatch"\} [1-9]/);
  }, 90_000);

  it('(b) with --peer-listen the client port serves no Raft, the cluster works, and NOT_LEADER hints name client addresses', async () => {
    const nodes = new Nodes();
    cleanup = () => nodes.stop();
    for (const id of IDS) nodes.start(id, peerListenArgs(id));
    const client = nodes.client(IDS.map(clientAddr));
    let leader: number;
    try {
      ({ leader } = await waitForLeader(client));
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${nodes.recentLogs()}`);
    }
    await client.put('door/b', 'works');
    expect((await client.get('door/b'))?.toString()).toBe('works');

    // The client port has no Raft service at all.
    const follower = IDS.find((id) => id !== leader)!;
    expect((await forgeStream(clientAddr(follower), handshake('x', leader, follower), leader, follower)).code).toBe(
      grpc.status.UNIMPLEMENTED,
    );
    expect((await forgeSnapshot(clientAddr(follower), handshake('x', leader, follower), leader, follower)).code).toBe(
      grpc.status.UNIMPLEMENTED,
    );

    // A linearizable read on a follower answers NOT_LEADER with the leader's client address.
    const kv = new pkg.tessera.v1.KV(clientAddr(follower), grpc.credentials.createInsecure());
    openClients.push(kv);
    await eventually('a NOT_LEADER hint with an address', 10_000, async () => {
      const md = await new Promise<grpc.Metadata | null>((resolve) => {
        (kv as unknown as { get(req: unknown, cb: (err: grpc.ServiceError | null) => void): void }).get(
          { key: Buffer.from('door/b'), consistency: 0 },
          (err) => resolve(err ? err.metadata : null),
        );
      });
      const address = md?.get('tessera-leader-address')[0];
      if (address === undefined) return false;
      expect(md?.get('tessera-leader-id')[0]).toBe(String(leader));
      expect(address).toBe(clientAddr(leader));
      return true;
    });
    // A node's own Status gives its peer address (what `shard move` sends a leader that does not know it).
    const own = await client.status({ endpoint: clientAddr(follower), deadlineMs: 3000 });
    expect([own.address, own.peerAddress]).toEqual([clientAddr(follower), peerAddr(follower)]);
    // Status names client addresses for every member, learned from the handshakes.
    await eventually('status names client addresses', 10_000, async () => {
      const s = summarize(await client.clusterStatus({ timeoutMs: 800 }));
      return (
        JSON.stringify(s.groups[0]?.members.map((m) => [m.id, m.address])) ===
        JSON.stringify(IDS.map((id) => [id, clientAddr(id)]))
      );
    });
    expect(IDS.filter((id) => !nodes.running(id))).toEqual([]);
  }, 90_000);

  it('(d) a node joins a --peer-listen cluster: member add --peer-address, the joiner proves the cluster id from its --cluster-token', async () => {
    const nodes = new Nodes();
    cleanup = () => nodes.stop();
    for (const id of IDS) nodes.start(id, peerListenArgs(id, ['--cluster-token', TOKEN]));
    const client = nodes.client(IDS.map(clientAddr));
    try {
      await waitForLeader(client);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${nodes.recentLogs()}`);
    }
    await client.put('door/d', 'before the join');
    // Node 4: empty data dir, --join with the cluster's token (without peer TLS nobody sends the id in clear).
    nodes.start(4, [
      '--join',
      '--cluster-token',
      TOKEN,
      '--listen',
      clientAddr(4),
      '--peer-listen',
      peerAddr(4),
      '--peers',
      peersFlag(),
      '--http',
      `127.0.0.1:${HTTP_BASE + 4}`,
      '--profile',
      'low-latency',
    ]);
    await eventually('node 4 serves', 10_000, async () =>
      (await metricsText(HTTP_BASE + 4)).includes('tessera_peer_rejected_total'),
    );
    const cli = spawnSync(
      process.execPath,
      [
        TESSERA_JS,
        'member',
        'add',
        '4',
        clientAddr(4),
        '--peer-address',
        peerAddr(4),
        '--endpoints',
        IDS.map(clientAddr).join(','),
        '--deadline-ms',
        '20000',
      ],
      {
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    expect(cli.status, `${cli.stdout}\n${cli.stderr}\n${nodes.recentLogs()}`).toBe(0);
    expect(cli.stdout).toContain(`added node 4 (${clientAddr(4)}, peers at ${peerAddr(4)})`);
    // Node 4 replicates (it was dialed on its peer address) and Status names its client address.
    const four = nodes.client([clientAddr(4)]);
    await eventually(
      'node 4 has the data',
      20_000,
      async () => (await four.get('door/d', { consistency: 'stale' }))?.toString() === 'before the join',
    );
    await eventually('status names node 4 by its client address', 10_000, async () => {
      const s = summarize(await client.clusterStatus({ timeoutMs: 800 }));
      return s.groups[0]?.members.some((m) => m.id === 4 && m.address === clientAddr(4)) === true;
    });
    // Node 4 talks back: its own links are up (its append acks let writes commit).
    await client.put('door/d2', 'after the join');
    await eventually(
      'node 4 has the new write',
      10_000,
      async () => (await four.get('door/d2', { consistency: 'stale' }))?.toString() === 'after the join',
    );
    expect([...IDS, 4].filter((id) => !nodes.running(id))).toEqual([]);
  }, 120_000);

  it('(e) peer mutual TLS without --cluster-token: a node started with --join asks a member for the cluster id and registers itself', async () => {
    const ca: TestCa = makeTestCa('peer-door-it-join');
    const nodes = new Nodes();
    cleanup = async () => {
      await nodes.stop();
      ca.cleanup();
    };
    const tlsArgs = (id: number): string[] => {
      const files = ca.issue(`node-${id}`);
      return ['--peer-tls-cert', files.cert, '--peer-tls-key', files.key, '--peer-tls-ca', ca.ca];
    };
    for (const id of IDS) nodes.start(id, peerListenArgs(id, tlsArgs(id)));
    const client = nodes.client(IDS.map(clientAddr));
    try {
      await waitForLeader(client);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${nodes.recentLogs()}`);
    }
    await client.put('door/e', 'before the join');
    // Node 4: empty data dir, no token; no member has heard of it, so none calls it: it must ask.
    nodes.start(4, ['--join', ...peerListenArgs(4, tlsArgs(4))]);
    const nodeList = (): { id: number; state: string; replicas: number }[] => {
      const out = spawnSync(
        process.execPath,
        [TESSERA_JS, 'node', 'list', '--json', '--endpoints', IDS.map(clientAddr).join(',')],
        { encoding: 'utf8', timeout: 10_000 },
      );
      return out.status === 0
        ? (JSON.parse(out.stdout) as { nodes: { id: number; state: string; replicas: number }[] }).nodes
        : [];
    };
    await eventually('node 4 is registered in the meta shard, up', 30_000, async () =>
      nodeList().some((n) => n.id === 4 && n.state === 'up'),
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${nodes.recentLogs()}`);
    });
    await eventually('node 4 logged where its cluster id came from', 10_000, async () =>
      nodes.logged(4, /learned the cluster id from a peer/),
    );
    // The placement driver gives it a replica over peer TLS, and it serves the data it holds.
    await eventually('node 4 holds a replica', 60_000, async () =>
      nodeList().some((n) => n.id === 4 && n.replicas > 0),
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${JSON.stringify(nodeList())}\n${nodes.recentLogs()}`);
    });
    expect([...IDS, 4].filter((id) => !nodes.running(id))).toEqual([]);
    expect((await client.get('door/e'))?.toString()).toBe('before the join');
  }, 150_000);

  it("(c) peer mutual TLS: the cluster works; another CA's certificate and a certificate naming another node are refused", async () => {
    const ca: TestCa = makeTestCa('peer-door-it-ca');
    const stranger: TestCa = makeTestCa('peer-door-it-stranger');
    const nodes = new Nodes();
    cleanup = async () => {
      await nodes.stop();
      ca.cleanup();
      stranger.cleanup();
    };
    for (const id of IDS) {
      const files = ca.issue(`node-${id}`);
      nodes.start(
        id,
        peerListenArgs(id, [
          '--cluster-token',
          TOKEN,
          '--peer-tls-cert',
          files.cert,
          '--peer-tls-key',
          files.key,
          '--peer-tls-ca',
          ca.ca,
        ]),
      );
    }
    const client = nodes.client(IDS.map(clientAddr));
    try {
      await waitForLeader(client);
    } catch (e) {
      throw new Error(`${(e as Error).message}\n${nodes.recentLogs()}`);
    }
    await client.put('door/c', 'over mtls');
    expect((await client.get('door/c'))?.toString()).toBe('over mtls');
    const clusterId = deriveClusterId(TOKEN, new Map());

    // Plaintext to the peer port: no TLS, no call.
    expect((await forgeStream(peerAddr(1), handshake(clusterId, 2, 1), 2, 1)).code).toBe(grpc.status.UNAVAILABLE);
    // A certificate from another CA (the client trusts our CA, so only the server's check refuses it).
    const foreign = stranger.issue('node-2');
    const foreignCreds = grpc.credentials.createSsl(
      ca.read(ca.ca),
      stranger.read(foreign.key),
      stranger.read(foreign.cert),
      { checkServerIdentity: () => undefined },
    );
    expect((await forgeStream(peerAddr(1), handshake(clusterId, 2, 1), 2, 1, foreignCreds)).code).toBe(
      grpc.status.UNAVAILABLE,
    );
    // A genuine certificate for node-2, with a handshake that says node 3 (and the right cluster id).
    const node2 = ca.issue('node-2');
    const node2Creds = grpc.credentials.createSsl(ca.read(ca.ca), ca.read(node2.key), ca.read(node2.cert), {
      checkServerIdentity: () => undefined,
    });
    const impostor = await forgeStream(peerAddr(1), handshake(clusterId, 3, 1), 3, 1, node2Creds);
    expect(impostor.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(impostor.details).toMatch(/node-3/);
    expect(await metricsText(HTTP_BASE + 1)).toMatch(
      /tessera_peer_rejected_total\{reason="certificate_mismatch"\} [1-9]/,
    );

    expect(IDS.filter((id) => !nodes.running(id))).toEqual([]);
    expect((await client.get('door/c'))?.toString()).toBe('over mtls');
  }, 120_000);
});
