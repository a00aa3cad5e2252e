/**
 * Test harness: N in-process nodes, each with a real LevelDB in a temp dir, a real gRPC server on
 * 127.0.0.1 port 0 carrying the Raft peer service, a Transport and a NodeHost.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Random } from '../../../src/base';
import { loadNodeConfig, type NodeConfig } from '../../../src/config';
import { NodeHost } from '../../../src/node';
import { createNodeMetrics, silentLogger, type NodeMetrics } from '../../../src/obs';
import { NodeStore } from '../../../src/storage';
import { Transport, serverOptions } from '../../../src/transport';

/** Every harness node shares this cluster id (the peer handshake checks it). */
export const HARNESS_CLUSTER_ID = '0123456789abcdef0123456789abcdef';

export interface TestNode {
  id: number;
  port: number;
  dataDir: string;
  config: NodeConfig;
  server: grpc.Server;
  transport: Transport;
  store: NodeStore;
  host: NodeHost;
  fatal: unknown[];
  running: boolean;
  metrics: NodeMetrics;
}

export async function bindServer(server: grpc.Server, port = 0): Promise<number> {
  return new Promise((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
}

export class TestCluster {
  readonly nodes = new Map<number, TestNode>();
  private peers = '';
  private extraArgs: string[] = [];
  private root = '';
  /** Nodes started by join(): their own --peers and --join (restart keeps them). */
  private readonly joiners = new Map<number, string[]>();

  static async start(n: number, extraArgs: string[] = []): Promise<TestCluster> {
    const c = new TestCluster();
    c.extraArgs = extraArgs;
    c.root = await mkdtemp(join(tmpdir(), 'tessera-node-test-'));
    // Bind every server first so the peer list has real ports.
    const servers = new Map<number, { server: grpc.Server; port: number }>();
    for (let id = 1; id <= n; id++) {
      const server = new grpc.Server(serverOptions);
      servers.set(id, { server, port: await bindServer(server) });
    }
    c.peers = [...servers].map(([id, s]) => `${id}=127.0.0.1:${s.port}`).join(',');
    for (const [id, s] of servers) await c.startNode(id, s.server, s.port);
    return c;
  }

  /**
   * Starts one more node with --join (it bootstraps no group: a leader adds it), knowing the addresses of the
   * nodes started so far; they do not know its address (teach them, e.g. NodeHost.learnNodeAddress).
   */
  async join(id: number): Promise<TestNode> {
    const server = new grpc.Server(serverOptions);
    const port = await bindServer(server);
    this.joiners.set(id, [`${this.peers},${id}=127.0.0.1:${port}`, '--join']);
    return this.startNode(id, server, port);
  }

  private async startNode(id: number, server: grpc.Server, port: number): Promise<TestNode> {
    const dataDir = join(this.root, `n${id}`);
    const config = loadNodeConfig({
      argv: [
        '--id',
        String(id),
        '--listen',
        `127.0.0.1:${port}`,
        '--peers',
        this.joiners.get(id)?.[0] ?? this.peers,
        '--data-dir',
        dataDir,
        '--profile',
        'low-latency',
        ...this.extraArgs,
        ...(this.joiners.get(id)?.slice(1) ?? []),
      ],
      env: {},
    });
    const metrics = createNodeMetrics();
    const logger = silentLogger();
    const transport = new Transport({
      selfId: id,
      clusterId: HARNESS_CLUSTER_ID,
      clientAddress: `127.0.0.1:${port}`,
      outboxMessagesMax: config.queues.outboxMessagesMax,
      random: new Random(id * 7919),
      logger,
      metrics,
      backoff: { initialMs: 20, maxMs: 200 },
    });
    transport.registerOn(server);
    const store = await NodeStore.open(dataDir);
    const node: TestNode = {
      id,
      port,
      dataDir,
      config,
      server,
      transport,
      store,
      host: undefined as unknown as NodeHost,
      fatal: [],
      running: true,
      metrics,
    };
    node.host = await NodeHost.open({
      config,
      clusterId: HARNESS_CLUSTER_ID,
      store,
      transport,
      logger,
      metrics,
      random: new Random(id),
      onFatal: (e) => node.fatal.push(e),
    });
    this.nodes.set(id, node);
    return node;
  }

  /** Stops a node as a crash would look to its peers (sockets closed), keeping its data dir. */
  async stop(id: number): Promise<void> {
    const node = this.nodes.get(id);
    if (!node || !node.running) return;
    node.running = false;
    node.server.forceShutdown();
    node.transport.close();
    await node.host.close();
    await node.store.close();
  }

  async restart(id: number): Promise<TestNode> {
    const node = this.nodes.get(id);
    if (!node) throw new Error(`no node ${id}`);
    await this.stop(id);
    const server = new grpc.Server(serverOptions);
    await bindServer(server, node.port);
    return this.startNode(id, server, node.port);
  }

  running(): TestNode[] {
    return [...this.nodes.values()].filter((n) => n.running);
  }

  /** The running node that all running nodes agree leads group 1, or null. */
  leader(): TestNode | null {
    const live = this.running();
    const leaders = live.filter((n) => n.host.groupStatus(1).role === 'leader');
    if (leaders.length !== 1) return null;
    return leaders[0]!;
  }

  /** A leader that every running node acknowledges (a settled election, not one about to be superseded). */
  async waitForLeader(timeoutMs = 8000): Promise<TestNode> {
    const start = Date.now();
    for (;;) {
      const l = this.leader();
      if (l && this.running().every((n) => n.host.groupStatus(1).leader === l.id)) return l;
      if (Date.now() - start > timeoutMs) throw new Error('no leader elected in time');
      await sleep(20);
    }
  }

  /**
   * Runs `fn` against the current leader, again against the next leader when leadership moves under it
   * (NOT_LEADER / UNAVAILABLE: an election on a loaded machine), until `timeoutMs`.
   */
  async onLeader<T>(fn: (leader: TestNode) => Promise<T>, timeoutMs = 10_000): Promise<T> {
    const start = Date.now();
    for (;;) {
      const leader = await this.waitForLeader(timeoutMs);
      try {
        return await fn(leader);
      } catch (e) {
        const code = (e as { code?: string }).code;
        if ((code !== 'NOT_LEADER' && code !== 'UNAVAILABLE') || Date.now() - start > timeoutMs) throw e;
        await sleep(20);
      }
    }
  }

  async close(): Promise<void> {
    for (const id of this.nodes.keys()) await this.stop(id);
    await rm(this.root, { recursive: true, force: true });
  }
}

/** A put command with no session, as the tests propose it. */
export const putCommand = (k: string, v: string) =>
  ({ type: 'put', key: Buffer.from(k), value: Buffer.from(v), session: null }) as const;

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export async function until(
  cond: () => boolean | Promise<boolean>,
  timeoutMs = 8000,
  what = 'condition',
): Promise<void> {
  const start = Date.now();
  while (!(await cond())) {
    if (Date.now() - start > timeoutMs) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await sleep(20);
  }
}
