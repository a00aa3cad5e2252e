/**
 * Snapshot sends that fail on the receiver's side: the receiver dies mid-stream, or refuses before it read
 * the stream (it is still busy with the previous snapshot). Every send must settle (no wait on 'drain'
 * forever, no unhandled rejection) and the chunk source must be closed (on a leader it holds a LevelDB
 * snapshot open).
 */
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { Random } from '../../../src/base';
import { silentLogger } from '../../../src/obs';
import { Transport, serverOptions, type IncomingSnapshot } from '../../../src/transport';

interface Node {
  transport: Transport;
  server: grpc.Server;
  port: number;
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function startNode(
  id: number,
  onSnapshot: (s: IncomingSnapshot, node: Node) => Promise<void>,
  limits: { snapshotTimeoutMs?: number; snapshotStallMs?: number } = {},
): Promise<Node> {
  const transport = new Transport({
    selfId: id,
    clusterId: 'test-cluster',
    clientAddress: `127.0.0.1:${9000 + id}`,
    outboxMessagesMax: 1000,
    random: new Random(id),
    logger: silentLogger(),
    metrics: null,
    backoff: { initialMs: 20, maxMs: 200 },
    ...limits,
  });
  const server = new grpc.Server(serverOptions);
  const node: Node = { transport, server, port: 0 };
  transport.setHandler({
    onMessages: () => undefined,
    onUnreachable: () => undefined,
    onForwardMeta: () => Promise.reject(new Error('meta forwarding is not served in this test')),
    onSnapshot: (s) => onSnapshot(s, node),
  });
  transport.registerOn(server);
  node.port = await new Promise((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  cleanups.push(() => {
    transport.close();
    server.forceShutdown();
  });
  return node;
}

async function until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A big chunk source (far more than the HTTP/2 windows hold) that records whether it was closed. */
function bigSource(
  chunkCount = 400,
  chunkBytes = 64 * 1024,
): { chunks: AsyncIterable<Buffer>; state: { yielded: number; closed: boolean } } {
  const state = { yielded: 0, closed: false };
  async function* gen(): AsyncGenerator<Buffer> {
    try {
      for (let i = 0; i < chunkCount; i++) {
        state.yielded++;
        yield Buffer.alloc(chunkBytes, i % 256);
      }
    } finally {
      state.closed = true;
    }
  }
  return { chunks: gen(), state };
}

/** Records unhandled rejections while `fn` runs (vitest would report them only after the file). */
async function withoutUnhandled<T>(
  fn: () => Promise<T>,
): Promise<{ result: PromiseSettledResult<T>; unhandled: unknown[] }> {
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown): void => {
    unhandled.push(e);
  };
  process.on('unhandledRejection', onUnhandled);
  try {
    const [result] = await Promise.allSettled([fn()]);
    await new Promise((r) => setTimeout(r, 200));
    return { result: result as PromiseSettledResult<T>, unhandled };
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
}

describe('snapshot send faults', () => {
  it('a receiver that dies after one chunk: the send rejects, settles in time, closes its source, leaves nothing unhandled', async () => {
    let readOne = false;
    const b = await startNode(2, async (s, node) => {
      const it = s.chunks[Symbol.asyncIterator]();
      await it.next();
      readOne = true;
      node.server.forceShutdown(); // the receiver dies mid-stream
      await new Promise(() => undefined); // and never finishes
    });
    const a = await startNode(1, async () => undefined);
    a.transport.setPeer(2, `127.0.0.1:${b.port}`);
    await until(() => a.transport.stats().get(2)!.connected);
    const src = bigSource();
    const started = Date.now();
    const { result, unhandled } = await withoutUnhandled(() =>
      a.transport.sendSnapshot(2, 7, Buffer.from('hdr'), src.chunks),
    );
    expect(readOne).toBe(true);
    expect(result.status).toBe('rejected');
    expect(String((result as PromiseRejectedResult).reason)).toMatch(/snapshot to peer 2/);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(src.state.closed).toBe(true);
    expect(src.state.yielded).toBeLessThan(400);
    expect(unhandled).toEqual([]);
  }, 15_000);

  it('a receiver that refuses before reading (busy installing): the send rejects at once and closes its source', async () => {
    const b = await startNode(2, async () => {
      throw new Error('group 1 is already receiving a snapshot');
    });
    const a = await startNode(1, async () => undefined);
    a.transport.setPeer(2, `127.0.0.1:${b.port}`);
    await until(() => a.transport.stats().get(2)!.connected);
    const src = bigSource();
    const started = Date.now();
    const { result, unhandled } = await withoutUnhandled(() =>
      a.transport.sendSnapshot(2, 7, Buffer.from('hdr'), src.chunks),
    );
    expect(result.status).toBe('rejected');
    expect(String((result as PromiseRejectedResult).reason)).toMatch(/already receiving a snapshot/);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(src.state.closed).toBe(true);
    expect(unhandled).toEqual([]);
  }, 15_000);

  it('a receiver that stops pulling and never answers: the send times out and closes its source', async () => {
    const b = await startNode(2, async (s) => {
      const it = s.chunks[Symbol.asyncIterator]();
      await it.next();
      await new Promise(() => undefined); // stuck: reads nothing more, never answers
    });
    const a = await startNode(1, async () => undefined, { snapshotTimeoutMs: 1500 });
    a.transport.setPeer(2, `127.0.0.1:${b.port}`);
    await until(() => a.transport.stats().get(2)!.connected);
    const src = bigSource();
    const started = Date.now();
    const { result, unhandled } = await withoutUnhandled(() =>
      a.transport.sendSnapshot(2, 7, Buffer.from('hdr'), src.chunks),
    );
    expect(result.status).toBe('rejected');
    expect(Date.now() - started).toBeLessThan(6000);
    expect(src.state.closed).toBe(true);
    expect(unhandled).toEqual([]);
  }, 15_000);

  it('a receiver that stops pulling: the send is abandoned after the stall limit, long before the transfer timeout', async () => {
    const b = await startNode(2, async (s) => {
      const it = s.chunks[Symbol.asyncIterator]();
      await it.next();
      await new Promise(() => undefined);
    });
    const a = await startNode(1, async () => undefined, { snapshotTimeoutMs: 60_000, snapshotStallMs: 800 });
    a.transport.setPeer(2, `127.0.0.1:${b.port}`);
    await until(() => a.transport.stats().get(2)!.connected);
    const src = bigSource();
    const started = Date.now();
    const { result, unhandled } = await withoutUnhandled(() =>
      a.transport.sendSnapshot(2, 7, Buffer.from('hdr'), src.chunks),
    );
    expect(result.status).toBe('rejected');
    expect(String((result as PromiseRejectedResult).reason)).toMatch(/took no snapshot data for 800 ms/);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(src.state.closed).toBe(true);
    expect(unhandled).toEqual([]);
  }, 15_000);

  it('closing the transport ends a send in flight', async () => {
    const b = await startNode(2, async (s) => {
      const it = s.chunks[Symbol.asyncIterator]();
      await it.next();
      await new Promise(() => undefined);
    });
    const a = await startNode(1, async () => undefined);
    a.transport.setPeer(2, `127.0.0.1:${b.port}`);
    await until(() => a.transport.stats().get(2)!.connected);
    const src = bigSource();
    const sending = a.transport.sendSnapshot(2, 7, Buffer.from('hdr'), src.chunks);
    sending.catch(() => undefined);
    await until(() => src.state.yielded > 2);
    await new Promise((r) => setTimeout(r, 200));
    a.transport.close();
    await expect(sending).rejects.toThrow(/transport closed/);
    expect(src.state.closed).toBe(true);
  }, 15_000);
});
