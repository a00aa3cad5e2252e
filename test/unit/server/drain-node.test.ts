/**
 * Drain and removal end to end on in-process nodes with the real placement driver: three bootstrap nodes
 * and a fourth that joins with --join; `tessera node remove 3` is refused while node 3 holds replicas,
 * `tessera node drain 3` returns once the driver moved every replica off it (node 4 takes them), and
 * `tessera node remove 3` is then accepted and shows in `node list`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCliCaptured } from '../cli/run-cli';
import { NodeCluster, freePort } from './node-cluster';

const ARGS = ['--placement-interval-ms', '200'];
let cluster: NodeCluster;

beforeAll(async () => {
  cluster = await NodeCluster.start(3, ARGS);
  await cluster.waitForLeader();
  cluster.ports.set(4, await freePort());
  await cluster.startNode(4, ['--join', ...ARGS]);
});
afterAll(async () => {
  await cluster?.close();
});

const cli = (args: string[]) =>
  runCliCaptured([...args, '--endpoints', cluster.endpoints().join(','), '--deadline-ms', '5000']);

describe('node drain and node remove with the placement driver', () => {
  it('remove is refused while the node holds replicas; after the drain it is accepted', async () => {
    const refused = await cli(['node', 'remove', '3']);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/node 3 still holds replicas of \d+ shard\(s\).*drain it first/);

    const drained = await cli(['node', 'drain', '3', '--wait-ms', '40000']);
    expect(drained.err).toBe('');
    expect(drained.code).toBe(0);
    expect(drained.out).toMatch(/drained node 3: it holds no replica/);
    // The leaders applied the removals (the CLI folds their reports); followers follow within a moment.
    const holders = () =>
      [1, 2, 4].flatMap((id) => {
        const host = cluster.nodes.get(id)!.host;
        return host.groupIds().filter((g) => host.groupStatus(g).members.some((m) => m.id === 3));
      });
    const deadline = Date.now() + 5000;
    while (holders().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(holders()).toEqual([]);

    const removed = await cli(['node', 'remove', '3']);
    expect(removed).toMatchObject({ code: 0, out: 'removed node 3 from the cluster', err: '' });
    const list = JSON.parse((await cli(['node', 'list', '--json'])).out);
    expect(list.nodes.find((n: { id: number }) => n.id === 3).state).toBe('removed');
  }, 60_000);
});
