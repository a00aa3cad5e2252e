/**
 * `tessera node list` (Admin.ListNodes) on three in-process nodes: the registry the meta shard's bootstrap
 * wrote (every --peers node, up, at its address) with each node's replicas and leaderships, which follow a
 * split; and the SDK refuses a malformed reply.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeListOf } from '../../../src/client/node-info';
import { runCliCaptured } from '../cli/run-cli';
import { NodeCluster } from './node-cluster';

let cluster: NodeCluster;

beforeAll(async () => {
  cluster = await NodeCluster.start(3);
});
afterAll(async () => {
  await cluster?.close();
});

const cli = (args: string[]) => runCliCaptured([...args, '--endpoints', cluster.endpoints().join(',')]);

async function nodeList(): Promise<{
  nodes: { id: number; address: string; state: string; replicas: number; leaders: number }[];
}> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const r = await cli(['node', 'list', '--json']);
    if (r.code === 0) return JSON.parse(r.out);
    if (Date.now() > deadline) throw new Error(`node list: exit ${r.code}: ${r.err}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

describe('tessera node list', () => {
  it('lists every bootstrap node, up, with its replicas and leaderships, which follow a split', async () => {
    // Replicas and leaderships count every group: the first data shard and the meta shard.
    const before = await nodeList();
    expect(before.nodes.map((n) => [n.id, n.address, n.state, n.replicas])).toEqual(
      [...cluster.ports].map(([id, port]) => [id, `127.0.0.1:${port}`, 'up', 2]),
    );
    expect(before.nodes.reduce((s, n) => s + n.leaders, 0)).toBeLessThanOrEqual(2);
    const split = await cli(['shard', 'split', 'm']);
    expect(split.code).toBe(0);
    const deadline = Date.now() + 10_000;
    let after = await nodeList();
    while (after.nodes.some((n) => n.replicas !== 3) || after.nodes.reduce((s, n) => s + n.leaders, 0) !== 3) {
      if (Date.now() > deadline) throw new Error(`node list after the split: ${JSON.stringify(after)}`);
      await new Promise((res) => setTimeout(res, 100));
      after = await nodeList();
    }
    const table = await cli(['node', 'list']);
    expect(table.out.split('\n')[0]).toMatch(/^ID\s+ADDRESS\s+STATE\s+REPLICAS\s+LEADERS$/);
  });

  it('the SDK refuses a malformed registry reply', () => {
    const ok = { id: 1, address: 'a:1', state: 'up', replicas: 1, leaders: 0 };
    expect(nodeListOf({ nodes: [ok] })).toEqual([ok]);
    for (const bad of [
      { ...ok, id: 0 },
      { ...ok, state: 'zombie' },
      { ...ok, replicas: -1 },
      { ...ok, address: 'x'.repeat(300) },
    ])
      expect(() => nodeListOf({ nodes: [bad] })).toThrow(/malformed/);
    expect(() => nodeListOf({})).toThrow(/malformed/);
  });
});
