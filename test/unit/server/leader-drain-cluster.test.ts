/**
 * Leader drain on three in-process nodes (real gRPC and LevelDB): `tessera node drain-leaders ID` leaves the
 * node leading nothing (meta shard included) while it keeps its replicas; TesseraNode.drainLeaders (the
 * SIGTERM path) does the same and from then on the node refuses leadership: a transfer to it times out and
 * the old leader keeps leading; writes go on throughout.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from '../../../src/client';
import type { GroupId } from '../../../src/base';
import { ledGroups } from '../../../src/node';
import { runCliCaptured } from '../cli/run-cli';
import { NodeCluster } from './node-cluster';

let cluster: NodeCluster;
let client: Client;

beforeAll(async () => {
  cluster = await NodeCluster.start(3, ['--balance-leaders', 'false']);
  await cluster.waitForLeader();
  client = new Client({ endpoints: cluster.endpoints(), deadlineMs: 5000 });
  await client.put('before', '1');
}, 30_000);

afterAll(async () => {
  await client?.close();
  await cluster?.close();
}, 30_000);

/** Hands every group to node `id` (from whichever node leads it). */
async function leadEverything(id: number): Promise<void> {
  for (const g of cluster.nodes.get(id)!.host.groupIds()) {
    for (const n of cluster.nodes.values())
      if (n.host.groupStatus(g).role === 'leader' && n.host.nodeId !== id) await n.host.transferLeader(g, id, 3000);
  }
  expect(ledGroups(cluster.nodes.get(id)!.host).length).toBe(cluster.nodes.get(id)!.host.groupIds().length);
}

describe('leader drain', () => {
  it('tessera node drain-leaders moves every leadership off the node, which keeps its replicas', async () => {
    await leadEverything(2);
    const host = cluster.nodes.get(2)!.host;
    const groups = host.groupIds().length;
    expect(groups).toBeGreaterThanOrEqual(2);
    const r = await runCliCaptured(['node', 'drain-leaders', '2', '--endpoints', cluster.endpoints().join(',')]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/node 2 leads nothing/);
    expect(ledGroups(host)).toEqual([]);
    expect(host.groupIds().length).toBe(groups);
    await client.put('after-cli-drain', '1');
    expect((await client.get('after-cli-drain'))?.toString()).toBe('1');
  }, 20_000);

  it('rejects a bad node id and names an unknown node', async () => {
    const eps = ['--endpoints', cluster.endpoints().join(',')];
    expect((await runCliCaptured(['node', 'drain-leaders', 'x', ...eps])).code).toBe(2);
    const unknown = await runCliCaptured(['node', 'drain-leaders', '9', ...eps]);
    expect(unknown.code).toBe(3);
    expect(unknown.err).toMatch(/node 9 is not in the cluster's registry/);
  }, 20_000);

  it('drainLeaders (the SIGTERM path) leaves the node leading nothing and refusing new leaderships', async () => {
    await leadEverything(3);
    const node = cluster.nodes.get(3)!;
    expect(node.health()).toMatchObject({ serving: true });
    const result = await node.drainLeaders(3000);
    // Stopping: /healthz says so (503), so readiness probes and load balancers send no new clients here.
    expect(node.health()).toMatchObject({ serving: false, stopping: true });
    expect(result).toMatchObject({ ok: true, remaining: [] });
    expect(result.moved).toBe(node.host.groupIds().length);
    expect(ledGroups(node.host)).toEqual([]);
    // A transfer back is refused: the drained node drops TimeoutNow, the leader keeps leading.
    const g = node.host.groupIds()[0] as GroupId;
    const leader = cluster.nodes.get(node.host.groupStatus(g).leader)!;
    await expect(leader.host.transferLeader(g, 3, 600)).rejects.toThrow(/did not move to node 3/);
    expect(ledGroups(node.host)).toEqual([]);
    await client.put('after-drain', '1');
    expect((await client.get('after-drain'))?.toString()).toBe('1');
  }, 20_000);
});
