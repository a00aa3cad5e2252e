/**
 * Raft.ForwardMeta (transport/meta-forward.ts): a member asks a peer (the meta shard's leader) to apply an
 * encoded meta command. Real Transports on 127.0.0.1 port 0, plus raw gRPC clients playing a caller that
 * skips the client-side checks or the handshake.
 */
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { Random, TesseraError } from '../../../src/base';
import { silentLogger } from '../../../src/obs';
import {
  FORWARD_META_COMMAND_BYTES_MAX,
  FORWARD_META_CONCURRENT_MAX,
  FORWARD_META_RESULT_BYTES_MAX,
  HANDSHAKE_HEADERS,
  Transport,
  answerProof,
  handshakeMetadata,
  loadRaftProto,
  serverOptions,
  type TransportHandler,
} from '../../../src/transport';

const CLUSTER = 'meta-forward-cluster';

type Forward = TransportHandler['onForwardMeta'];

interface Node {
  id: number;
  transport: Transport;
  server: grpc.Server;
  port: number;
  /** Every call the node's handler saw. */
  calls: { from: number; command: string; timeoutMs: number }[];
  /** What the handler does (replaceable per test). */
  forward: Forward;
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

async function startNode(id: number, clusterId = CLUSTER): Promise<Node> {
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
    forward: async (_from, command) => Buffer.concat([Buffer.from('applied:'), command]),
  };
  transport.setHandler({
    onMessages: () => undefined,
    onUnreachable: () => undefined,
    onSnapshot: async () => undefined,
    onForwardMeta: (from, command, timeoutMs) => {
      node.calls.push({ from, command: command.toString(), timeoutMs });
      return node.forward(from, command, timeoutMs);
    },
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

/** Node `from` knows node `to` (and the reverse, so either may call). */
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

/** The error `p` rejects with (a resolved `p` fails the test). */
const failure = (p: Promise<unknown>): Promise<TesseraError> =>
  p.then(
    () => expect.fail('expected a rejection'),
    (e: unknown) => {
      expect(e).toBeInstanceOf(TesseraError);
      return e as TesseraError;
    },
  );

type RawForward = (
  req: { from: number; to: number; command: Buffer },
  md: grpc.Metadata,
  options: grpc.CallOptions,
  cb: (err: grpc.ServiceError | null, res?: { result: Buffer }) => void,
) => grpc.ClientUnaryCall;

/** A ForwardMeta call by hand (no client-side checks): the status and the trailers' reason. */
async function rawForward(
  port: number,
  md: grpc.Metadata,
  req: { from: number; to: number; command: Buffer },
): Promise<{ code: grpc.status; reason: unknown; limit: unknown }> {
  const { Client } = loadRaftProto();
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  cleanups.push(() => client.close());
  const stub = (client as unknown as { forwardMeta: RawForward }).forwardMeta.bind(client);
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

function handshakeOf(from: number, to: number, clusterId = CLUSTER): grpc.Metadata {
  return handshakeMetadata({
    clusterId,
    nodeId: from,
    to,
    clientAddress: `127.0.0.1:${9000 + from}`,
    revealClusterId: false,
  });
}

describe('meta forward', () => {
  it('carries a command to the peer and its result back, naming the authenticated caller', async () => {
    const [a, b] = [await startNode(1), await startNode(2)];
    link(a, b);
    const result = await a.transport.forwardMeta(2, Buffer.from('reserve 1'), 5000);
    expect(result.toString()).toBe('applied:reserve 1');
    expect(b.calls).toHaveLength(1);
    expect(b.calls[0]).toMatchObject({ from: 1, command: 'reserve 1' });
    // The handler is given the caller's deadline as its time budget.
    expect(b.calls[0]!.timeoutMs).toBeGreaterThan(3000);
    expect(b.calls[0]!.timeoutMs).toBeLessThanOrEqual(5000);
  });

  it("hands the caller the node's own error: code and leader details intact", async () => {
    const [a, b] = [await startNode(1), await startNode(2)];
    link(a, b);
    b.forward = async () => {
      throw new TesseraError('NOT_LEADER', 'node 2 does not lead the meta shard', {
        leaderId: 3,
        leaderAddress: '127.0.0.1:9003',
        groupId: 2,
      });
    };
    const notLeader = await failure(a.transport.forwardMeta(2, Buffer.from('x'), 5000));
    expect(notLeader.code).toBe('NOT_LEADER');
    expect(notLeader.details).toEqual({ leaderId: 3, leaderAddress: '127.0.0.1:9003', groupId: 2 });
    expect(notLeader.message).toContain('does not lead the meta shard');

    b.forward = async () => {
      throw new TesseraError('INVALID_ARGUMENT', 'count too large', { limit: 'reserveShardIdsMax' });
    };
    const invalid = await failure(a.transport.forwardMeta(2, Buffer.from('x'), 5000));
    expect([invalid.code, invalid.details]).toEqual(['INVALID_ARGUMENT', { limit: 'reserveShardIdsMax' }]);

    b.forward = async () => {
      throw new TesseraError('UNAVAILABLE', 'no quorum');
    };
    expect((await failure(a.transport.forwardMeta(2, Buffer.from('x'), 5000))).code).toBe('UNAVAILABLE');

    b.forward = async () => {
      throw new Error('a bug');
    };
    expect((await failure(a.transport.forwardMeta(2, Buffer.from('x'), 5000))).code).toBe('INTERNAL');
    // A result too large to return is not sent.
    b.forward = async () => Buffer.alloc(FORWARD_META_RESULT_BYTES_MAX + 1);
    expect((await failure(a.transport.forwardMeta(2, Buffer.from('x'), 5000))).code).toBe('INTERNAL');
  });

  it('refuses callers that do not prove the cluster id, or spoof their id, before the node sees them', async () => {
    const b = await startNode(2);
    const stranger = await startNode(3, 'another-cluster');
    link(stranger, b);
    const refused = await failure(stranger.transport.forwardMeta(2, Buffer.from('x'), 5000));
    expect(refused.code).toBe('UNAVAILABLE');
    const cmd = Buffer.from('x');
    expect((await rawForward(b.port, new grpc.Metadata(), { from: 1, to: 2, command: cmd })).code).toBe(
      grpc.status.UNAUTHENTICATED,
    );
    const otherCluster = handshakeOf(1, 2, 'another-cluster');
    expect((await rawForward(b.port, otherCluster, { from: 1, to: 2, command: cmd })).code).toBe(
      grpc.status.PERMISSION_DENIED,
    );
    // A member of the cluster claiming another sender in the request.
    expect((await rawForward(b.port, handshakeOf(1, 2), { from: 3, to: 2, command: cmd })).code).toBe(
      grpc.status.PERMISSION_DENIED,
    );
    expect(b.calls).toEqual([]);
    // The same caller, correctly addressed, is served (the refusals above were not a broken server).
    expect((await rawForward(b.port, handshakeOf(1, 2), { from: 1, to: 2, command: cmd })).code).toBe(grpc.status.OK);
    expect(b.calls).toHaveLength(1);
  });

  it("believes a peer's answer only when it proved the cluster id on the call, and bounds what it takes", async () => {
    const a = await startNode(1);
    // A server playing node 2 by hand: its peer stream always proves the cluster id (so node 1's link to it
    // is up); its ForwardMeta answer proves it or not, and answers what the test says.
    const rogue = { proves: false, result: Buffer.from('forged'), refusal: null as grpc.Metadata | null };
    const proof = (call: { metadata: grpc.Metadata }, proves: boolean): grpc.Metadata => {
      const answer = new grpc.Metadata();
      const nonce = String(call.metadata.get(HANDSHAKE_HEADERS.nonce)[0]);
      if (proves) answer.set(HANDSHAKE_HEADERS.answer, answerProof(CLUSTER, 2, 1, nonce));
      return answer;
    };
    const server = new grpc.Server(serverOptions);
    const stream = (call: grpc.ServerDuplexStream<unknown, unknown>): void => {
      call.sendMetadata(proof(call, true));
      call.on('data', () => undefined);
    };
    const forwardMeta = (call: grpc.ServerUnaryCall<unknown, unknown>, reply: grpc.sendUnaryData<unknown>): void => {
      call.sendMetadata(proof(call, rogue.proves));
      if (rogue.refusal === null) reply(null, { result: rogue.result });
      else reply({ code: grpc.status.FAILED_PRECONDITION, details: 'go elsewhere', metadata: rogue.refusal });
    };
    server.addService(loadRaftProto().service, { stream, forwardMeta } as grpc.UntypedServiceImplementation);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    cleanups.push(() => server.forceShutdown());
    a.transport.setPeer(2, `127.0.0.1:${port}`);
    await until(() => a.transport.stats().get(2)?.connected === true);
    const ask = () => a.transport.forwardMeta(2, Buffer.from('x'), 5000);
    const refusal = (trailers: Record<string, string>): grpc.Metadata => {
      const md = new grpc.Metadata();
      for (const [k, v] of Object.entries(trailers)) md.set(k, v);
      return md;
    };
    // Unproved: neither a result nor a redirect is believed.
    expect((await failure(ask())).code).toBe('UNAVAILABLE');
    rogue.refusal = refusal({ 'tessera-reason': 'NOT_LEADER', 'tessera-leader-id': '7' });
    expect([(await failure(ask())).code, (await failure(ask())).details]).toEqual(['UNAVAILABLE', {}]);
    // Proved: the same redirect is believed; malformed trailers are dropped, an unknown reason is not a code.
    rogue.proves = true;
    const redirected = await failure(ask());
    expect([redirected.code, redirected.details]).toEqual(['NOT_LEADER', { leaderId: 7 }]);
    rogue.refusal = refusal({
      'tessera-reason': 'NOT_LEADER',
      'tessera-leader-id': '4294967296',
      'tessera-group': '0',
      'tessera-epoch': '1e3',
    });
    expect((await failure(ask())).details).toEqual({});
    rogue.refusal = refusal({ 'tessera-reason': 'BOGUS' });
    expect((await failure(ask())).code).toBe('UNAVAILABLE');
    // A proved result is taken up to FORWARD_META_RESULT_BYTES_MAX bytes, not beyond.
    rogue.refusal = null;
    rogue.result = Buffer.alloc(FORWARD_META_RESULT_BYTES_MAX, 3);
    expect((await ask()).length).toBe(FORWARD_META_RESULT_BYTES_MAX);
    rogue.result = Buffer.alloc(FORWARD_META_RESULT_BYTES_MAX + 1, 3);
    expect((await failure(ask())).code).toBe('UNAVAILABLE');
  });

  it('refuses an empty or oversized command with INVALID_ARGUMENT before the node sees it', async () => {
    const [a, b] = [await startNode(1), await startNode(2)];
    link(a, b);
    const big = Buffer.alloc(FORWARD_META_COMMAND_BYTES_MAX + 1, 1);
    // A caller that skips the client-side check is refused by the server.
    const raw = await rawForward(b.port, handshakeOf(1, 2), { from: 1, to: 2, command: big });
    expect(raw).toEqual({
      code: grpc.status.INVALID_ARGUMENT,
      reason: 'INVALID_ARGUMENT',
      limit: 'forwardMetaCommandBytesMax',
    });
    const empty = await rawForward(b.port, handshakeOf(1, 2), { from: 1, to: 2, command: Buffer.alloc(0) });
    expect(empty.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(b.calls).toEqual([]);
    // The transport does not send it at all.
    const local = await failure(a.transport.forwardMeta(2, big, 5000));
    expect([local.code, local.details.limit]).toEqual(['INVALID_ARGUMENT', 'forwardMetaCommandBytesMax']);
    // The largest allowed command goes through.
    const max = Buffer.alloc(FORWARD_META_COMMAND_BYTES_MAX, 2);
    b.forward = async (_from, command) => Buffer.from(String(command.length));
    expect((await a.transport.forwardMeta(2, max, 5000)).toString()).toBe(String(FORWARD_META_COMMAND_BYTES_MAX));
  });

  it(`bounds the calls of one peer in the node at ${FORWARD_META_CONCURRENT_MAX}: past it RESOURCE_EXHAUSTED`, async () => {
    const [a, b, c] = [await startNode(1), await startNode(2), await startNode(3)];
    link(a, b);
    link(c, b);
    const waiting: (() => void)[] = [];
    b.forward = (from) =>
      from === 1
        ? new Promise((resolve) => waiting.push(() => resolve(Buffer.from('late'))))
        : Promise.resolve(Buffer.from('ok'));
    const held = Array.from({ length: FORWARD_META_CONCURRENT_MAX }, () =>
      a.transport.forwardMeta(2, Buffer.from('h'), 10_000),
    );
    await until(() => waiting.length === FORWARD_META_CONCURRENT_MAX);
    const over = await failure(a.transport.forwardMeta(2, Buffer.from('over'), 5000));
    expect(over.code).toBe('RESOURCE_EXHAUSTED');
    expect(b.calls.filter((x) => x.command === 'over')).toEqual([]);
    // Another peer is not held back by node 1's calls.
    expect((await c.transport.forwardMeta(2, Buffer.from('c'), 5000)).toString()).toBe('ok');
    // A released slot is taken again.
    waiting.shift()!();
    await held[0];
    const again = a.transport.forwardMeta(2, Buffer.from('again'), 5000);
    await until(() => waiting.length === FORWARD_META_CONCURRENT_MAX);
    for (const release of waiting) release();
    expect((await again).toString()).toBe('late');
    await Promise.all(held);
  });

  it('settles when the peer dies mid-call, at the deadline, and when the transport closes', async () => {
    const [a, b] = [await startNode(1), await startNode(2)];
    link(a, b);
    b.forward = () => new Promise<Buffer>(() => undefined); // never answers
    const started = Date.now();
    const late = await failure(a.transport.forwardMeta(2, Buffer.from('d'), 300));
    expect(late.code).toBe('DEADLINE_EXCEEDED');
    expect(Date.now() - started).toBeLessThan(3000);

    const closing = a.transport.forwardMeta(2, Buffer.from('c'), 30_000);
    await until(() => b.calls.length === 2);
    const closedAt = Date.now();
    a.transport.close();
    expect((await failure(closing)).code).toBe('UNAVAILABLE');
    expect(Date.now() - closedAt).toBeLessThan(1000);

    const [a2] = [await startNode(4)];
    link(a2, b);
    const dying = a2.transport.forwardMeta(2, Buffer.from('k'), 30_000);
    await until(() => b.calls.length === 3);
    const killedAt = Date.now();
    b.transport.close();
    b.server.forceShutdown();
    expect((await failure(dying)).code).toBe('UNAVAILABLE');
    expect(Date.now() - killedAt).toBeLessThan(5000);
  });
});
