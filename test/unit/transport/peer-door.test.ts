/**
 * The peer door (transport/handshake.ts): every Raft call opens with a handshake that the receiver checks
 * before anything reaches the node. Two (or three) real Transports on 127.0.0.1 port 0, plus raw gRPC
 * clients playing an attacker who can reach the port.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Random } from '../../../src/base';
import { createNodeMetrics, silentLogger, type NodeMetrics } from '../../../src/obs';
import {
  HANDSHAKE_HEADERS,
  Transport,
  askClusterIdMetadata,
  handshakeMetadata,
  handshakeProof,
  loadPeerTls,
  loadRaftProto,
  serverOptions,
  startPeerServer,
  type IncomingSnapshot,
  type MessageBatchWire,
  type PeerTlsMaterial,
  type SnapshotAckWire,
  type SnapshotChunkWire,
  type TransportHandler,
} from '../../../src/transport';
import { makeTestCa, type TestCa } from '../../support/tls-certs';

const CLUSTER = 'c0ffee00c0ffee00c0ffee00c0ffee00';
const OTHER_CLUSTER = 'deadbeefdeadbeefdeadbeefdeadbeef';

interface Node {
  id: number;
  transport: Transport;
  server: grpc.Server;
  port: number;
  metrics: NodeMetrics;
  received: { from: number; message: string }[];
  snapshots: { from: number; groupId: number }[];
  clientAddresses: [number, string][];
  learned: string[];
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

interface StartOptions {
  clusterId?: string | null;
  clientAddress?: string;
  tls?: PeerTlsMaterial;
}

async function startNode(id: number, opts: StartOptions = {}): Promise<Node> {
  const metrics = createNodeMetrics();
  const node: Node = {
    id,
    transport: undefined as unknown as Transport,
    server: undefined as unknown as grpc.Server,
    port: 0,
    metrics,
    received: [],
    snapshots: [],
    clientAddresses: [],
    learned: [],
  };
  node.transport = new Transport({
    selfId: id,
    clusterId: opts.clusterId === undefined ? CLUSTER : opts.clusterId,
    onClusterIdLearned: (c) => node.learned.push(c),
    clientAddress: opts.clientAddress ?? `127.0.0.1:${7000 + id}`,
    tls: opts.tls ?? null,
    outboxMessagesMax: 1000,
    random: new Random(id),
    logger: silentLogger(),
    metrics,
    backoff: { initialMs: 20, maxMs: 100 },
  });
  const handler: TransportHandler = {
    onMessages: (from, messages) => {
      for (const m of messages) node.received.push({ from, message: m.toString() });
    },
    onForwardMeta: () => Promise.reject(new Error('meta forwarding is not served in this test')),
    onUnreachable: () => undefined,
    onSnapshot: async (s: IncomingSnapshot) => {
      for await (const _ of s.chunks) void _;
      node.snapshots.push({ from: s.from, groupId: s.groupId });
    },
    onPeerClientAddress: (peer, address) => node.clientAddresses.push([peer, address]),
  };
  node.transport.setHandler(handler);
  if (opts.tls) {
    const started = await startPeerServer(node.transport, '127.0.0.1:0', opts.tls);
    node.server = started.server;
    node.port = started.port;
  } else {
    node.server = new grpc.Server(serverOptions);
    node.transport.registerOn(node.server);
    node.port = await new Promise<number>((resolve, reject) =>
      node.server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
  }
  cleanups.push(() => {
    node.transport.close();
    node.server.forceShutdown();
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function rejected(m: NodeMetrics): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await m.peerRejected.get()).values) out[String(v.labels.reason)] = v.value;
  return out;
}

interface HandshakeFields {
  protocol?: string | null;
  node?: string | null;
  to?: string | null;
  nonce?: string | null;
  proof?: string | null;
  cluster?: string | null;
  address?: string | null;
}

const NONCE = '0123456789abcdef0123456789abcdef';

/**
 * Raw handshake metadata as an attacker would write it: by default a well-formed v2 handshake from node 1
 * to node 2 whose proof is made with CLUSTER; a field set to null is left out.
 */
function handshake(fields: HandshakeFields = {}): grpc.Metadata {
  const f = { protocol: '2', node: '1', to: '2', nonce: NONCE, address: '127.0.0.1:7001', cluster: null, ...fields };
  const proof =
    fields.proof !== undefined
      ? fields.proof
      : handshakeProof(CLUSTER, Number(f.node), Number(f.to), String(f.nonce), String(f.address));
  const md = new grpc.Metadata();
  const put = (k: string, v: string | null) => v !== null && md.set(k, v);
  put(HANDSHAKE_HEADERS.protocol, f.protocol);
  put(HANDSHAKE_HEADERS.node, f.node);
  put(HANDSHAKE_HEADERS.to, f.to);
  put(HANDSHAKE_HEADERS.nonce, f.nonce);
  put(HANDSHAKE_HEADERS.proof, proof);
  put(HANDSHAKE_HEADERS.cluster, f.cluster);
  put(HANDSHAKE_HEADERS.clientAddress, f.address);
  return md;
}

/** The handshake a genuine member `node` of `cluster` sends to `to` (the code under test makes it). */
const valid = (node: number, cluster = CLUSTER, to = 2) =>
  handshakeMetadata({
    clusterId: cluster,
    nodeId: node,
    to,
    clientAddress: `127.0.0.1:${7000 + node}`,
    revealClusterId: false,
  });

type RawClient = grpc.Client & {
  stream(md: grpc.Metadata): grpc.ClientDuplexStream<MessageBatchWire, MessageBatchWire>;
  installSnapshot(
    md: grpc.Metadata,
    cb: (err: grpc.ServiceError | null, ack?: SnapshotAckWire) => void,
  ): grpc.ClientWritableStream<SnapshotChunkWire>;
};

function rawClient(port: number): RawClient {
  const { Client } = loadRaftProto();
  const c = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as RawClient;
  cleanups.push(() => c.close());
  return c;
}

/** Opens a raw stream with `md`, writes `batches`, and resolves with the call's final status code. */
async function rawStream(
  port: number,
  md: grpc.Metadata,
  batches: MessageBatchWire[],
  holdMs = 200,
): Promise<grpc.status> {
  const call = rawClient(port).stream(md);
  return new Promise<grpc.status>((resolve) => {
    let settled = false;
    const settle = (code: grpc.status) => {
      if (settled) return;
      settled = true;
      resolve(code);
    };
    call.on('status', (s: grpc.StatusObject) => settle(s.code));
    call.on('error', () => undefined);
    call.on('data', () => undefined);
    for (const b of batches) call.write(b);
    setTimeout(() => {
      call.end();
      setTimeout(() => {
        call.cancel();
        settle(grpc.status.OK);
      }, 200);
    }, holdMs);
  });
}

async function rawSnapshot(
  port: number,
  md: grpc.Metadata,
  chunk: SnapshotChunkWire,
): Promise<{ err: grpc.ServiceError | null; ack?: SnapshotAckWire }> {
  return new Promise((resolve) => {
    const call = rawClient(port).installSnapshot(md, (err, ack) => resolve({ err, ack }));
    call.on('error', () => undefined);
    call.write(chunk);
    call.end();
  });
}

const chunk = (from: number, to: number): SnapshotChunkWire => ({
  from,
  to,
  groupId: 1,
  header: Buffer.from('hdr'),
  data: Buffer.from('data'),
  last: true,
});

describe('peer door: handshake checks', () => {
  it('a peer of another cluster is refused: its link never opens and nothing reaches the handler', async () => {
    const a = await startNode(1, { clusterId: OTHER_CLUSTER });
    const b = await startNode(2);
    a.transport.setPeer(2, `127.0.0.1:${b.port}`);
    for (let i = 0; i < 5; i++) {
      a.transport.send(2, Buffer.from(`x${i}`));
      await sleep(50);
    }
    expect(a.transport.stats().get(2)!.connected).toBe(false);
    expect(b.received).toEqual([]);
    expect((await rejected(b.metrics)).cluster_mismatch).toBeGreaterThan(0);
    // A raw call with the wrong id gets PERMISSION_DENIED.
    expect(
      await rawStream(b.port, valid(1, OTHER_CLUSTER), [{ from: 1, to: 2, messages: [Buffer.from('forged')] }]),
    ).toBe(grpc.status.PERMISSION_DENIED);
    expect(b.received).toEqual([]);
  });

  it('a call without a handshake, or with a malformed one, is refused with UNAUTHENTICATED and counted by reason', async () => {
    const b = await startNode(2);
    const batch = { from: 1, to: 2, messages: [Buffer.from('forged')] };
    const refused = async (md: grpc.Metadata) =>
      expect(await rawStream(b.port, md, [batch])).toBe(grpc.status.UNAUTHENTICATED);
    await refused(new grpc.Metadata());
    await refused(handshake({ protocol: '1' })); // the older protocol that sent the cluster id in clear
    await refused(handshake({ node: '0' }));
    await refused(handshake({ node: '2' }));
    await refused(handshake({ to: 'x' }));
    await refused(handshake({ proof: null, cluster: CLUSTER })); // knowing the id is not enough: a proof is required
    await refused(handshake({ nonce: 'short' }));
    await refused(handshake({ address: `${'h'.repeat(300)}:1` }));
    await refused(handshake({ address: 'not-an-address' }));
    expect(b.received).toEqual([]);
    expect(b.clientAddresses).toEqual([]);
    expect(await rejected(b.metrics)).toEqual({
      no_handshake: 1,
      bad_protocol: 1,
      bad_node_id: 2,
      self_id: 1,
      bad_proof: 2,
      bad_address: 2,
    });
  });

  it('a proof made with another key, or for another receiver, is refused with PERMISSION_DENIED', async () => {
    const b = await startNode(2);
    const batch = { from: 1, to: 2, messages: [Buffer.from('forged')] };
    // A proof node 1 made for node 3 (what node 3, or anyone node 1 was told to dial, could replay) does not open node 2.
    expect(await rawStream(b.port, valid(1, CLUSTER, 3), [batch])).toBe(grpc.status.PERMISSION_DENIED);
    // The receiver id rewritten: the proof no longer matches.
    const replayed = valid(1, CLUSTER, 3);
    replayed.set(HANDSHAKE_HEADERS.to, '2');
    expect(await rawStream(b.port, replayed, [batch])).toBe(grpc.status.PERMISSION_DENIED);
    expect(await rawStream(b.port, handshake({ proof: 'ab'.repeat(32) }), [batch])).toBe(grpc.status.PERMISSION_DENIED);
    expect(b.received).toEqual([]);
    expect(await rejected(b.metrics)).toEqual({ wrong_to: 1, cluster_mismatch: 2 });
    // The control: the same batch with a genuine handshake passes.
    expect(await rawStream(b.port, valid(1), [batch])).toBe(grpc.status.OK);
    await until(() => b.received.length === 1);
  });

  it('the cluster id is never sent in clear without peer TLS', () => {
    const md = valid(1);
    expect(md.get(HANDSHAKE_HEADERS.cluster)).toEqual([]);
    expect(JSON.stringify(md.toJSON())).not.toContain(CLUSTER);
  });

  it('a batch whose from differs from the handshake, or addressed to another node, is dropped; a valid one passes', async () => {
    const b = await startNode(2);
    const code = await rawStream(b.port, valid(1), [
      { from: 3, to: 2, messages: [Buffer.from('spoofed')] },
      { from: 1, to: 4, messages: [Buffer.from('misrouted')] },
      { from: 1, to: 2, messages: [Buffer.from('genuine')] },
      { from: 3, to: 2, messages: [Buffer.from('spoofed again')] },
    ]);
    expect(code).toBe(grpc.status.OK);
    await until(() => b.received.length === 1);
    await sleep(50);
    expect(b.received).toEqual([{ from: 1, message: 'genuine' }]);
    expect(await rejected(b.metrics)).toEqual({ spoofed_from: 2, wrong_to: 1 });
    expect(b.clientAddresses).toEqual([[1, '127.0.0.1:7001']]);
  });

  it('a snapshot call without a handshake is refused before the handler sees it; a spoofed chunk is refused', async () => {
    const b = await startNode(2);
    const none = await rawSnapshot(b.port, new grpc.Metadata(), chunk(1, 2));
    expect(none.err?.code).toBe(grpc.status.UNAUTHENTICATED);
    const otherCluster = await rawSnapshot(b.port, valid(1, OTHER_CLUSTER), chunk(1, 2));
    expect(otherCluster.err?.code).toBe(grpc.status.PERMISSION_DENIED);
    const spoofed = await rawSnapshot(b.port, valid(1), chunk(3, 2));
    expect(spoofed.ack?.accepted).toBe(false);
    const misrouted = await rawSnapshot(b.port, valid(1), chunk(1, 5));
    expect(misrouted.ack?.accepted).toBe(false);
    expect(b.snapshots).toEqual([]);
    const genuine = await rawSnapshot(b.port, valid(1), chunk(1, 2));
    expect(genuine.ack?.accepted).toBe(true);
    expect(b.snapshots).toEqual([{ from: 1, groupId: 1 }]);
    expect(await rejected(b.metrics)).toEqual({ no_handshake: 1, cluster_mismatch: 1, spoofed_from: 1, wrong_to: 1 });
  });

  it("two nodes of one cluster talk, and each learns the other's client address from the handshake", async () => {
    const a = await startNode(1, { clientAddress: 'client-a.example:9001' });
    const b = await startNode(2, { clientAddress: 'client-b.example:9002' });
    a.transport.setPeer(2, `127.0.0.1:${b.port}`);
    b.transport.setPeer(1, `127.0.0.1:${a.port}`);
    await until(() => a.transport.stats().get(2)!.connected && b.transport.stats().get(1)!.connected);
    a.transport.send(2, Buffer.from('hi'));
    await sleep(0);
    async function* chunks() {
      yield Buffer.from('one');
    }
    await a.transport.sendSnapshot(2, 3, Buffer.from('hdr'), chunks());
    await until(() => b.received.length === 1);
    expect(b.received).toEqual([{ from: 1, message: 'hi' }]);
    expect(b.snapshots).toEqual([{ from: 1, groupId: 3 }]);
    expect(b.clientAddresses[0]).toEqual([1, 'client-a.example:9001']);
    expect(a.clientAddresses[0]).toEqual([2, 'client-b.example:9002']);
    expect(await rejected(b.metrics)).toEqual({});
  });
});

describe('peer door: the receiver proves the cluster id before anything is sent to it', () => {
  /** A Raft server at an attacker's address (named by an unauthenticated AddNode): accepts every call, records what arrives. */
  async function fakeServer(): Promise<{ port: number; batches: number; chunks: number; handshakes: grpc.Metadata[] }> {
    const fake = { port: 0, batches: 0, chunks: 0, handshakes: [] as grpc.Metadata[] };
    const server = new grpc.Server(serverOptions);
    server.addService(loadRaftProto().service, {
      stream: (call: grpc.ServerDuplexStream<MessageBatchWire, MessageBatchWire>) => {
        fake.handshakes.push(call.metadata);
        call.sendMetadata(new grpc.Metadata());
        call.on('data', () => void fake.batches++);
      },
      installSnapshot: (
        call: grpc.ServerReadableStream<SnapshotChunkWire, SnapshotAckWire>,
        cb: grpc.sendUnaryData<SnapshotAckWire>,
      ) => {
        fake.handshakes.push(call.metadata);
        call.sendMetadata(new grpc.Metadata());
        call.on('data', () => void fake.chunks++);
        call.on('end', () => cb(null, { accepted: true, error: '' }));
      },
    });
    fake.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    cleanups.push(() => server.forceShutdown());
    return fake;
  }

  it('a dialed server that cannot prove the cluster id gets no message and no snapshot chunk', async () => {
    const a = await startNode(1);
    const fake = await fakeServer();
    a.transport.setPeer(99, `127.0.0.1:${fake.port}`);
    for (let i = 0; i < 10; i++) {
      a.transport.send(99, Buffer.from('replicated data'));
      await sleep(30);
    }
    async function* chunks() {
      yield Buffer.from('the whole state machine');
    }
    await until(() => fake.handshakes.length > 0);
    await expect(a.transport.sendSnapshot(99, 1, Buffer.from('hdr'), chunks())).rejects.toThrow(
      /UNAVAILABLE|did not prove|no connection/,
    );
    await sleep(100);
    expect(fake.batches).toBe(0);
    expect(fake.chunks).toBe(0);
    expect(a.transport.stats().get(99)!.connected).toBe(false);
    expect((await rejected(a.metrics)).bad_answer).toBeGreaterThan(0);
    // What it saw proves nothing elsewhere: no cluster id in clear, and the proof names node 99 as the receiver.
    for (const md of fake.handshakes) {
      expect(md.get(HANDSHAKE_HEADERS.cluster)).toEqual([]);
      expect(md.get(HANDSHAKE_HEADERS.to)).toEqual(['99']);
    }
  });
});

describe('peer door: a node without a cluster id', () => {
  it('without peer TLS it accepts no call and learns nothing (nobody sends the id in clear), and keeps its own links down', async () => {
    const a = await startNode(1);
    const joiner = await startNode(2, { clusterId: null });
    joiner.transport.setPeer(1, `127.0.0.1:${a.port}`);
    a.transport.setPeer(2, `127.0.0.1:${joiner.port}`);
    for (let i = 0; i < 10; i++) {
      a.transport.send(2, Buffer.from('hello joiner'));
      await sleep(30);
    }
    expect(joiner.transport.send(1, Buffer.from('too early'))).toBe(false);
    expect(joiner.received).toEqual([]);
    expect(a.received).toEqual([]);
    expect(joiner.learned).toEqual([]);
    expect(joiner.transport.clusterId).toBeNull();
    expect((await rejected(joiner.metrics)).no_cluster_id).toBeGreaterThan(0);
    // Even a handshake that carries an id in clear teaches nothing without TLS.
    expect(await rawStream(joiner.port, handshake({ cluster: CLUSTER }), [])).toBe(grpc.status.UNAVAILABLE);
    expect(joiner.transport.clusterId).toBeNull();
  });
});

describe('peer door: mutual TLS', () => {
  let ca: TestCa;
  let strangerCa: TestCa;
  beforeAll(() => {
    ca = makeTestCa('peer-door-ca');
    strangerCa = makeTestCa('stranger-ca');
  });
  afterAll(() => {
    ca?.cleanup();
    strangerCa?.cleanup();
  });
  const material = (authority: TestCa, name: string): PeerTlsMaterial => {
    const files = authority.issue(name);
    return loadPeerTls({ cert: files.cert, key: files.key, ca: ca.ca });
  };

  it('peers with certificates from the CA talk; one from another CA is refused by TLS; a certificate for node-2 cannot speak as node 3', async () => {
    const a = await startNode(1, { tls: material(ca, 'node-1') });
    const b = await startNode(2, { tls: material(ca, 'node-2') });
    a.transport.setPeer(2, `127.0.0.1:${b.port}`);
    await until(() => a.transport.stats().get(2)!.connected);
    a.transport.send(2, Buffer.from('over tls'));
    await until(() => b.received.length === 1);
    expect(b.received).toEqual([{ from: 1, message: 'over tls' }]);

    // Node 4's certificate was signed by another CA (it trusts ours, so only the server side refuses it).
    const stranger = await startNode(4, { tls: material(strangerCa, 'node-4') });
    stranger.transport.setPeer(2, `127.0.0.1:${b.port}`);
    for (let i = 0; i < 10; i++) {
      stranger.transport.send(2, Buffer.from('from a stranger'));
      await sleep(30);
    }
    expect(stranger.transport.stats().get(2)!.connected).toBe(false);

    // Node 3 holds a genuine certificate, but it names node-2.
    const impostor = await startNode(3, { tls: material(ca, 'node-2') });
    impostor.transport.setPeer(2, `127.0.0.1:${b.port}`);
    for (let i = 0; i < 10; i++) {
      impostor.transport.send(2, Buffer.from('impostor'));
      await sleep(30);
    }
    expect(impostor.transport.stats().get(2)!.connected).toBe(false);
    expect(b.received.map((r) => r.message)).toEqual(['over tls']);
    expect((await rejected(b.metrics)).certificate_mismatch).toBeGreaterThan(0);

    // A dialer checks the server's certificate too: node 3's address answered by node 2 is refused.
    a.transport.setPeer(3, `127.0.0.1:${b.port}`);
    for (let i = 0; i < 10; i++) {
      a.transport.send(3, Buffer.from('to the wrong server'));
      await sleep(30);
    }
    expect(a.transport.stats().get(3)!.connected).toBe(false);
    expect(b.received.map((r) => r.message)).toEqual(['over tls']);
  });
});

describe('peer door: trust on first use with peer TLS', () => {
  it('a joining node adopts the cluster id of the first authenticated peer, then requires it', async () => {
    const ca = makeTestCa('peer-door-tofu');
    cleanups.push(() => ca.cleanup());
    const material = (name: string): PeerTlsMaterial => {
      const files = ca.issue(name);
      return loadPeerTls({ cert: files.cert, key: files.key, ca: ca.ca });
    };
    const a = await startNode(1, { tls: material('node-1') });
    const joiner = await startNode(2, { clusterId: null, tls: material('node-2') });
    joiner.transport.setPeer(1, `127.0.0.1:${a.port}`);
    await sleep(150);
    expect(joiner.transport.send(1, Buffer.from('too early'))).toBe(false);
    a.transport.setPeer(2, `127.0.0.1:${joiner.port}`);
    await until(() => joiner.transport.stats().get(1)!.connected);
    expect(joiner.learned).toEqual([CLUSTER]);
    joiner.transport.send(1, Buffer.from('hello'));
    await until(() => a.received.length === 1);
    expect(a.received).toEqual([{ from: 2, message: 'hello' }]);
  });
});

describe('peer door: a joining node asks for the cluster id (peer TLS only)', () => {
  /** A raw ForwardMeta call with `md`: its status code and the cluster header of its trailers. */
  const rawAsk = (port: number, md: grpc.Metadata, creds = grpc.credentials.createInsecure()) =>
    new Promise<{ code: grpc.status; told: unknown[] }>((resolve) => {
      const { Client } = loadRaftProto();
      const client = new Client(`127.0.0.1:${port}`, creds) as unknown as {
        forwardMeta(r: unknown, md: grpc.Metadata, o: unknown, cb: (e: grpc.ServiceError | null) => void): void;
        close(): void;
      };
      client.forwardMeta({ from: 3, to: 2, command: Buffer.from([0]) }, md, { deadline: Date.now() + 3000 }, (e) => {
        client.close();
        resolve({ code: e?.code ?? grpc.status.OK, told: e?.metadata.get(HANDSHAKE_HEADERS.cluster) ?? [] });
      });
    });

  it('with mutual TLS a certified joiner learns the id from a member it dials, adopts it, and its links open', async () => {
    const ca = makeTestCa('peer-door-ask');
    const stranger = makeTestCa('peer-door-ask-stranger');
    cleanups.push(
      () => ca.cleanup(),
      () => stranger.cleanup(),
    );
    const material = (authority: TestCa, name: string): PeerTlsMaterial => {
      const files = authority.issue(name);
      return loadPeerTls({ cert: files.cert, key: files.key, ca: ca.ca });
    };
    const a = await startNode(1, { tls: material(ca, 'node-1') });
    const joiner = await startNode(2, { clusterId: null, tls: material(ca, 'node-2') });
    joiner.transport.setPeer(1, `127.0.0.1:${a.port}`);
    // The member never called the joiner: before this version the joiner waited for `member add`.
    expect(await joiner.transport.askClusterId(1, 3000)).toBe(CLUSTER);
    expect(joiner.learned).toEqual([CLUSTER]);
    expect(joiner.transport.clusterId).toBe(CLUSTER);
    await until(() => joiner.transport.stats().get(1)!.connected);
    joiner.transport.send(1, Buffer.from('hello'));
    await until(() => a.received.length === 1);
    expect(a.received).toEqual([{ from: 2, message: 'hello' }]);

    // A server whose certificate does not name the node dialed tells nothing (node 3's address answered by node 1).
    const other = await startNode(4, { clusterId: null, tls: material(ca, 'node-4') });
    other.transport.setPeer(3, `127.0.0.1:${a.port}`);
    await expect(other.transport.askClusterId(3, 2000)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    // A certificate from another CA: refused by TLS; one naming another node: refused at the door.
    const outsider = await startNode(5, { clusterId: null, tls: material(stranger, 'node-5') });
    outsider.transport.setPeer(1, `127.0.0.1:${a.port}`);
    await expect(outsider.transport.askClusterId(1, 2000)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    const impostor = await startNode(6, { clusterId: null, tls: material(ca, 'node-2') });
    impostor.transport.setPeer(1, `127.0.0.1:${a.port}`);
    await expect(impostor.transport.askClusterId(1, 2000)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect([other, outsider, impostor].map((n) => n.learned)).toEqual([[], [], []]);
    expect((await rejected(a.metrics)).certificate_mismatch).toBeGreaterThan(0);
    // An ask never reaches the node: nothing was delivered but the joiner's message.
    expect(a.received).toHaveLength(1);
  });

  it('without peer TLS an ask is refused UNAUTHENTICATED and tells nothing; the asker cannot even try', async () => {
    const b = await startNode(2);
    const asked = await rawAsk(b.port, askClusterIdMetadata({ nodeId: 3, to: 2, clientAddress: '127.0.0.1:7003' }));
    expect(asked).toEqual({ code: grpc.status.UNAUTHENTICATED, told: [] });
    expect((await rejected(b.metrics)).cluster_ask_without_tls).toBe(1);
    const joiner = await startNode(3, { clusterId: null });
    joiner.transport.setPeer(2, `127.0.0.1:${b.port}`);
    await expect(joiner.transport.askClusterId(2, 1000)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(joiner.learned).toEqual([]);
  });
});

describe('peer door: TLS files', () => {
  it('a missing or bad PEM file is a CONFIG error naming its flag', () => {
    const ca = makeTestCa('peer-door-files');
    try {
      const good = ca.issue('node-1');
      const other = ca.issue('node-2');
      const notPem = join(ca.dir, 'not.pem');
      writeFileSync(notPem, 'hello');
      const load = (cert: string, key: string, caFile: string) => () => loadPeerTls({ cert, key, ca: caFile });
      expect(load(good.cert, good.key, ca.ca)).not.toThrow();
      expect(load(join(ca.dir, 'missing.pem'), good.key, ca.ca)).toThrow(/--peer-tls-cert: cannot read/);
      expect(load(good.cert, join(ca.dir, 'missing.key'), ca.ca)).toThrow(/--peer-tls-key: cannot read/);
      expect(load(good.cert, good.key, notPem)).toThrow(/--peer-tls-ca: .* is not a PEM file/);
      expect(load(good.cert, other.key, ca.ca)).toThrow(
        /--peer-tls-cert\/--peer-tls-key: .* not a usable certificate and key/,
      );
      try {
        loadPeerTls({ cert: notPem, key: good.key, ca: ca.ca });
      } catch (e) {
        expect((e as { code?: string }).code).toBe('CONFIG');
      }
    } finally {
      ca.cleanup();
    }
  });
});
