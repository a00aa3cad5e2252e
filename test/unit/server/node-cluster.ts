/** Test helper: N in-process TesseraNodes (real LevelDB, real gRPC on free 127.0.0.1 ports). */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadNodeConfig } from '../../../src/config';
import { silentLogger } from '../../../src/obs';
import { startTesseraNode, type TesseraNode } from '../../../src/server';

import { freePort, freePorts } from '../../support/free-ports';

export { freePort };

export class NodeCluster {
  readonly nodes = new Map<number, TesseraNode>();
  readonly ports = new Map<number, number>();
  root = '';
  peers = '';

  static async start(n: number, extraArgs: string[] = []): Promise<NodeCluster> {
    const c = new NodeCluster();
    c.root = await mkdtemp(join(tmpdir(), 'tessera-server-test-'));
    const ports = await freePorts(n);
    for (let id = 1; id <= n; id++) c.ports.set(id, ports[id - 1] as number);
    c.peers = [...c.ports].map(([id, p]) => `${id}=127.0.0.1:${p}`).join(',');
    await Promise.all([...c.ports.keys()].map((id) => c.startNode(id, extraArgs)));
    return c;
  }

  async startNode(id: number, extraArgs: string[] = [], peers = this.peers): Promise<TesseraNode> {
    const port = this.ports.get(id)!;
    const config = loadNodeConfig({
      argv: [
        '--id',
        String(id),
        '--listen',
        `127.0.0.1:${port}`,
        '--peers',
        peers,
        '--data-dir',
        join(this.root, `n${id}`),
        '--profile',
        'low-latency',
        '--cluster-token',
        'node-cluster-test-token',
        ...extraArgs,
      ],
      env: {},
    });
    const node = await startTesseraNode({ config, logger: silentLogger(), seed: id });
    this.nodes.set(id, node);
    return node;
  }

  endpoints(): string[] {
    return [...this.ports.values()].map((p) => `127.0.0.1:${p}`);
  }

  leaderId(): number {
    for (const [id, n] of this.nodes) if (n.host.groupStatus(1).role === 'leader') return id;
    return 0;
  }

  async waitForLeader(timeoutMs = 8000): Promise<number> {
    const t0 = Date.now();
    for (;;) {
      const id = this.leaderId();
      if (id !== 0 && [...this.nodes.values()].every((n) => n.host.groupStatus(1).leader === id)) return id;
      if (Date.now() - t0 > timeoutMs) throw new Error('no leader in time');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async stop(id: number): Promise<void> {
    const n = this.nodes.get(id);
    this.nodes.delete(id);
    await n?.close();
  }

  async close(): Promise<void> {
    for (const id of [...this.nodes.keys()]) await this.stop(id);
    await rm(this.root, { recursive: true, force: true });
  }
}
