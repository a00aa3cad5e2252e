import { afterEach, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { Client } from '../../../src/client';
import { PIPELINE_IDLE_MS } from '../../../src/client/pipeline';
import { TesseraError } from '../../../src/base';
import { FakeCluster } from './fake-cluster';

let cluster: FakeCluster | null = null;
let client: Client | null = null;

afterEach(async () => {
  await client?.close();
  cluster?.stop();
  client = null;
  cluster = null;
});

async function setup(
  n: number,
  opts: Partial<ConstructorParameters<typeof Client>[0]> = {},
): Promise<{ c: FakeCluster; cl: Client }> {
  cluster = await FakeCluster.start(n);
  client = new Client({ endpoints: cluster.endpoints(), ...opts });
  return { c: cluster, cl: client };
}

async function rejection(p: Promise<unknown>): Promise<TesseraError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(TesseraError);
    return e as TesseraError;
  }
  throw new Error('expected a rejection');
}

describe('Client basics', () => {
  it('put, get, delete with strings and Buffers; get of a missing key is null', async () => {
    const { c, cl } = await setup(1);
    await cl.put('a', 'one');
    await cl.put(Buffer.from([0, 1, 2]), Buffer.from([9, 9]));
    expect((await cl.get('a'))?.toString()).toBe('one');
    expect(await cl.get(Buffer.from([0, 1, 2]))).toEqual(Buffer.from([9, 9]));
    expect(await cl.get('missing')).toBeNull();
    expect(await cl.delete('a')).toBe(true);
    expect(await cl.delete('a')).toBe(false);
    expect(await cl.get('a')).toBeNull();
    expect(c.get('a')).toBeUndefined();
  });

  it('compareAndSwap: absent expectation, value match, mismatch returns current, delete on success', async () => {
    const { cl } = await setup(1);
    expect(await cl.compareAndSwap('k', null, 'v1')).toEqual({ succeeded: true, current: Buffer.from('v1') });
    const miss = await cl.compareAndSwap('k', null, 'v2');
    expect(miss.succeeded).toBe(false);
    expect(miss.current?.toString()).toBe('v1');
    expect((await cl.compareAndSwap('k', 'v1', 'v2')).succeeded).toBe(true);
    const wrong = await cl.compareAndSwap('k', 'nope', 'v3');
    expect(wrong).toEqual({ succeeded: false, current: Buffer.from('v2') });
    expect(await cl.compareAndSwap('k', 'v2', null)).toEqual({ succeeded: true, current: null });
    expect(await cl.get('k')).toBeNull();
    expect(await cl.compareAndSwap('k', 'v2', 'x')).toEqual({ succeeded: false, current: null });
  });

  it('batch applies atomically when compares hold and returns reads from before the writes', async () => {
    const { cl } = await setup(1);
    await cl.put('x', '1');
    const r = await cl.batch({
      compares: [
        { key: 'x', expected: '1' },
        { key: 'y', expected: null },
      ],
      ops: [
        { op: 'get', key: 'x' },
        { op: 'put', key: 'x', value: '2' },
        { op: 'put', key: 'y', value: 'new' },
        { op: 'get', key: 'nothing' },
      ],
    });
    expect(r.succeeded).toBe(true);
    expect(r.results.map((v) => v?.toString() ?? null)).toEqual(['1', null, null, null]);
    expect((await cl.get('x'))?.toString()).toBe('2');
    const failed = await cl.batch({ compares: [{ key: 'x', expected: '1' }], ops: [{ op: 'delete', key: 'x' }] });
    expect(failed).toEqual({ succeeded: false, results: [] });
    expect((await cl.get('x'))?.toString()).toBe('2');
    await expect(cl.batch({ ops: [{ op: 'bogus', key: 'x' } as never] })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    });
  });

  it('scan yields non-empty pages in key order, honours end and a total limit', async () => {
    const { cl } = await setup(1);
    for (let i = 0; i < 10; i++) await cl.put(`k${i}`, `v${i}`);
    await cl.put('z', 'last');
    const pages: string[][] = [];
    for await (const page of cl.scan('k', 'l', { pageLimit: 3 })) pages.push(page.items.map((kv) => kv.key.toString()));
    expect(pages).toEqual([['k0', 'k1', 'k2'], ['k3', 'k4', 'k5'], ['k6', 'k7', 'k8'], ['k9']]);
    const limited: string[] = [];
    for await (const page of cl.scan('k3', null, { pageLimit: 2, limit: 5 }))
      limited.push(...page.items.map((kv) => kv.key.toString()));
    expect(limited).toEqual(['k3', 'k4', 'k5', 'k6', 'k7']);
    const all: string[] = [];
    for await (const page of cl.scan()) all.push(...page.items.map((kv) => `${kv.key}=${kv.value}`));
    expect(all.length).toBe(11);
    expect(all[10]).toBe('z=last');
    expect(() => cl.scan('a', null, { pageLimit: 0 })).toThrow(/pageLimit/);
  });

  it('rejects bad input types and bad options with typed errors', async () => {
    const { cl } = await setup(1);
    await expect(cl.get(123 as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(cl.put('k', {} as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(cl.get('k', { consistency: 'eventual' as never })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(() => new Client({ endpoints: [] })).toThrow(TesseraError);
    expect(() => new Client({ endpoints: ['nohost'] })).toThrow(/bad endpoint/);
    expect(() => new Client({ endpoints: ['127.0.0.1:1'], deadlineMs: -1 })).toThrow(/deadlineMs/);
  });

  it('server INVALID_ARGUMENT is thrown at once with its limit, without retries', async () => {
    const { c, cl } = await setup(3);
    const e = await rejection(cl.put('', 'v'));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.details.limit).toBe('keyBytesMin');
    expect(c.nodes.reduce((n, node) => n + node.callsOf('Put'), 0)).toBeLessThanOrEqual(2); // at most one redirect
    expect(e.retryable).toBe(false);
  });
});

describe('leader discovery and retries', () => {
  it('follows a NOT_LEADER hint and then goes straight to the cached leader', async () => {
    const { c, cl } = await setup(3);
    c.leaderId = 3;
    await cl.put('a', '1');
    expect(cl.leaderEndpoint()).toBe(c.node(3).address);
    const before = c.node(1).callsOf('Put') + c.node(2).callsOf('Put');
    for (let i = 0; i < 20; i++) await cl.put(`k${i}`, 'v');
    expect(c.node(1).callsOf('Put') + c.node(2).callsOf('Put')).toBe(before);
    expect(c.node(3).callsOf('Put')).toBe(21);
  });

  it('adds a hinted leader address it was not configured with', async () => {
    cluster = await FakeCluster.start(2);
    cluster.leaderId = 2;
    client = new Client({ endpoints: [cluster.node(1).address] });
    await client.put('a', '1');
    expect(client.endpoints()).toContain(cluster.node(2).address);
    expect(client.leaderEndpoint()).toBe(cluster.node(2).address);
  });

  it('resolves an id-only hint through addresses learned from status', async () => {
    const { c, cl } = await setup(3);
    c.hintMode = 'id';
    await cl.status({ endpoint: c.node(1).address });
    c.leaderId = 2;
    await cl.put('a', '1');
    expect(cl.leaderEndpoint()).toBe(c.node(2).address);
  });

  it('maps a hint by node id to the configured endpoint of that node (clients behind proxies)', async () => {
    cluster = await FakeCluster.start(3);
    cluster.leaderId = 3;
    cluster.hintAddress = '127.0.0.1:1'; // e.g. the node's peer address, not reachable by this client
    client = new Client({ endpoints: cluster.endpoints(), learnEndpoints: false, discover: false });
    await client.put('a', '1'); // ids unknown yet: probes its own endpoints until node 3 answers
    expect(client.endpoints()).toEqual(cluster.endpoints());
    await client.clusterStatus(); // learns which node answers where
    cluster.leaderId = 2;
    const before = cluster.node(1).callsOf('Put') + cluster.node(3).callsOf('Put');
    await client.put('b', '2');
    expect(cluster.node(1).callsOf('Put') + cluster.node(3).callsOf('Put')).toBe(before + 1); // one redirect, straight to node 2
    expect(client.leaderEndpoint()).toBe(cluster.node(2).address);
    expect(client.endpoints()).not.toContain('127.0.0.1:1');
  });

  it('discovers the leader in the background at construction', async () => {
    cluster = await FakeCluster.start(3);
    cluster.leaderId = 2;
    client = new Client({ endpoints: cluster.endpoints() });
    const deadline = Date.now() + 3000;
    while (client.leaderEndpoint() === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(client.leaderEndpoint()).toBe(cluster.node(2).address);
    await client.put('a', '1');
    expect(cluster.node(1).callsOf('Put') + cluster.node(3).callsOf('Put')).toBe(0);
  });

  it('without hints, probes the other endpoints until the leader answers', async () => {
    const { c, cl } = await setup(3);
    c.hintMode = 'none';
    c.leaderId = 3;
    await cl.put('a', '1');
    expect(cl.leaderEndpoint()).toBe(c.node(3).address);
  });

  it('fails over when the leader process dies: survivors are probed until a new leader is elected', async () => {
    const { c, cl } = await setup(3);
    await cl.put('before', '1');
    c.node(1).stop();
    // followers keep naming the dead leader (stale hint) until the "election" 300 ms later
    setTimeout(() => {
      c.leaderId = 2;
      c.term++;
    }, 300);
    const t0 = Date.now();
    await cl.put('after', '2');
    const tookMs = Date.now() - t0;
    expect(tookMs).toBeGreaterThanOrEqual(250);
    expect(tookMs).toBeLessThan(300 + 1200); // far below the 5 s deadline: survivors are re-probed
    expect(cl.leaderEndpoint()).toBe(c.node(2).address);
    expect(c.get('after')).toBe('2');
  });

  it('abandons a leader that hangs after one attempt timeout and marks it unhealthy', async () => {
    // The call's deadline (60 s) is far past the test's timeout: the put completes only if the client
    // abandons the hung node after attempt timeouts (no wall-clock assertion: CI load stretches them).
    const { c, cl } = await setup(3, { attemptTimeoutMs: 150, unhealthyMs: 60_000, deadlineMs: 60_000 });
    await cl.put('warm', '1');
    c.node(1).hang = true;
    c.leaderId = 2;
    await cl.put('a', '1');
    expect(c.get('a')).toBe('1');
    expect(cl.leaderEndpoint()).toBe(c.node(2).address);
    // stale reads avoid the unhealthy endpoint for unhealthyMs
    const hungCalls = c.node(1).callsOf('Get');
    for (let i = 0; i < 10; i++) await cl.get('a', { consistency: 'stale' });
    expect(c.node(1).callsOf('Get')).toBe(hungCalls);
  }, 20_000);

  it('waits for a slow but alive leader instead of resending to it', async () => {
    const { c, cl } = await setup(1, { attemptTimeoutMs: 100 });
    await cl.put('warm', '1');
    c.node(1).applyDelayMs = 350;
    // other calls keep the node "answering" while the slow write is pending, so it is not abandoned
    let reading = true;
    const reader = (async () => {
      while (reading) await cl.get('warm', { consistency: 'stale' });
    })();
    await cl.put('slow', 'v');
    reading = false;
    await reader;
    expect(c.get('slow')).toBe('v');
    expect(c.node(1).callsOf('Put')).toBe(2); // warm + one attempt: no duplicate from a timeout
    expect(c.duplicates).toBe(0);
  });

  it('does not call a node dead because this process was too busy to read its reply', async () => {
    const { c, cl } = await setup(1, { attemptTimeoutMs: 100 });
    await cl.put('warm', '1');
    const pending = cl.put('k', 'v');
    const until = Date.now() + 350;
    while (Date.now() < until) {
      // block the event loop: the reply sits unread in the socket while the attempt's timer is due
    }
    await pending;
    expect(c.node(1).callsOf('Put')).toBe(2);
    expect(c.duplicates).toBe(0);
  });

  it('abandons a silent attempt after attemptTimeoutMs even when the call deadline is long', async () => {
    const { c, cl } = await setup(3, { attemptTimeoutMs: 100, deadlineMs: 10_000 });
    await cl.put('warm', '1');
    c.node(1).applyDelayMs = 5000; // accepts the request, never answers in time, answers nothing else
    c.leaderId = 2;
    const t0 = Date.now();
    await cl.put('moved', 'v');
    expect(Date.now() - t0).toBeLessThan(100 + 1000); // not the 10 s deadline
    expect(cl.leaderEndpoint()).toBe(c.node(2).address);
    c.node(1).applyDelayMs = 0;
  });

  it('retries RESOURCE_EXHAUSTED and server-side UNAVAILABLE until success', async () => {
    const { c, cl } = await setup(1);
    c.node(1).scripted.push({ method: 'Put', code: grpc.status.RESOURCE_EXHAUSTED, reason: 'RESOURCE_EXHAUSTED' });
    c.node(1).scripted.push({ method: 'Put', code: grpc.status.UNAVAILABLE, reason: 'UNAVAILABLE' });
    await cl.put('a', '1');
    expect(c.node(1).callsOf('Put')).toBe(3);
    expect(c.get('a')).toBe('1');
  });

  it('gives up at the deadline with DEADLINE_EXCEEDED when no leader emerges', async () => {
    const { c, cl } = await setup(3, { deadlineMs: 400 });
    c.leaderId = 0;
    const t0 = Date.now();
    const e = await rejection(cl.put('a', '1'));
    const took = Date.now() - t0;
    expect(e.code).toBe('DEADLINE_EXCEEDED');
    expect(e.message).toMatch(/deadline of 400 ms exceeded after \d+ attempts/);
    expect(e.details.attempts).toBeGreaterThan(3); // kept probing with short backoffs
    expect(took).toBeGreaterThanOrEqual(380);
    expect(took).toBeLessThan(1500);
    // every answer was a definitive NOT_LEADER (unless a loaded machine made an attempt time out)
    if (e.details.lastCode === 'NOT_LEADER' && (e.details.attempts as number) > 0)
      expect(e.message).toMatch(/not the leader/);
  });

  it('reports UNAVAILABLE when no endpoint is reachable at all', async () => {
    const { c, cl } = await setup(2, { deadlineMs: 300 });
    c.stop();
    const e = await rejection(cl.get('a'));
    expect(e.code).toBe('UNAVAILABLE');
    expect(e.message).toMatch(/no endpoint reachable/);
  });

  it('linearizable reads go to the leader; stale reads spread over all replicas', async () => {
    const { c, cl } = await setup(3);
    await cl.put('k', 'v');
    for (let i = 0; i < 9; i++) expect((await cl.get('k'))?.toString()).toBe('v');
    expect(c.node(2).callsOf('Get') + c.node(3).callsOf('Get')).toBe(0);
    for (let i = 0; i < 9; i++) expect((await cl.get('k', { consistency: 'stale' }))?.toString()).toBe('v');
    for (const n of c.nodes) expect(n.callsOf('Get')).toBeGreaterThanOrEqual(n.id === 1 ? 10 : 2);
  });
});

describe('exactly-once writes through sessions', () => {
  it('a CAS whose reply is dropped is retried with the same (clientId, seq) and applied once', async () => {
    let drops = 0;
    const { c, cl } = await setup(3, {
      faultInjection: { dropReply: ({ method }) => method === 'CompareAndSwap' && drops++ === 0 },
    });
    const r = await cl.compareAndSwap('lock', null, 'me');
    // a naive retry would see its own write and report a failed comparison
    expect(r).toEqual({ succeeded: true, current: Buffer.from('me') });
    expect(c.applies).toBe(1);
    expect(c.duplicates).toBe(1);
    expect(c.seqLog).toHaveLength(1);
  });

  it('a counter-like batch retried after a dropped reply increments once', async () => {
    let drops = 0;
    const { c, cl } = await setup(1, {
      faultInjection: { dropReply: ({ method }) => method === 'Batch' && drops++ < 2 },
    });
    await cl.put('n', '0');
    const r = await cl.batch({ compares: [{ key: 'n', expected: '0' }], ops: [{ op: 'put', key: 'n', value: '1' }] });
    expect(r.succeeded).toBe(true);
    expect(c.get('n')).toBe('1');
    expect(c.duplicates).toBe(2);
  });

  it('sequential writes reuse one session with seq 1, 2, 3, ...', async () => {
    const { c, cl } = await setup(1);
    for (let i = 0; i < 5; i++) await cl.put(`k${i}`, 'v');
    expect(new Set(c.seqLog.map((s) => s.clientId)).size).toBe(1);
    expect(c.seqLog.map((s) => s.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(Buffer.from(c.seqLog[0]!.clientId, 'hex')).toHaveLength(16);
  });

  it('concurrent writes never share a session; per-session seqs are dense; the pool is bounded', async () => {
    const { c, cl } = await setup(1, { sessionsMax: 4 });
    c.node(1).applyDelayMs = 5;
    await Promise.all(Array.from({ length: 40 }, (_, i) => cl.put(`k${i}`, 'v')));
    expect(c.violations).toEqual([]);
    expect(cl.sessionCount()).toBe(4);
    const bySession = new Map<string, number[]>();
    for (const s of c.seqLog) bySession.set(s.clientId, [...(bySession.get(s.clientId) ?? []), s.seq]);
    expect(bySession.size).toBe(4);
    for (const seqs of bySession.values()) expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    expect(c.data.size).toBe(40);
  });

  it('a write rejected definitively does not consume its seq', async () => {
    const { c, cl } = await setup(1);
    await cl.put('a', '1');
    c.node(1).scripted.push({
      method: 'Put',
      code: grpc.status.INVALID_ARGUMENT,
      reason: 'INVALID_ARGUMENT',
      trailers: { 'tessera-limit': 'valueBytesMax' },
    });
    const e = await rejection(cl.put('b', 'too big'));
    expect(e.details.limit).toBe('valueBytesMax');
    await cl.put('c', '3');
    expect(c.seqLog.map((s) => s.seq)).toEqual([1, 2]);
  });

  it('a write that timed out consumes its seq (it may have been applied)', async () => {
    const { c, cl } = await setup(1, { deadlineMs: 250, attemptTimeoutMs: 100 });
    await cl.put('a', '1');
    c.node(1).hang = true;
    const e = await rejection(cl.put('b', '2'));
    expect(e.code).toBe('DEADLINE_EXCEEDED');
    expect(e.details.indeterminate).toBe(true);
    c.node(1).hang = false;
    await cl.put('c', '3', { deadlineMs: 3000 });
    expect(c.seqLog.map((s) => s.seq)).toEqual([1, 3]);
  });
});

describe('admin and status', () => {
  it('status of one node, clusterStatus of all (with a dead one), admin calls routed to the leader', async () => {
    const { c, cl } = await setup(3);
    c.leaderId = 2;
    const s = await cl.status({ endpoint: c.node(1).address });
    expect(s.nodeId).toBe(1);
    expect(s.groups[0]).toMatchObject({ groupId: 1, leader: 2, term: 1, role: 'follower' });
    expect(s.groups[0]!.members.map((m) => m.id)).toEqual([1, 2, 3]);
    c.node(3).stop();
    const all = await cl.clusterStatus({ timeoutMs: 500 });
    expect(all.map((e) => e.ok)).toEqual([true, true, false]);
    const members = await cl.addNode(4, '127.0.0.1:7004', { learner: true });
    expect(members.length).toBe(3);
    await cl.removeNode(3);
    expect(await cl.transferLeader(1, { groupId: 1 })).toBe(1);
    expect(c.admin).toEqual(['add 4 127.0.0.1:7004 learner=true', 'remove 3', 'transfer 1 1']);
    expect(c.node(1).callsOf('AddNode')).toBeLessThanOrEqual(1);
    await expect(cl.addNode(0, '127.0.0.1:1')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(cl.addNode(5, 'bad')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    // A group id must be a non-negative integer (0: the server's first data shard); nothing is sent otherwise.
    const calls = c.node(1).callsOf('RemoveNode');
    await expect(cl.removeNode(3, { groupId: -1 })).rejects.toThrow(/removeNode: bad groupId -1/);
    await expect(cl.addNode(5, '127.0.0.1:7005', { groupId: 1.5 })).rejects.toThrow(/addNode: bad groupId 1.5/);
    await expect(cl.transferLeader(2, { groupId: -3 })).rejects.toThrow(/transferLeader: bad groupId -3/);
    expect(c.node(1).callsOf('RemoveNode')).toBe(calls);
  });

  it('close() rejects later calls', async () => {
    const { cl } = await setup(1);
    await cl.close();
    await expect(cl.put('a', 'b')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    await expect(cl.get('a')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });
});

/** A cluster of nodes that predate KV.Pipeline: the SDK coalesces into KV.Multi calls. */
async function setupMulti(
  n: number,
  opts: Partial<ConstructorParameters<typeof Client>[0]> = {},
): Promise<{ c: FakeCluster; cl: Client }> {
  const s = await setup(n, opts);
  for (let id = 1; id <= n; id++) s.c.node(id).pipelineUnimplemented = true;
  return s;
}

describe('coalescing concurrent calls into one KV.Pipeline message', () => {
  it('sends calls made together as one message on one long-lived stream, each answered on its own', async () => {
    const { c, cl } = await setup(1);
    const keys = Array.from({ length: 50 }, (_, i) => `k${i}`);
    await Promise.all(keys.map((k) => cl.put(k, 'warm'))); // opens the 50 sessions these writes use
    const before = c.node(1).pipelineMessages;
    await Promise.all(keys.map((k) => cl.put(k, `v${k}`)));
    expect(c.node(1).pipelineMessages - before).toBe(1);
    const got = await Promise.all([...keys.map((k) => cl.get(k)), cl.get('missing')]);
    expect(got.map((v) => v?.toString() ?? null)).toEqual([...keys.map((k) => `v${k}`), null]);
    expect(c.node(1).pipelineMessages - before).toBe(2);
    expect(c.node(1).pipelineStreams).toBe(1);
    expect(c.node(1).multiCalls).toBe(0);
    expect(c.violations).toEqual([]);
  });

  it('one failing request does not fail the others of its message', async () => {
    const { c, cl } = await setup(1);
    await Promise.all([cl.put('w1', 'x'), cl.put('w2', 'x')]); // opens the two sessions
    const before = c.node(1).pipelineMessages;
    const [bad, good] = await Promise.allSettled([cl.put(Buffer.alloc(0), 'x'), cl.put('ok', 'y')]);
    expect((bad as PromiseRejectedResult).reason).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(good.status).toBe('fulfilled');
    expect(c.get('ok')).toBe('y');
    expect(c.node(1).pipelineMessages - before).toBe(1);
  });

  it('a request whose deadline is shorter than its batch-mates fails at its own deadline', async () => {
    const { c, cl } = await setup(1, { attemptTimeoutMs: 10_000 });
    await cl.put('warm', '1');
    c.node(1).hang = true;
    const order: string[] = [];
    const t0 = Date.now();
    const short = cl.get('warm', { deadlineMs: 150 }).then(
      () => order.push('short ok'),
      (e: TesseraError) => order.push(`short ${e.code}`),
    );
    const long = cl.get('warm', { deadlineMs: 900 }).then(
      () => order.push('long ok'),
      (e: TesseraError) => order.push(`long ${e.code}`),
    );
    await short;
    expect(order).toEqual(['short DEADLINE_EXCEEDED']);
    expect(Date.now() - t0).toBeLessThan(800);
    await long;
    expect(order).toEqual(['short DEADLINE_EXCEEDED', 'long DEADLINE_EXCEEDED']);
  });

  it('a broken stream fails its requests as retryable; the retry opens a new stream and applies once', async () => {
    const { c, cl } = await setup(2);
    await cl.put('warm', '1');
    c.node(1).hang = true;
    const write = cl.put('k', 'v', { deadlineMs: 5000 });
    await new Promise((r) => setTimeout(r, 100));
    expect(c.node(1).callsOf('Put')).toBe(2); // the write reached node 1, which never answers
    c.node(1).stop(); // the connection drops: the stream breaks
    c.leaderId = 2;
    await write;
    expect(c.get('k')).toBe('v');
    expect(c.node(2).pipelineStreams).toBe(1);
    expect(c.violations).toEqual([]);
  });

  it('closes an idle stream, so a process that forgot close() can exit, and reopens it on the next call', async () => {
    const { c, cl } = await setup(1);
    await cl.put('a', '1');
    expect(c.node(1).pipelinesOpen).toBe(1);
    const t0 = Date.now();
    while (c.node(1).pipelinesOpen > 0) {
      if (Date.now() - t0 > PIPELINE_IDLE_MS + 2000) throw new Error('the idle stream was not closed');
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(Date.now() - t0).toBeGreaterThanOrEqual(PIPELINE_IDLE_MS - 100);
    await cl.put('b', '2');
    expect(c.node(1).pipelineStreams).toBe(2);
    expect(c.get('b')).toBe('2');
  });

  it('keeps one stream while calls keep coming, longer than the idle time', async () => {
    const { c, cl } = await setup(1);
    const t0 = Date.now();
    for (let i = 0; Date.now() - t0 < PIPELINE_IDLE_MS * 1.6; i++) {
      await cl.put(`busy${i}`, 'x');
      await new Promise((r) => setTimeout(r, PIPELINE_IDLE_MS / 5));
    }
    expect(c.node(1).pipelineStreams).toBe(1);
    expect(c.node(1).pipelinesOpen).toBe(1);
  });

  it('close() fails the calls in flight on the stream at once', async () => {
    const { c, cl } = await setup(1, { attemptTimeoutMs: 10_000 });
    await cl.put('warm', '1');
    c.node(1).hang = true;
    const t0 = Date.now();
    const pending = cl.put('k', 'v', { deadlineMs: 5000 }).then(
      () => 'ok',
      (e: TesseraError) => e.code,
    );
    await new Promise((r) => setTimeout(r, 50));
    await cl.close();
    expect(await pending).toBe('UNAVAILABLE');
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('falls back to KV.Multi calls on a node without Pipeline', async () => {
    const { c, cl } = await setupMulti(1);
    await Promise.all([cl.put('a', '1'), cl.put('b', '2')]);
    await Promise.all([cl.put('c', '3'), cl.put('d', '4')]);
    expect(c.get('d')).toBe('4');
    expect(c.node(1).pipelineMessages).toBe(0);
    // The first pair's session opens went one by one after the UNIMPLEMENTED; from then on every turn is
    // one Multi call (the first pair's writes, then the second pair).
    expect(c.node(1).multiCalls).toBe(2);
  });
});

describe('coalescing concurrent calls into KV.Multi (nodes without Pipeline)', () => {
  it('sends calls made together as one Multi call, each answered on its own', async () => {
    const { c, cl } = await setupMulti(1);
    const keys = Array.from({ length: 50 }, (_, i) => `k${i}`);
    await Promise.all(keys.map((k) => cl.put(k, 'warm'))); // opens the 50 sessions these writes use
    const before = c.node(1).multiCalls;
    await Promise.all(keys.map((k) => cl.put(k, `v${k}`)));
    expect(c.node(1).multiCalls - before).toBe(1);
    const got = await Promise.all([...keys.map((k) => cl.get(k)), cl.get('missing')]);
    expect(got.map((v) => v?.toString() ?? null)).toEqual([...keys.map((k) => `v${k}`), null]);
    expect(c.node(1).multiCalls - before).toBe(2);
    expect(c.violations).toEqual([]);
  });

  it('one failing request does not fail the others of its call', async () => {
    const { c, cl } = await setupMulti(1);
    await cl.put('warm', '1');
    const [bad, good] = await Promise.allSettled([cl.put(Buffer.alloc(0), 'x'), cl.put('ok', 'y')]);
    expect(bad.status).toBe('rejected');
    expect((bad as PromiseRejectedResult).reason).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(good.status).toBe('fulfilled');
    expect(c.get('ok')).toBe('y');
  });

  it('a request whose deadline is shorter than its call-mates fails at its own deadline', async () => {
    const { c, cl } = await setupMulti(1, { attemptTimeoutMs: 10_000 });
    await cl.put('warm', '1');
    c.node(1).hang = true;
    const order: string[] = [];
    const short = cl.get('warm', { deadlineMs: 150 }).then(
      () => order.push('short ok'),
      (e: TesseraError) => order.push(`short ${e.code}`),
    );
    const long = cl.get('warm', { deadlineMs: 1500 }).then(
      () => order.push('long ok'),
      (e: TesseraError) => order.push(`long ${e.code}`),
    );
    await short;
    expect(order).toEqual(['short DEADLINE_EXCEEDED']);
    await long;
    expect(order).toEqual(['short DEADLINE_EXCEEDED', 'long DEADLINE_EXCEEDED']);
  });

  it('falls back to one call per request on a node without Multi', async () => {
    const { c, cl } = await setupMulti(1);
    c.node(1).multiUnimplemented = true;
    await Promise.all([cl.put('a', '1'), cl.put('b', '2')]);
    expect(c.get('a')).toBe('1');
    expect(c.get('b')).toBe('2');
    expect(c.node(1).callsOf('Put')).toBe(2);
    expect((await cl.get('a'))?.toString()).toBe('1');
    expect(c.node(1).multiCalls).toBe(0);
  });
});
