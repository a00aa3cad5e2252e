/**
 * Client.listShards and Client.splitShard (issue 10, "CLI and Admin API") against in-process fake nodes in
 * sharded mode (fake-shards.ts): typed shard infos (end null for the last shard), the endpoint and
 * withStats options, malformed replies refused, a split sent to the owner's leader by following NOT_LEADER
 * (tessera-group) hints, and a slow split waited for rather than resent.
 */
import { describe, expect, it } from 'vitest';
import { TesseraError } from '../../../src/base';
import type { ClientOptions } from '../../../src/client';
import { shardInfoOf } from '../../../src/client/shard-info';
import type { WireShardInfo } from '../../../src/client/shard-info';
import { shardedFakes } from './sharded-fakes';

const start = shardedFakes();

/** Nodes 1..4; shard 1 ['', 'm') led by 1 on 1,2,3; shard 2 ['m', +inf) led by 2 on 2,3,4. */
function sharded(options: Partial<ClientOptions> = {}) {
  return start(
    4,
    [
      { id: 1, start: '', end: 'm', nodes: [1, 2, 3], leader: 1 },
      { id: 2, start: 'm', end: null, nodes: [2, 3, 4], leader: 2 },
    ],
    options,
  );
}

describe('Client.listShards', () => {
  it('returns the shards a node hosts, typed, the last end null; withStats reaches the node', async () => {
    const { c, cl } = await sharded();
    const shards = await cl.listShards({ endpoint: c.node(3).address, withStats: true });
    expect(shards.map((s) => s.id)).toEqual([1, 2]);
    expect(shards[0]!.start).toEqual(Buffer.alloc(0));
    expect(shards[0]!.end).toEqual(Buffer.from('m'));
    expect(shards[1]!.start).toEqual(Buffer.from('m'));
    expect(shards[1]!.end).toBeNull();
    expect(shards[1]).toMatchObject({
      epoch: 1,
      leader: 2,
      keys: 1,
      applied: 7,
      replicas: [
        { id: 2, voter: true },
        { id: 3, voter: true },
        { id: 4, voter: true },
      ],
    });
    expect(c.node(3).calls.find((x) => x.method === 'ListShards')?.request.withStats).toBe(true);

    const only4 = await cl.listShards({ endpoint: c.node(4).address });
    expect(only4.map((s) => [s.id, s.keys])).toEqual([[2, 0]]);
  });

  it('without an endpoint asks any node, with retries past one that is down', async () => {
    const { c, cl } = await sharded();
    c.node(1).stop();
    const shards = await cl.listShards({ timeoutMs: 3000 });
    expect(shards.length).toBeGreaterThan(0);
    // The whole cluster's list: the node sends the call to the meta leader (admin-nodes.ts).
    const asked = [2, 3, 4].flatMap((id) => c.node(id).calls.filter((x) => x.method === 'ListShards'));
    expect(asked.map((x) => x.request.cluster)).toContain(true);
  });

  it('a node that predates ListShards: UNIMPLEMENTED is an error, not an empty list', async () => {
    const { c, cl } = await sharded();
    c.shards = null; // back to one group holding everything
    await expect(cl.listShards({ endpoint: c.node(1).address })).rejects.toBeInstanceOf(TesseraError);
  });

  it('refuses malformed shards (hostile replies)', () => {
    const good: WireShardInfo = {
      id: 3,
      start: Buffer.from('a'),
      end: Buffer.alloc(0),
      epoch: 2,
      replicas: [{ id: 1, voter: true }],
      leader: 1,
      keys: 0,
      bytes: 0,
      applied: 1,
    };
    expect(shardInfoOf(good, 'x').end).toBeNull();
    const bad: Partial<WireShardInfo>[] = [
      { id: 0 },
      { epoch: -1 },
      { end: Buffer.from('a') }, // start == end
      { replicas: [] }, // no voter
      { replicas: [{ id: 0, voter: true }] },
      { leader: -3 },
      { keys: 1.5 },
      { start: 'a' as unknown as Buffer },
    ];
    for (const b of bad) {
      const e = (() => {
        try {
          shardInfoOf({ ...good, ...b }, 'ListShards');
        } catch (err) {
          return err as TesseraError;
        }
        return null;
      })();
      expect(e?.code, JSON.stringify(b)).toBe('INTERNAL');
    }
  });
});

describe('Client.splitShard', () => {
  it("goes to the owner's leader, following NOT_LEADER (tessera-group) hints", async () => {
    const { c, cl } = await sharded();
    // The client believes node 1 leads (the cluster-wide fallback); shard 2 is led by node 2.
    await cl.put('a', '1');
    expect(cl.leaderEndpoint()).toBe(c.node(1).address);
    const { left, right } = await cl.splitShard('t');
    expect(left).toMatchObject({ id: 2, epoch: 2, end: Buffer.from('t') });
    expect(right).toMatchObject({ epoch: 2, start: Buffer.from('t'), end: null, leader: 2 });
    expect(c.node(2).callsOf('SplitShard')).toBe(1);
    expect(c.shards!.splits).toEqual(['2@t']);
  });

  it('waits for a slow split instead of resending it after the attempt timeout', async () => {
    const { c, cl } = await sharded({ attemptTimeoutMs: 100 });
    c.splitDelayMs = 600;
    const { right } = await cl.splitShard('b', { timeoutMs: 3000 });
    expect(right.start).toEqual(Buffer.from('b'));
    expect(c.node(1).callsOf('SplitShard')).toBe(1); // shard 1's leader: sent once, not resent
    expect(c.shards!.splits).toEqual(['1@b']);
  });

  it('a key that is a shard start already is INVALID_ARGUMENT at once', async () => {
    const { cl } = await sharded();
    await expect(cl.splitShard('m')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
