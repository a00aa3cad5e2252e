import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { Random } from '../../../src/base';
import { createNodeMetrics, silentLogger, type NodeMetrics } from '../../../src/obs';
import { Transport, serverOptions, type IncomingSnapshot, type TransportHandler } from '../../../src/transport';
import { metricSum } from '../../support/metric-sum';

interface Node {
  id: number;
  transport: Transport;
  server: grpc.Server;
  port: number;
  received: { from: number; message: string }[];
  unreachable: number[];
  snapshots: { from: number; groupId: number; header: string; data: string[] }[];
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function bind(server: grpc.Server, port: number): Promise<number> {
  return new Promise((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
}

async function startNode(
  id: number,
  opts: { port?: number; outboxMessagesMax?: number; refuseSnapshots?: boolean; metrics?: NodeMetrics } = {},
): Promise<Node> {
  const transport = new Transport({
    selfId: id,
    clusterId: 'test-cluster',
    clientAddress: `127.0.0.1:${9000 + id}`,
    outboxMessagesMax: opts.outboxMessagesMax ?? 1000,
    random: new Random(id),
    logger: silentLogger(),
    metrics: opts.metrics ?? null,
    backoff: { initialMs: 20, maxMs: 200 },
  });
  const node: Node = {
    id,
    transport,
    server: new grpc.Server(serverOptions),
    port: 0,
    received: [],
    unreachable: [],
    snapshots: [],
  };
  const handler: TransportHandler = {
    onMessages: (from, messages) => {
      for (const m of messages) node.received.push({ from, message: m.toString() });
    },
    onUnreachable: (peer) => node.unreachable.push(peer),
    onForwardMeta: () => Promise.reject(new Error('meta forwarding is not served in this test')),
    onSnapshot: async (s: IncomingSnapshot) => {
      const data: string[] = [];
      for await (const c of s.chunks) data.push(c.toString());
      if (opts.refuseSnapshots) throw new Error('no thanks');
      node.snapshots.push({ from: s.from, groupId: s.groupId, header: s.header.toString(), data });
    },
  };
  transport.setHandler(handler);
  transport.registerOn(node.server);
  node.port = await bind(node.server, opts.port ?? 0);
  cleanups.push(() => stopNode(node));
  return node;
}

async function stopNode(node: Node): Promise<void> {
  node.transport.close();
  node.server.forceShutdown();
}

async function until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('transport', () => {
  it('exchanges batches in both directions, in order', async () => {
    const a = await startNode(1);
    const b = await startNode(2);
    a.transport.setPeer(2, `127.0.0.1:${b.port}`);
    b.transport.setPeer(1, `127.0.0.1:${a.port}`);
    await until(() => a.transport.stats().get(2)!.connected && b.transport.stats().get(1)!.connected);
    for (let i = 0; i < 500; i++) a.transport.send(2, Buffer.from(`a${i}`));
    b.transport.send(1, Buffer.from('hello'));
    await until(() => b.received.length === 500 && a.received.length === 1);
    expect(b.received.map((r) => r.message)).toEqual(Array.from({ length: 500 }, (_, i) => `a${i}`));
    expect(b.received.every((r) => r.from === 1)).toBe(true);
    expect(a.received).toEqual([{ from: 2, message: 'hello' }]);
    expect(a.transport.stats().get(2)!.dropped).toBe(0);
  });

  it('counts batches beside messages: what one turn sends to a peer leaves as one batch', async () => {
    const ma = createNodeMetrics();
    const mb = createNodeMetrics();
    const a = await startNode(1, { metrics: ma });
    const b = await startNode(2, { metrics: mb });
    a.transport.setPeer(2, `127.0.0.1:${b.port}`);
    await until(() => a.transport.stats().get(2)!.connected);
    for (let i = 0; i < 10; i++) a.transport.send(2, Buffer.from(`x${i}`)); // one turn
    await until(() => b.received.length === 10);
    await new Promise((r) => setTimeout(r, 20));
    a.transport.send(2, Buffer.from('later')); // another turn
    await until(() => b.received.length === 11);
    expect(await metricSum(ma.registry, 'tessera_peer_messages_sent_total')).toBe(11);
    expect(await metricSum(ma.registry, 'tessera_peer_batches_sent_total')).toBe(2);
    expect(await metricSum(mb.registry, 'tessera_peer_messages_received_total')).toBe(11);
    expect(await metricSum(mb.registry, 'tessera_peer_batches_received_total')).toBe(2);
  });

  it('reports an unreachable peer, and reconnects after the peer restarts on the same port', async () => {
    const a = await startNode(1);
    let b = await startNode(2);
    const port = b.port;
    a.transport.setPeer(2, `127.0.0.1:${port}`);
    await until(() => a.transport.stats().get(2)!.connected);
    a.transport.send(2, Buffer.from('before'));
    await until(() => b.received.length === 1);
    await stopNode(b);
    await until(() => !a.transport.stats().get(2)!.connected);
    expect(a.unreachable).toContain(2);
    // While down, sends are dropped (not queued) and counted.
    expect(a.transport.send(2, Buffer.from('lost'))).toBe(false);
    expect(a.transport.stats().get(2)!.dropped).toBeGreaterThan(0);
    b = await startNode(2, { port });
    await until(() => a.transport.stats().get(2)!.connected, 5000);
    a.transport.send(2, Buffer.from('after'));
    await until(() => b.received.length === 1);
    expect(b.received[0]!.message).toBe('after');
  });

  it('bounds the outbox: messages beyond the limit are dropped and counted', async () => {
    const a = await startNode(1, { outboxMessagesMax: 10 });
    const b = await startNode(2);
    a.transport.setPeer(2, `127.0.0.1:${b.port}`);
    await until(() => a.transport.stats().get(2)!.connected);
    let accepted = 0;
    for (let i = 0; i < 25; i++) if (a.transport.send(2, Buffer.from(`m${i}`))) accepted++;
    expect(accepted).toBe(10);
    expect(a.transport.stats().get(2)!.dropped).toBe(15);
    await until(() => b.received.length === 10);
    expect(b.received.map((r) => r.message)).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`));
    // The next turn has room again.
    expect(a.transport.send(2, Buffer.from('next'))).toBe(true);
  });

  it('streams a snapshot in chunks, counts its bytes on both sides, and reports refusal', async () => {
    const ma = createNodeMetrics();
    const mb = createNodeMetrics();
    const a = await startNode(1, { metrics: ma });
    const b = await startNode(2, { metrics: mb });
    const c = await startNode(3, { refuseSnapshots: true });
    a.transport.setPeer(2, `127.0.0.1:${b.port}`);
    a.transport.setPeer(3, `127.0.0.1:${c.port}`);
    await until(() => a.transport.stats().get(2)!.connected && a.transport.stats().get(3)!.connected);
    async function* chunks() {
      for (let i = 0; i < 5; i++) yield Buffer.from(`chunk${i}`);
    }
    await a.transport.sendSnapshot(2, 7, Buffer.from('hdr'), chunks());
    expect(b.snapshots).toEqual([
      { from: 1, groupId: 7, header: 'hdr', data: ['chunk0', 'chunk1', 'chunk2', 'chunk3', 'chunk4'] },
    ]);
    const install = { kind: 'install' };
    expect(await metricSum(ma.registry, 'tessera_snapshot_bytes_sent_total', install)).toBe(5 * 'chunk0'.length);
    expect(await metricSum(mb.registry, 'tessera_snapshot_bytes_received_total', install)).toBe(5 * 'chunk0'.length);
    expect(await metricSum(mb.registry, 'tessera_snapshot_bytes_sent_total')).toBe(0);
    expect(await metricSum(ma.registry, 'tessera_snapshot_bytes_sent_total', { kind: 'repair' })).toBe(0);
    await expect(a.transport.sendSnapshot(3, 7, Buffer.from('hdr'), chunks())).rejects.toThrow(
      /refused the snapshot: no thanks/,
    );
    await expect(a.transport.sendSnapshot(9, 7, Buffer.from('hdr'), chunks())).rejects.toThrow(
      /no connection to peer 9/,
    );
  });

  it('drops messages for an unknown peer and reports it unreachable', async () => {
    const a = await startNode(1);
    expect(a.transport.send(5, Buffer.from('x'))).toBe(false);
    expect(a.unreachable).toEqual([5]);
  });
});
