/**
 * Raft.Placement (transport/placement-rpc.ts): the placement driver asks a peer for its report or for one
 * action. Real Transports on 127.0.0.1 port 0, plus raw gRPC clients playing a caller that skips the
 * client-side checks or the handshake.
 */
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { Random, TesseraError } from '../../../src/base';
import { silentLogger } from '../../../src/obs';
import {
  PLACEMENT_CONCURRENT_MAX,
  PLACEMENT_REQUEST_BYTES_MAX,
  PLACEMENT_RESPONSE_BYTES_MAX,
  Transport,
  handshakeMetadata,
  loadRaftProto,
  serverOptions,
  type PlacementHandler,
} from '../../../src/transport';

const CLUSTER = 'placement-rpc-cluster';

interface Node {
  id: number;
  transport: Transport;
  server: grpc.Server;
  port: number;
  calls: { from: number; body: string; timeoutMs: number }[];
  handle: PlacementHandler;
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

async function startNode(id: number, clusterId = CLUSTER, withHandler = true): Promise<Node> {
  const transport = new Transport({
    selfId: id,
    clusterId,
    clientAddress: `127.0.0.1:${9000 + id}`,
    outboxMessagesMax: 100,
    random: new Random(id),
    logger: silentLogger(),
    metrics: null,
    backoff: { initialMs: 20, maxMs: 200 },
  });
  const node: Node = {
    id,
    transport,
    server: new grpc.Server(serverOptions),
    port: 0,
    calls: [],
    handle: async (_from, body) => Buffer.concat([Buffer.from('report:'), body]),
  };
  transport.setHandler({
    onMessages: () => undefined,
    onUnreachable: () => undefined,
    onSnapshot: async () => undefined,
    onForwardMeta: async () => Buffer.from('unused'),
  });
  if (withHandler)
    transport.setPlacementHandler((from, body, timeoutMs) => {
      node.calls.push({ from, body: body.toString(), timeoutMs });
      return node.handle(from, body, timeoutMs);
    });
  transport.registerOn(node.server);
  node.port = await new Promise<number>((resolve, reject) =>
    node.server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  cleanups.push(() => {
    transport.close();
    node.server.forceShutdown();
  });
  return node;
}

function link(a: Node, b: Node): void {
  a.transport.setPeer(b.id, `127.0.0.1:${b.port}`);
  b.transport.setPeer(a.id, `127.0.0.1:${a.port}`);
}

async function until(cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

const failure = (p: Promise<unknown>): Promise<TesseraError> =>
  p.then(
    () => expect.fail('expected a rejection'),
    (e: unknown) => {
      expect(e).toBeInstanceOf(TesseraError);
      return e as TesseraError;
    },
  );

type RawPlacement = (
  req: { from: number; to: number; body: Buffer },
  md: grpc.Metadata,
  options: grpc.CallOptions,
  cb: (err: grpc.ServiceError | null, res?: { body: Buffer }) => void,
) => grpc.ClientUnaryCall;

/** A Placement call by hand (no client-side checks): the status and the trailers' reason and limit. */
async function rawPlacement(
  port: number,
  md: grpc.Metadata,
  req: { from: number; to: number; body: Buffer },
): Promise<{ code: grpc.status; reason: unknown; limit: unknown }> {
  const { Client } = loadRaftProto();
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  cleanups.push(() => client.close());
  const stub = (client as unknown as { placement: RawPlacement }).placement.bind(client);
  return new Promise((resolve) =>
    stub(req, md, { deadline: Date.now() + 5000 }, (err) =>
      resolve({
        code: err ? err.code : grpc.status.OK,
        reason: err?.metadata.get('tessera-reason')[0],
        limit: err?.metadata.get('tessera-limit')[0],
      }),
    ),
  );
}

const handshakeOf = (from: number, to: number, clusterId = CLUSTER): grpc.Metadata =>
  handshakeMetadata({ clusterId, nodeId: from, to, clientAddress: `127.0.0.1:${9000 + from}`, revealClusterId: false });

describe('placement rpc', () => {
  it("carries a request to the peer's placement handler and its answer back, naming the caller", async () => {
    const [a, b] = [await startNode(1), await startNode(2)];
    link(a, b);
    expect((await a.transport.placement(2, Buffer.from('r'), 4000)).toString()).toBe('report:r');
    expect(b.calls).toHaveLength(1);
    expect(b.calls[0]).toMatchObject({ from: 1, body: 'r' });
    expect(b.calls[0]!.timeoutMs).toBeGreaterThan(2000);
    expect(b.calls[0]!.timeoutMs).toBeLessThanOrEqual(4000);
    // The node's own error crosses with its code and leader details.
    b.handle = async () => {
      throw new TesseraError('NOT_LEADER', 'not the leader of shard 5', { leaderId: 3, groupId: 5 });
    };
    const notLeader = await failure(a.transport.placement(2, Buffer.from('act'), 4000));
    expect([notLeader.code, notLeader.details]).toEqual(['NOT_LEADER', { leaderId: 3, groupId: 5 }]);
    // An answer too large to return is not sent.
    b.handle = async () => Buffer.alloc(PLACEMENT_RESPONSE_BYTES_MAX + 1);
    expect((await failure(a.transport.placement(2, Buffer.from('r'), 4000))).code).toBe('INTERNAL');
  });

  it('refuses callers outside the cluster, unauthenticated or spoofing their id, before the handler runs', async () => {
    const b = await startNode(2);
    const stranger = await startNode(3, 'another-cluster');
    link(stranger, b);
    expect((await failure(stranger.transport.placement(2, Buffer.from('x'), 4000))).code).toBe('UNAVAILABLE');
    const body = Buffer.from('x');
    expect((await rawPlacement(b.port, new grpc.Metadata(), { from: 1, to: 2, body })).code).toBe(
      grpc.status.UNAUTHENTICATED,
    );
    expect((await rawPlacement(b.port, handshakeOf(1, 2, 'another-cluster'), { from: 1, to: 2, body })).code).toBe(
      grpc.status.PERMISSION_DENIED,
    );
    expect((await rawPlacement(b.port, handshakeOf(1, 2), { from: 3, to: 2, body })).code).toBe(
      grpc.status.PERMISSION_DENIED,
    );
    expect(b.calls).toEqual([]);
    expect((await rawPlacement(b.port, handshakeOf(1, 2), { from: 1, to: 2, body })).code).toBe(grpc.status.OK);
    expect(b.calls).toHaveLength(1);
  });

  it('refuses every call on a node without a placement handler', async () => {
    const b = await startNode(2, CLUSTER, false);
    const raw = await rawPlacement(b.port, handshakeOf(1, 2), { from: 1, to: 2, body: Buffer.from('x') });
    expect(raw.code).toBe(grpc.status.UNAVAILABLE);
  });

  it('refuses an empty or oversized request with INVALID_ARGUMENT before the handler sees it', async () => {
    const [a, b] = [await startNode(1), await startNode(2)];
    link(a, b);
    const big = Buffer.alloc(PLACEMENT_REQUEST_BYTES_MAX + 1, 1);
    expect(await rawPlacement(b.port, handshakeOf(1, 2), { from: 1, to: 2, body: big })).toEqual({
      code: grpc.status.INVALID_ARGUMENT,
      reason: 'INVALID_ARGUMENT',
      limit: 'placementRequestBytesMax',
    });
    const empty = await rawPlacement(b.port, handshakeOf(1, 2), { from: 1, to: 2, body: Buffer.alloc(0) });
    expect(empty.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(b.calls).toEqual([]);
    const local = await failure(a.transport.placement(2, big, 4000));
    expect([local.code, local.details.limit]).toEqual(['INVALID_ARGUMENT', 'placementRequestBytesMax']);
    b.handle = async (_from, body) => Buffer.from(String(body.length));
    const max = Buffer.alloc(PLACEMENT_REQUEST_BYTES_MAX, 2);
    expect((await a.transport.placement(2, max, 4000)).toString()).toBe(String(PLACEMENT_REQUEST_BYTES_MAX));
  });

  it(`bounds one peer's calls in the node at ${PLACEMENT_CONCURRENT_MAX}, and settles at the deadline`, async () => {
    const [a, b, c] = [await startNode(1), await startNode(2), await startNode(3)];
    link(a, b);
    link(c, b);
    const waiting: (() => void)[] = [];
    b.handle = (from) =>
      from === 1
        ? new Promise((resolve) => waiting.push(() => resolve(Buffer.from('late'))))
        : Promise.resolve(Buffer.from('ok'));
    const held = Array.from({ length: PLACEMENT_CONCURRENT_MAX }, () =>
      a.transport.placement(2, Buffer.from('h'), 10_000),
    );
    await until(() => waiting.length === PLACEMENT_CONCURRENT_MAX);
    expect((await failure(a.transport.placement(2, Buffer.from('over'), 4000))).code).toBe('RESOURCE_EXHAUSTED');
    expect(b.calls.filter((x) => x.body === 'over')).toEqual([]);
    expect((await c.transport.placement(2, Buffer.from('c'), 4000)).toString()).toBe('ok');
    for (const release of waiting) release();
    await Promise.all(held);
    b.handle = () => new Promise<Buffer>(() => undefined);
    const started = Date.now();
    expect((await failure(a.transport.placement(2, Buffer.from('d'), 300))).code).toBe('DEADLINE_EXCEEDED');
    expect(Date.now() - started).toBeLessThan(3000);
  });
});
