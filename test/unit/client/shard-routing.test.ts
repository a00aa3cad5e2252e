/**
 * The SDK routes each single-key request to the leader of the shard owning its key (issue 10, "Routing"),
 * against in-process fake nodes in sharded mode (fake-shards.ts): a leader cached per shard (from
 * NOT_LEADER's tessera-group, from response headers, from ListShards), WRONG_SHARD answers teaching the
 * owner's descriptor and leader, coalescing still per node, and splits and moves under a running workload
 * invisible to the caller (no error, every write applied once).
 */
import { describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import type { TesseraError } from '../../../src/base';
import { loadServices } from '../../../src/client';
import { Endpoint } from '../../../src/client/endpoint';
import { Router } from '../../../src/client/router';
import { ShardRoutes } from '../../../src/client/shard-routes';
import type { FakeCluster } from './fake-cluster';
import { fakeDescriptor } from './fake-shards';
import { shardedFakes } from './sharded-fakes';

const sharded = shardedFakes({ deadlineMs: 4000 });

const putsAt = (c: FakeCluster, node: number): string[] =>
  c
    .node(node)
    .calls.filter((x) => x.method === 'Put')
    .map((x) => String(x.request.key));

/** The methods of the requests for `key` that node `node` received. */
const keyedAt = (c: FakeCluster, node: number, key: string): string[] =>
  c
    .node(node)
    .calls.filter((x) => String(x.request?.key) === key)
    .map((x) => x.method);

describe('routing by shard', () => {
  it('sends each key to the leader of its own shard (a leader cached per shard, not one per cluster)', async () => {
    const { c, cl } = await sharded(3, [
      { id: 1, start: '', end: 'm', nodes: [1, 2, 3], leader: 1 },
      { id: 2, start: 'm', end: null, nodes: [1, 2, 3], leader: 2 },
    ]);
    await cl.put('a', 'warm');
    await cl.put('z', 'warm');
    for (const n of c.nodes) n.calls.length = 0;
    for (let i = 0; i < 5; i++) {
      await cl.put('a', String(i));
      await cl.put('z', String(i));
      expect(await cl.get('b')).toBeNull();
    }
    // No redirects: shard 1's writes only at node 1, shard 2's only at node 2, nothing at node 3.
    expect(putsAt(c, 1)).toEqual(Array(5).fill('a'));
    expect(putsAt(c, 2)).toEqual(Array(5).fill('z'));
    expect(c.node(3).calls).toEqual([]);
    expect(c.node(1).callsOf('Get')).toBe(5);
  });

  it("WRONG_SHARD teaches the owner's descriptor and leader: the retry goes straight there", async () => {
    const { c, cl } = await sharded(4, [
      { id: 1, start: '', end: 'm', nodes: [1, 2, 3], leader: 1 },
      { id: 2, start: 'm', end: null, nodes: [2, 3, 4], leader: 4 },
    ]);
    await cl.put('a', '1'); // node 1 is now the last leader the client saw
    for (const n of c.nodes) n.calls.length = 0;
    // Node 1 does not host shard 2: WRONG_SHARD naming shard 2 led by node 4 (to the session's OpenSession
    // on shard 2, the first request about 'z').
    await cl.put('z', '1');
    expect(keyedAt(c, 1, 'z')).toEqual(['OpenSession']);
    expect(keyedAt(c, 2, 'z')).toEqual([]);
    expect(keyedAt(c, 3, 'z')).toEqual([]);
    expect(keyedAt(c, 4, 'z')).toEqual(['OpenSession', 'Put']);
    expect(c.get('z')).toBe('1');
    // Cached: the next write for shard 2 goes to node 4 directly.
    await cl.put('y', '1');
    expect(putsAt(c, 4)).toEqual(['z', 'y']);
    expect(keyedAt(c, 1, 'y')).toEqual([]);
  });

  it('coalescing stays per node: concurrent reads of two shards led by one node share its pipeline', async () => {
    const { c, cl } = await sharded(2, [
      { id: 1, start: '', end: 'm', nodes: [1, 2], leader: 1 },
      { id: 2, start: 'm', end: null, nodes: [1, 2], leader: 1 },
    ]);
    await cl.put('a', 'warm');
    await cl.put('z', 'warm');
    c.node(1).pipelineOps.length = 0;
    await Promise.all([cl.get('b'), cl.get('y'), cl.get('c'), cl.get('x')]);
    expect(c.node(1).pipelineOps).toEqual([['get', 'get', 'get', 'get']]);
  });

  it('splits and replica moves under a running workload: no error reaches the caller, each write applied once', async () => {
    const { c, cl } = await sharded(4, [{ id: 1, start: '', end: null, nodes: [1, 2, 3], leader: 1 }]);
    const shards = c.shards!;
    const keys = Array.from({ length: 26 }, (_, i) => String.fromCharCode(97 + i));
    let stop = false;
    const changes = (async () => {
      const plan: Array<() => void> = [
        () => shards.split(Buffer.from('h')),
        () => shards.move(shards.owner(Buffer.from('h')).d.id, [2, 3, 4], 4),
        () => shards.split(Buffer.from('q')),
        () => shards.move(shards.owner(Buffer.from('q')).d.id, [1, 3, 4], 3),
        () => shards.move(1, [1, 2, 4], 2),
        () => shards.split(Buffer.from('d')),
      ];
      for (const step of plan) {
        await new Promise((r) => setTimeout(r, 40));
        step();
      }
      stop = true;
    })();
    let writes = 0;
    const workers = [0, 1, 2, 3].map(async (w) => {
      for (let i = 0; !stop || i < 3; i++) {
        const key = `${keys[(w * 7 + i * 5) % keys.length]!}${w}`; // each worker its own keys
        await cl.put(key, `${w}.${i}`);
        expect((await cl.get(key))?.toString()).toBe(`${w}.${i}`);
        writes++;
        if (i > 2000) throw new Error('the workload did not end');
      }
    });
    await Promise.all([changes, ...workers]);
    expect(shards.splits.length).toBe(3);
    expect(writes).toBeGreaterThanOrEqual(12);
    expect(c.seqLog.length).toBe(writes); // each write applied exactly once
    expect(c.duplicates).toBe(0);
    expect(c.violations).toEqual([]);
  });
});

describe('ShardRoutes: leaders per shard', () => {
  function routes() {
    const services = loadServices();
    const router = new Router(['127.0.0.1:1', '127.0.0.1:2'], (a) => new Endpoint(a, services, {}, undefined), 8);
    const r = new ShardRoutes(
      router,
      () => Promise.reject(new Error('no loads here')),
      () => false,
    );
    r.cache.update(fakeDescriptor(1, '', 'm', [1, 2]));
    r.cache.update(fakeDescriptor(2, 'm', null, [1, 2]));
    const [ep1, ep2] = router.endpoints() as [Endpoint, Endpoint];
    router.identify(ep1, 1); // as their Status replies would
    router.identify(ep2, 2);
    return { r, ep1, ep2, close: () => router.endpoints().forEach((e) => e.close()) };
  }

  it("learns a shard's leader from a reply's header (group_id + leader_id), for that shard only", () => {
    const { r, ep1, ep2, close } = routes();
    const now = Date.now();
    r.noteLeaderReply(Buffer.from('z'), ep2, { groupId: 2, leaderId: 2 });
    expect(r.leaderFor(Buffer.from('z'), now)).toBe(ep2);
    expect(r.leaderFor(Buffer.from('a'), now)).toBeNull();
    r.noteLeaderReply(Buffer.from('a'), ep1, { groupId: 1, leaderId: 1 });
    expect(r.leaderFor(Buffer.from('a'), now)).toBe(ep1);
    // A header naming another leader than the node that answered teaches nothing.
    r.noteLeaderReply(Buffer.from('z'), ep1, { groupId: 2, leaderId: 2 });
    expect(r.leaderFor(Buffer.from('z'), now)).toBe(ep2);
    // NOT_LEADER from the cached leader forgets it; its tessera-group hint names the new one.
    r.noteNotLeader(Buffer.from('z'), ep2, { groupId: 2, leaderId: 1, leaderAddress: ep1.address });
    expect(r.leaderFor(Buffer.from('z'), now)).toBe(ep1);
    close();
  });
});

describe('WRONG_SHARD and NOT_LEADER are retried within the deadline', () => {
  it('a WRONG_SHARD with the epoch only reloads the shard list and retries', async () => {
    const { c, cl } = await sharded(2, [{ id: 1, start: '', end: null, nodes: [1, 2], leader: 1 }]);
    await cl.put('a', '1');
    const before = c.nodes.reduce((n, x) => n + x.callsOf('ListShards'), 0);
    c.node(1).scripted.push({
      method: 'Put',
      code: grpc.status.FAILED_PRECONDITION,
      reason: 'WRONG_SHARD',
      trailers: { 'tessera-epoch': '9', 'tessera-shard': '1;1;9' },
    });
    await cl.put('b', '2');
    expect(c.get('b')).toBe('2');
    expect(c.nodes.reduce((n, x) => n + x.callsOf('ListShards'), 0)).toBe(before + 1);
  });

  it('a stale read answered WRONG_SHARD goes to the owner next', async () => {
    const { c, cl } = await sharded(4, [
      { id: 1, start: '', end: 'm', nodes: [1, 2, 3], leader: 1 },
      { id: 2, start: 'm', end: null, nodes: [4], leader: 4 },
    ]);
    c.data.set(Buffer.from('z').toString('hex'), Buffer.from('v'));
    for (let i = 0; i < 4; i++) expect((await cl.get('z', { consistency: 'stale' }))?.toString()).toBe('v');
    // At most one node that does not host shard 2 was asked (once); then node 4 every time.
    const elsewhere = [1, 2, 3].reduce((n, id) => n + c.node(id).callsOf('Get'), 0);
    expect(elsewhere).toBeLessThanOrEqual(1);
    expect(c.node(4).callsOf('Get')).toBe(4);
  });

  it('a node that keeps answering WRONG_SHARD ends the call at its deadline, not later', async () => {
    const { c, cl } = await sharded(1, [{ id: 1, start: '', end: null, nodes: [1], leader: 1 }]);
    for (let i = 0; i < 500; i++)
      c.node(1).scripted.push({
        method: 'Get',
        code: grpc.status.FAILED_PRECONDITION,
        reason: 'WRONG_SHARD',
        trailers: { 'tessera-epoch': '1', 'tessera-shard': '1;1;1;;*;1v' },
      });
    const t = Date.now();
    const e = await cl.get('a', { deadlineMs: 300 }).then(
      () => null,
      (err: TesseraError) => err,
    );
    expect(e?.code).toBe('DEADLINE_EXCEEDED');
    expect(Date.now() - t).toBeLessThan(1500);
  });
});

describe('loading the shard cache', () => {
  it('loads from the nodes in rotation, so shards the leader does not host are learned too', async () => {
    const { c, cl } = await sharded(3, [
      { id: 1, start: '', end: 'm', nodes: [1], leader: 1 },
      { id: 2, start: 'm', end: null, nodes: [2, 3], leader: 2 },
    ]);
    expect(await cl.get('a')).toBeNull(); // loads from node 1 (hosting shard 1 only); node 1 leads
    await new Promise((r) => setTimeout(r, 250)); // past the spacing of loads
    expect(await cl.get('z')).toBeNull(); // 'z' has no cached owner: loads again, from another node
    expect(keyedAt(c, 1, 'z')).toEqual([]); // so no request for 'z' went to node 1 (WRONG_SHARD)
    expect(c.nodes.map((n) => n.callsOf('ListShards'))).toEqual([1, 1, 0]);
  });
});
