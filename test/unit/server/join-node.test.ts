/**
 * --join on three in-process nodes: a new node registers itself in the meta shard's registry before it
 * serves (node list shows it up at its address); a node whose id another node holds is refused with a
 * clear CONFIG error and does not start; a peer may forward a registerNode only for its own id.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TesseraError } from '../../../src/base';
import { loadNodeConfig } from '../../../src/config';
import { encodeMetaCommand } from '../../../src/meta';
import { silentLogger } from '../../../src/obs';
import { startTesseraNode } from '../../../src/server';
import { NodeCluster, freePort } from './node-cluster';

let cluster: NodeCluster;

beforeAll(async () => {
  cluster = await NodeCluster.start(3);
});
afterAll(async () => {
  await cluster?.close();
});

async function metaLeader(): Promise<number> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    for (const [id, n] of cluster.nodes) if (n.host.groupStatus(2).role === 'leader') return id;
    if (Date.now() > deadline) throw new Error('no meta leader');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Starts a --join node with id `id` listening on `port` (its advertised address), through the other nodes. */
async function startJoiner(id: number, port: number) {
  const peers = [...cluster.ports]
    .filter(([peer]) => peer !== id)
    .map(([peer, p]) => `${peer}=127.0.0.1:${p}`)
    .join(',');
  const config = loadNodeConfig({
    argv: [
      ...['--id', String(id), '--listen', `127.0.0.1:${port}`, '--join'],
      ...['--peers', peers, '--data-dir', join(cluster.root, `joiner-${id}-${port}`)],
      ...['--profile', 'low-latency', '--cluster-token', 'node-cluster-test-token'],
    ],
    env: {},
  });
  return startTesseraNode({ config, logger: silentLogger(), seed: id });
}

describe('--join', () => {
  it('registers the new node in the meta shard before it serves: up, at its address', async () => {
    await metaLeader();
    // Registered on the meta leader; every replica applies it soon after.
    await new Promise((r) => setTimeout(r, 300));
    const port = await freePort();
    const four = await startJoiner(4, port);
    try {
      const deadline = Date.now() + 5000;
      for (;;) {
        const nodes = cluster.nodes.get(1)!.host.listNodes();
        const entry = nodes.find((n) => n.id === 4);
        if (entry !== undefined) {
          expect(entry).toMatchObject({ address: `127.0.0.1:${port}`, state: 'up' });
          break;
        }
        if (Date.now() > deadline) throw new Error(`node 4 not registered: ${JSON.stringify(nodes)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await four.close();
    }
  });

  it('a peer may forward registerNode only for its own id', async () => {
    const leader = cluster.nodes.get(await metaLeader())!;
    const command = encodeMetaCommand({
      type: 'registerNode',
      clusterId: '0123456789abcdef0123456789abcdef',
      nodeId: 9,
      address: '127.0.0.1:9',
    });
    await expect(leader.host.onForwardMeta(3, command, 2000)).rejects.toThrow(/node 3 may not register node 9/);
    expect(leader.host.listNodes().some((n) => n.id === 9)).toBe(false);
  });

  // Last: the refused node claims node 2's id, which the others see in its handshakes.
  it('a node whose id another node holds is refused with a clear error and does not start', async () => {
    const e = (await startJoiner(2, await freePort()).then(
      (n) => n.close().then(() => null),
      (x: unknown) => x,
    )) as TesseraError | null;
    expect(e).toBeInstanceOf(TesseraError);
    expect(e!.code).toBe('CONFIG');
    expect(e!.message).toMatch(/the cluster refused node 2 \(node-id-taken\).*unused --id/);
    expect(
      cluster.nodes
        .get(1)!
        .host.listNodes()
        .find((n) => n.id === 2)?.address,
    ).toBe(`127.0.0.1:${cluster.ports.get(2)}`);
  });
});
