/**
 * Raft.FetchRepairSnapshot between two real Transports over gRPC (src/transport/repair-fetch.ts): the copy
 * arrives in order and the source is closed; the node's refusal reaches the requester; the peer door
 * refuses another cluster before the node sees anything; a requester that stops early ends the serve.
 */
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { Random } from '../../../src/base';
import { createNodeMetrics, silentLogger, type NodeMetrics } from '../../../src/obs';
import { Transport, serverOptions, type RepairSource, type TransportHandler } from '../../../src/transport';
import { metricSum } from '../../support/metric-sum';

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

interface Served {
  requests: { from: number; groupId: number; minIndex: number }[];
  closed: number;
}

function source(chunks: Buffer[], served: Served, delayMs = 0): RepairSource {
  let closed = false;
  return {
    async *[Symbol.asyncIterator]() {
      for (const c of chunks) {
        if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
        yield c;
      }
    },
    close: async () => {
      if (!closed) served.closed++;
      closed = true;
    },
  };
}

async function node(
  id: number,
  clusterId: string,
  onRepairRequest?: TransportHandler['onRepairRequest'],
  metrics: NodeMetrics | null = null,
): Promise<{ transport: Transport; port: number }> {
  const transport = new Transport({
    selfId: id,
    clusterId,
    clientAddress: `127.0.0.1:${9000 + id}`,
    outboxMessagesMax: 100,
    random: new Random(id),
    logger: silentLogger(),
    metrics,
    backoff: { initialMs: 20, maxMs: 200 },
    snapshotTimeoutMs: 10_000,
  });
  transport.setHandler({
    onMessages: () => undefined,
    onUnreachable: () => undefined,
    onForwardMeta: () => Promise.reject(new Error('meta forwarding is not served in this test')),
    onSnapshot: async () => undefined,
    ...(onRepairRequest ? { onRepairRequest } : {}),
  });
  const server = new grpc.Server(serverOptions);
  transport.registerOn(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  cleanups.push(() => {
    transport.close();
    server.forceShutdown();
  });
  return { transport, port };
}

async function collect(it: AsyncIterable<Buffer>): Promise<string[]> {
  const out: string[] = [];
  for await (const c of it) out.push(c.toString());
  return out;
}

async function pair(
  onRepairRequest?: TransportHandler['onRepairRequest'],
  requesterCluster = 'c1',
  metrics: { server: NodeMetrics; requester: NodeMetrics } | null = null,
) {
  const server = await node(1, 'c1', onRepairRequest, metrics?.server ?? null);
  const requester = await node(2, requesterCluster, undefined, metrics?.requester ?? null);
  requester.transport.setPeer(1, `127.0.0.1:${server.port}`);
  return requester.transport;
}

describe('Raft.FetchRepairSnapshot', () => {
  it("streams the source's chunks in order to the authenticated requester, closes the source, counts the bytes", async () => {
    const served: Served = { requests: [], closed: 0 };
    const chunks = Array.from({ length: 50 }, (_, i) => Buffer.from(`chunk-${i}-`.padEnd(4096, 'x')));
    const metrics = { server: createNodeMetrics(), requester: createNodeMetrics() };
    const t = await pair(
      async (from, groupId, minIndex) => {
        served.requests.push({ from, groupId, minIndex });
        return source(chunks, served);
      },
      'c1',
      metrics,
    );
    const got = await collect(t.fetchRepairSnapshot(1, 7, 42));
    expect(got).toEqual(chunks.map((c) => c.toString()));
    expect(served.requests).toEqual([{ from: 2, groupId: 7, minIndex: 42 }]);
    await new Promise((r) => setTimeout(r, 50));
    expect(served.closed).toBe(1);
    const repair = { kind: 'repair' };
    const sent = metricSum(metrics.server.registry, 'tessera_snapshot_bytes_sent_total', repair);
    const received = metricSum(metrics.requester.registry, 'tessera_snapshot_bytes_received_total', repair);
    expect(await sent).toBe(50 * 4096);
    expect(await received).toBe(50 * 4096);
    expect(await metricSum(metrics.server.registry, 'tessera_snapshot_bytes_sent_total', { kind: 'install' })).toBe(0);
  });

  it("the node's refusal reaches the requester as UNAVAILABLE with its reason", async () => {
    const t = await pair(async () => {
      throw new Error('repair copy refused: node 2 is not a member of the group');
    });
    await expect(collect(t.fetchRepairSnapshot(1, 1, 0))).rejects.toMatchObject({
      code: 'UNAVAILABLE',
      message: expect.stringMatching(/not a member/),
    });
  });

  it('a node that does not serve copies refuses the call', async () => {
    const t = await pair(undefined);
    await expect(collect(t.fetchRepairSnapshot(1, 1, 0))).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('the peer door refuses a requester of another cluster before the node sees the request', async () => {
    const served: Served = { requests: [], closed: 0 };
    const t = await pair(async (from, groupId, minIndex) => {
      served.requests.push({ from, groupId, minIndex });
      return source([Buffer.from('secret')], served);
    }, 'another-cluster');
    await expect(collect(t.fetchRepairSnapshot(1, 1, 0))).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(served.requests).toEqual([]);
  });

  it('a requester that stops early ends the serve and the source is closed', async () => {
    const served: Served = { requests: [], closed: 0 };
    const many = Array.from({ length: 1000 }, () => Buffer.alloc(64 * 1024, 1));
    const t = await pair(async (from, groupId, minIndex) => {
      served.requests.push({ from, groupId, minIndex });
      return source(many, served, 1);
    });
    let n = 0;
    for await (const _ of t.fetchRepairSnapshot(1, 1, 0)) if (++n === 3) break;
    const t0 = Date.now();
    while (served.closed === 0 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
    expect(served.closed).toBe(1);
  });
});
