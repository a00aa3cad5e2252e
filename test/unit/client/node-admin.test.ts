/**
 * The SDK's placement calls against fake Admin nodes: moveReplica goes to the shard's leader by the shard's
 * start key (the routing cache, loaded when the shard is unknown) and follows NOT_LEADER otherwise;
 * setNodeState follows the meta leader's hint; arguments are checked before anything is sent.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Client } from '../../../src/client';
import { FakeAdmin, wireShard } from '../cli/fake-admin';

let cluster: FakeAdmin | null = null;
let client: Client | null = null;
afterEach(async () => {
  await client?.close();
  client = null;
  cluster?.stop();
  cluster = null;
});

async function setup(): Promise<{ c: FakeAdmin; sdk: Client }> {
  const c = await FakeAdmin.start(3);
  // Two shards on every node; shard 7 ['m', end) is led by node 3.
  for (const n of c.nodes) n.shards = [wireShard(1, '', 'm', { leader: 1 }), wireShard(7, 'm', '', { leader: 3 })];
  cluster = c;
  client = new Client({ endpoints: c.endpoints(), deadlineMs: 3000, discover: false });
  return { c, sdk: client };
}

describe('Client.moveReplica', () => {
  it("goes straight to the shard's leader, found by the shard's start key", async () => {
    const { c, sdk } = await setup();
    c.leaderId = 3;
    await sdk.clusterStatus(); // which node answers at which endpoint (what discovery does)
    const members = await sdk.moveReplica(7, 2, 4);
    expect(members.map((m) => m.id)).toEqual([1, 2, 4]);
    expect(c.moveRequests).toEqual([{ at: 3, shardId: 7, from: 2, to: 4, noWait: false }]);
  });

  it('a shard no node lists (the meta shard) is moved on the leader its NOT_LEADER hints name', async () => {
    const { c, sdk } = await setup();
    c.leaderId = 2;
    await sdk.moveReplica(2, 3, 4, { noWait: true });
    expect(c.moveRequests.at(-1)).toEqual({ at: 2, shardId: 2, from: 3, to: 4, noWait: true });
  });

  it("sends the target's addresses along: the registry's client address and the peer address its Status gives", async () => {
    const { c, sdk } = await setup();
    c.leaderId = 3;
    const two = c.nodes[1]!;
    two.peerAddress = '127.0.0.1:9'; // node 2 listens for peers on its own --peer-listen
    await sdk.moveReplica(7, 1, 2);
    expect(c.moveRequests.at(-1)).toMatchObject({ to: 2, toAddress: two.address, toPeerAddress: '127.0.0.1:9' });
    two.peerAddress = ''; // a node of a version without the field: peers dial the client address
    await sdk.moveReplica(7, 1, 2);
    expect(c.moveRequests.at(-1)).toMatchObject({ to: 2, toAddress: two.address, toPeerAddress: two.address });
    c.states.set(2, 'removed'); // a removed target: nothing looked up, the leader refuses it with the reason
    await sdk.moveReplica(7, 1, 2);
    expect(c.moveRequests.at(-1)).not.toHaveProperty('toAddress');
  });

  it('refuses bad arguments without a request', async () => {
    const { c, sdk } = await setup();
    await expect(sdk.moveReplica(0, 1, 2)).rejects.toThrow(/bad shard id/);
    await expect(sdk.moveReplica(7, 0, 2)).rejects.toThrow(/node id/);
    await expect(sdk.moveReplica(7, 1, 2.5)).rejects.toThrow(/node id/);
    expect(c.moveRequests).toEqual([]);
  });
});

describe('Client.setNodeState', () => {
  it("follows the meta leader's hint and resolves with the state recorded", async () => {
    const { c, sdk } = await setup();
    c.metaLeaderId = 3;
    expect(await sdk.setNodeState(2, 'draining')).toBe('draining');
    expect(c.stateRequests.at(-1)).toEqual({ at: 3, id: 2, state: 'draining' });
    expect(c.states.get(2)).toBe('draining');
  });

  it('refuses a state it cannot set, and a refusal of the node is final (no retry)', async () => {
    const { c, sdk } = await setup();
    await expect(sdk.setNodeState(2, 'down' as never)).rejects.toThrow(/draining, up or removed/);
    expect(c.stateRequests).toEqual([]);
    c.refuseRemoval = 'node 2 still holds replicas';
    await expect(sdk.setNodeState(2, 'removed')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(c.stateRequests).toHaveLength(1);
  });
});
