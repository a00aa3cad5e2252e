/**
 * Routing by shard at the node (issue 10, "Routing"), over raw gRPC on three in-process nodes: after a
 * split, a key goes to the group that owns it on the node that receives it; a node that is not that
 * group's leader answers NOT_LEADER naming the group (tessera-group); OpenSession registers the session in
 * the shard owning its key, and a session-tagged write to a shard where it was never opened is refused
 * (SESSION_EXPIRED), never applied without its exactly-once state.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeCluster } from './node-cluster';
import { raw, trailer } from './raw-call';

let cluster: NodeCluster;
let rightId = 0;

beforeAll(async () => {
  cluster = await NodeCluster.start(3);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const leader = cluster.leaderId();
    try {
      if (leader !== 0) {
        const { right } = await cluster.nodes.get(leader)!.host.splitShard(Buffer.from('m'), 5000);
        rightId = right.id;
        break;
      }
    } catch (e) {
      if (Date.now() > deadline) throw e;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  // Every replica has opened the right-hand group and knows its leader.
  for (;;) {
    const ready = [...cluster.nodes.values()].every(
      (n) => n.host.groupIds().includes(rightId) && n.host.groupStatus(rightId).leader !== 0,
    );
    if (ready) break;
    if (Date.now() > deadline) throw new Error('right-hand group not ready');
    await new Promise((r) => setTimeout(r, 50));
  }
}, 30_000);

afterAll(async () => {
  await cluster?.close();
});

const kv = (port: number, method: string, req: unknown) => raw(port, 'KV', method, req);
const leaderOf = (group: number) => [...cluster.nodes].find(([, n]) => n.host.groupStatus(group).role === 'leader')![0];
const port = (id: number) => cluster.ports.get(id)!;

describe('routing by shard at the node', () => {
  it('a key of the right-hand shard is served by its group, NOT_LEADER elsewhere names the group', async () => {
    const leader = leaderOf(rightId);
    const put = await kv(port(leader), 'Put', { key: Buffer.from('q1'), value: Buffer.from('v') });
    expect(put.err).toBeNull();
    expect(Number(put.res.header.groupId)).toBe(rightId);
    const other = [...cluster.ports.keys()].find((id) => id !== leader)!;
    const refused = await kv(port(other), 'Put', { key: Buffer.from('q2'), value: Buffer.from('v') });
    expect(trailer(refused.err, 'tessera-reason')).toBe('NOT_LEADER');
    expect(trailer(refused.err, 'tessera-group')).toBe(String(rightId));
    expect(trailer(refused.err, 'tessera-leader-id')).toBe(String(leader));
    const left = await kv(port(leaderOf(1)), 'Put', { key: Buffer.from('c1'), value: Buffer.from('v') });
    expect(Number(left.res.header.groupId)).toBe(1);
  });

  it('OpenSession registers in the shard owning its key; a write to a shard the session never opened is refused', async () => {
    const clientId = randomBytes(16);
    const rightLeader = port(leaderOf(rightId));
    const leftLeader = port(leaderOf(1));
    const opened = await kv(rightLeader, 'OpenSession', { clientId, key: Buffer.from('q') });
    expect(opened.err).toBeNull();
    expect(Number(opened.res.header.groupId)).toBe(rightId);
    const session = (seq: number) => ({ clientId, seq });
    const ok = await kv(rightLeader, 'Put', { key: Buffer.from('q3'), value: Buffer.from('1'), session: session(1) });
    expect(ok.err).toBeNull();
    // The left shard never saw this session: refused, nothing applied.
    const left = await kv(leftLeader, 'Put', { key: Buffer.from('c3'), value: Buffer.from('1'), session: session(2) });
    expect(trailer(left.err, 'tessera-reason')).toBe('SESSION_EXPIRED');
    const got = await kv(leftLeader, 'Get', { key: Buffer.from('c3') });
    expect(got.res.found).toBe(false);
    // An oversized OpenSession key is refused before anything is proposed.
    const big = await kv(rightLeader, 'OpenSession', { clientId, key: Buffer.alloc(1 << 20, 1) });
    expect(trailer(big.err, 'tessera-limit')).toBe('keyBytesMax');
  });
});
