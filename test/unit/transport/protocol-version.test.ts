/**
 * Peer protocol versions (transport/handshake.ts, proto/raft.proto): the range negotiation; a peer announcing
 * a range outside this node's is refused with one log line (rate-limited) and the node goes on serving its
 * other peers; a newer peer that still speaks our version is accepted at it; every message carries its
 * version (one from another version is dropped); and a message with fields this node does not know (a newer
 * node's) is accepted. Real Transports on 127.0.0.1 port 0 and raw gRPC clients, one built from raft.proto
 * with extra fields.
 */
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { afterEach, describe, expect, it } from 'vitest';
import { Random } from '../../../src/base';
import { createNodeMetrics, silentLogger, type Logger, type NodeMetrics } from '../../../src/obs';
import {
  HANDSHAKE_HEADERS,
  PEER_PROTOCOL_VERSION,
  PEER_PROTOCOL_VERSION_MIN,
  Transport,
  answerProof,
  findProtoDir,
  loadRaftProto,
  handshakeProof,
  negotiateProtocol,
  protoLoaderOptions,
  serverOptions,
  supportedProtocols,
  type MessageBatchWire,
} from '../../../src/transport';

const CLUSTER = 'c0ffee00c0ffee00c0ffee00c0ffee00';
const cleanups: (() => void)[] = [];
afterEach(() => {
  while (cleanups.length) cleanups.pop()!();
});

interface Node {
  transport: Transport;
  port: number;
  metrics: NodeMetrics;
  received: string[];
  warnings: string[];
}

/** A logger keeping every warn line (message text), for the refusal's log line. */
function recordingLogger(lines: string[]): Logger {
  const l: Logger = {
    ...silentLogger(),
    warn: (_obj: object, msg?: string) => void lines.push(msg ?? ''),
    child: () => l,
  };
  return l;
}

async function startNode(id: number): Promise<Node> {
  const metrics = createNodeMetrics();
  const warnings: string[] = [];
  const received: string[] = [];
  const transport = new Transport({
    selfId: id,
    clusterId: CLUSTER,
    clientAddress: `127.0.0.1:${7000 + id}`,
    outboxMessagesMax: 100,
    random: new Random(id),
    logger: recordingLogger(warnings),
    metrics,
    backoff: { initialMs: 20, maxMs: 100 },
  });
  transport.setHandler({
    onMessages: (_from, messages) => void received.push(...messages.map((m) => m.toString())),
    onForwardMeta: () => Promise.reject(new Error('not served here')),
    onUnreachable: () => undefined,
    onSnapshot: () => Promise.reject(new Error('not served here')),
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
  return { transport, port, metrics, received, warnings };
}

/** Handshake headers of node 1 to node 2 announcing [min, max] (null: no min header), proof made as a node of that version would. */
function handshake(max: number, min: number | null): grpc.Metadata {
  const nonce = '0123456789abcdef0123456789abcdef';
  const address = '127.0.0.1:7001';
  const md = new grpc.Metadata();
  md.set(HANDSHAKE_HEADERS.protocol, String(max));
  if (min !== null) md.set(HANDSHAKE_HEADERS.protocolMin, String(min));
  md.set(HANDSHAKE_HEADERS.node, '1');
  md.set(HANDSHAKE_HEADERS.to, '2');
  md.set(HANDSHAKE_HEADERS.nonce, nonce);
  md.set(HANDSHAKE_HEADERS.clientAddress, address);
  md.set(HANDSHAKE_HEADERS.proof, handshakeProof(CLUSTER, 1, 2, nonce, address, max));
  return md;
}

type Stream = grpc.ClientDuplexStream<Record<string, unknown>, unknown>;

/**
 * A raw Raft client built from proto/raft.proto, with `extraFields` appended to MessageBatch (a newer node's
 * fields this node does not know).
 */
function rawClient(port: number, extraFields = ''): { stream(md: grpc.Metadata): Stream } {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-proto-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  const text = readFileSync(join(findProtoDir(), 'raft.proto'), 'utf8').replace(
    'uint32 protocol_version = 4;\n}',
    `uint32 protocol_version = 4;\n${extraFields}\n}`,
  );
  expect(text).toContain(extraFields);
  writeFileSync(join(dir, 'raft.proto'), text);
  const pd = protoLoader.loadSync(join(dir, 'raft.proto'), protoLoaderOptions);
  const Raft = (
    grpc.loadPackageDefinition(pd) as unknown as { tessera: { v1: { Raft: grpc.ServiceClientConstructor } } }
  ).tessera.v1.Raft;
  const c = new Raft(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  cleanups.push(() => c.close());
  return c as unknown as { stream(md: grpc.Metadata): Stream };
}

/** Opens a stream, writes `batches`, and resolves with the answer headers (null if none) and the final status. */
function openStream(
  client: { stream(md: grpc.Metadata): Stream },
  md: grpc.Metadata,
  batches: Record<string, unknown>[],
): Promise<{ answer: grpc.Metadata | null; code: grpc.status }> {
  const call = client.stream(md);
  let answer: grpc.Metadata | null = null;
  return new Promise((resolve) => {
    let settled = false;
    const settle = (code: grpc.status) => {
      if (settled) return;
      settled = true;
      resolve({ answer, code });
    };
    call.on('metadata', (m: grpc.Metadata) => (answer = m));
    call.on('status', (s: grpc.StatusObject) => settle(s.code));
    call.on('error', () => undefined);
    call.on('data', () => undefined);
    for (const b of batches) call.write(b);
    setTimeout(() => {
      call.end();
      setTimeout(() => {
        call.cancel();
        settle(grpc.status.OK);
      }, 100);
    }, 200);
  });
}

async function rejections(m: NodeMetrics): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await m.peerRejected.get()).values) out[String(v.labels.reason)] = v.value;
  return out;
}

const batch = (text: string, extra: Record<string, unknown> = {}) => ({
  from: 1,
  to: 2,
  messages: [Buffer.from(text)],
  ...extra,
});

describe('peer protocol negotiation', () => {
  it('accepts overlapping ranges at the newest common version and refuses the others', () => {
    expect(supportedProtocols()).toBe(`${PEER_PROTOCOL_VERSION_MIN}..${PEER_PROTOCOL_VERSION}`);
    expect(negotiateProtocol(PEER_PROTOCOL_VERSION, PEER_PROTOCOL_VERSION)).toBe(PEER_PROTOCOL_VERSION);
    expect(negotiateProtocol(PEER_PROTOCOL_VERSION_MIN, PEER_PROTOCOL_VERSION + 5)).toBe(PEER_PROTOCOL_VERSION);
    expect(negotiateProtocol(1, PEER_PROTOCOL_VERSION_MIN)).toBe(PEER_PROTOCOL_VERSION_MIN);
    expect(negotiateProtocol(PEER_PROTOCOL_VERSION + 1, PEER_PROTOCOL_VERSION + 5)).toBeNull();
    expect(negotiateProtocol(1, PEER_PROTOCOL_VERSION_MIN - 1)).toBeNull();
    expect(negotiateProtocol(5, 3)).toBeNull();
  });
});

describe('peer protocol versions on the wire', () => {
  it('refuses a peer outside the supported range with one log line, and keeps serving its other peers', async () => {
    const b = await startNode(2);
    const future = PEER_PROTOCOL_VERSION + 7;
    const client = rawClient(b.port);
    for (let i = 0; i < 3; i++) {
      const r = await openStream(client, handshake(future, PEER_PROTOCOL_VERSION + 1), [batch(`v${i}`)]);
      expect(r.code).toBe(grpc.status.UNAUTHENTICATED);
      expect(r.answer?.get(HANDSHAKE_HEADERS.answer) ?? []).toEqual([]);
    }
    expect(b.received).toEqual([]);
    expect((await rejections(b.metrics)).bad_protocol).toBe(3);
    const lines = b.warnings.filter((w) => w.includes('refused peer'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`${PEER_PROTOCOL_VERSION + 1}..${future}`);
    expect(lines[0]).toContain(`this node speaks ${supportedProtocols()}`);
    // A genuine peer of this version still gets through.
    const a = await startNode(1);
    a.transport.setPeer(2, `127.0.0.1:${b.port}`);
    for (let i = 0; i < 100 && b.received.length === 0; i++) {
      a.transport.send(2, Buffer.from('hello'));
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(b.received).toContain('hello');
  });

  it('accepts a newer peer that still speaks this version, answering with the version the call speaks', async () => {
    const b = await startNode(2);
    const r = await openStream(rawClient(b.port), handshake(PEER_PROTOCOL_VERSION + 3, PEER_PROTOCOL_VERSION), [
      batch('stamped-new', { protocolVersion: PEER_PROTOCOL_VERSION + 3 }),
      batch('stamped-common', { protocolVersion: PEER_PROTOCOL_VERSION }),
      batch('unstamped'),
    ]);
    expect(r.answer?.get(HANDSHAKE_HEADERS.protocol)).toEqual([String(PEER_PROTOCOL_VERSION)]);
    expect(b.received).toEqual(['stamped-new', 'stamped-common', 'unstamped']);
    // A peer from before ranges (no min header) at this version is accepted too.
    const old = await openStream(rawClient(b.port), handshake(PEER_PROTOCOL_VERSION, null), [batch('old')]);
    expect(old.answer?.get(HANDSHAKE_HEADERS.answer)).toHaveLength(1);
    expect(b.received).toContain('old');
  });

  it('drops a message written in a version its call did not announce or negotiate', async () => {
    const b = await startNode(2);
    await openStream(rawClient(b.port), handshake(PEER_PROTOCOL_VERSION, PEER_PROTOCOL_VERSION), [
      batch('odd', { protocolVersion: PEER_PROTOCOL_VERSION + 40 }),
      batch('fine', { protocolVersion: PEER_PROTOCOL_VERSION }),
    ]);
    expect(b.received).toEqual(['fine']);
    expect((await rejections(b.metrics)).bad_protocol).toBe(1);
  });

  it('accepts a message carrying fields it does not know (protobuf skips them)', async () => {
    const b = await startNode(2);
    const client = rawClient(b.port, '  string future_note = 50;\n  repeated uint64 future_ids = 51;');
    const r = await openStream(client, handshake(PEER_PROTOCOL_VERSION, PEER_PROTOCOL_VERSION), [
      batch('with-unknown-fields', {
        protocolVersion: PEER_PROTOCOL_VERSION,
        futureNote: 'from a newer node',
        futureIds: [1, 2, 3],
      }),
    ]);
    expect(r.answer?.get(HANDSHAKE_HEADERS.answer)).toHaveLength(1);
    expect(b.received).toEqual(['with-unknown-fields']);
    expect(await rejections(b.metrics)).toEqual({});
  });

  it('a node whose peer refuses it logs that once a minute at most, and keeps retrying', async () => {
    let calls = 0;
    const server = new grpc.Server(serverOptions);
    server.addService(loadRaftProto().service, {
      stream: (call: grpc.ServerDuplexStream<MessageBatchWire, MessageBatchWire>) => {
        calls++;
        call.emit('error', {
          code: grpc.status.UNAUTHENTICATED,
          details: 'unsupported peer protocol 2..2: this node speaks 5..9',
        });
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    cleanups.push(() => server.forceShutdown());
    const a = await startNode(1);
    a.transport.setPeer(2, `127.0.0.1:${port}`);
    for (let i = 0; i < 200 && calls < 3; i++) await new Promise((r) => setTimeout(r, 20));
    expect(calls).toBeGreaterThanOrEqual(3);
    const lines = a.warnings.filter((w) => w.startsWith('peer refused this node'));
    expect(lines).toHaveLength(1);
  });

  it('a real link stamps every batch with the version its call speaks', async () => {
    // A raw receiver that answers like a node and records each batch's stamp.
    const stamps: number[] = [];
    const server = new grpc.Server(serverOptions);
    server.addService(loadRaftProto().service, {
      stream: (call: grpc.ServerDuplexStream<MessageBatchWire, MessageBatchWire>) => {
        const nonce = String(call.metadata.get(HANDSHAKE_HEADERS.nonce)[0]);
        const answer = new grpc.Metadata();
        answer.set(HANDSHAKE_HEADERS.answer, answerProof(CLUSTER, 2, 1, nonce, PEER_PROTOCOL_VERSION));
        answer.set(HANDSHAKE_HEADERS.protocol, String(PEER_PROTOCOL_VERSION));
        call.sendMetadata(answer);
        call.on('data', (b: MessageBatchWire) => void stamps.push(b.protocolVersion ?? -1));
        call.on('error', () => undefined);
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    cleanups.push(() => server.forceShutdown());
    const a = await startNode(1);
    a.transport.setPeer(2, `127.0.0.1:${port}`);
    for (let i = 0; i < 100 && stamps.length < 3; i++) {
      a.transport.send(2, Buffer.from(`m${i}`));
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(stamps.length).toBeGreaterThanOrEqual(3);
    expect(new Set(stamps)).toEqual(new Set([PEER_PROTOCOL_VERSION]));
  });
});
