/**
 * `tessera shard move` on in-process nodes with NodeHost.moveReplica: three bootstrap nodes and a fourth
 * joined with --join (the placement driver's first round only after 60 s, so the moves are the test's
 * own). A data shard's replica moves off its leader (Raft hands leadership over) and the meta shard's moves
 * by NOT_LEADER hints (it has no user key to route by); each prints the members and every replica agrees.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Client } from '../../../src/client';
import { runCliCaptured } from '../cli/run-cli';
import { NodeCluster, freePort } from './node-cluster';

const ARGS = ['--placement-interval-ms', '60000'];
let cluster: NodeCluster;

// A fresh cluster per test: in this version a second group moved to the same freshly joined node does not
// catch up there (its learner is never heard from; reported to src/node's owner), one group per node does.
beforeEach(async () => {
  cluster = await NodeCluster.start(3, ARGS);
  await cluster.waitForLeader();
  cluster.ports.set(4, await freePort());
  await cluster.startNode(4, ['--join', ...ARGS]);
});
afterEach(async () => {
  await cluster?.close();
});

const cli = (args: string[]) =>
  runCliCaptured([...args, '--endpoints', cluster.endpoints().join(','), '--deadline-ms', '20000']);

/** The members of `group` as its leader reports them, once every other replica agrees (bounded). */
async function agreedMembers(group: number, expected: number[]): Promise<number[]> {
  const deadline = Date.now() + 10_000;
  let seen: number[][] = [];
  for (;;) {
    seen = [...cluster.nodes.values()]
      .filter((n) => n.host.groupIds().includes(group))
      .map((n) =>
        n.host
          .groupStatus(group)
          .members.map((m) => m.id)
          .sort(),
      );
    if (seen.length > 0 && seen.every((m) => JSON.stringify(m) === JSON.stringify(expected))) return expected;
    if (Date.now() > deadline) return seen[0] ?? [];
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('tessera shard move', () => {
  it("moves a data shard's replica off its leader to the joined node", async () => {
    const leader = cluster.leaderId();
    const r = await cli(['shard', 'move', '1', '--from', String(leader), '--to', '4']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(new RegExp(`^moved shard 1's replica from node ${leader} to node 4; members: `));
    const expected = [1, 2, 3, 4].filter((id) => id !== leader);
    expect(await agreedMembers(1, expected)).toEqual(expected);
    expect(
      cluster.nodes
        .get(4)!
        .host.groupStatus(1)
        .members.map((m) => m.id),
    ).toContain(4);
    // A client that knows only the node the shard left: WRONG_SHARD there, then the shard's new replicas.
    const client = new Client({ endpoints: [`127.0.0.1:${cluster.ports.get(leader)}`], deadlineMs: 10_000 });
    try {
      await client.put('moved/k', 'v');
      expect((await client.get('moved/k'))?.toString()).toBe('v');
    } finally {
      await client.close();
    }
  }, 40_000);

  it('moves a replica of the meta shard (routed by NOT_LEADER hints)', async () => {
    const from = [1, 2, 3].find((id) => cluster.nodes.get(id)!.host.groupStatus(2).role !== 'leader')!;
    const r = await cli(['shard', 'move', '2', '--from', String(from), '--to', '4']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const expected = [1, 2, 3, 4].filter((id) => id !== from);
    expect(await agreedMembers(2, expected)).toEqual(expected);
  }, 40_000);
});
