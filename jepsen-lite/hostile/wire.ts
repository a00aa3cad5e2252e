/**
 * The attacker's wire: raw gRPC calls to a node's port with hand-made request bytes, so a request can be
 * anything from a well-formed message to garbage, with values the SDK would never send (consistency 7 or
 * -1, a 10 KiB address, a session seq the SDK would not reuse). Messages are encoded with protobufjs from
 * the repository's own proto/ files (encode() writes what it is given: no enum or range checks).
 *
 * Every call has a deadline and every answer is an `Answer`: the gRPC status name the node answered
 * ('OK', 'INVALID_ARGUMENT', ...), or 'NO_ANSWER' when nothing came back in time. Nothing here knows the
 * cluster id: a peer call carries either no handshake or a forged one with a random cluster id.
 */
import * as grpc from '@grpc/grpc-js';
import * as protobuf from 'protobufjs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { repoRoot } from '../cluster/repo-root';
import { HANDSHAKE_HEADERS, PEER_PROTOCOL_VERSION, handshakeMetadata } from '../../src/transport';

export interface Answer {
  /** gRPC status name ('OK', 'UNAUTHENTICATED', ...) or 'NO_ANSWER'. */
  code: string;
  /** The node's message, its tessera-reason trailer, or what an OK answer said. */
  detail: string;
}

export const statusName = (code: number): string => grpc.status[code] ?? `STATUS_${code}`;

let root: protobuf.Root | null = null;

/** The tessera.v1 protobuf types, from proto/*.proto of this checkout. */
export function protoType(name: string): protobuf.Type {
  if (!root) {
    const dir = join(repoRoot(), 'proto');
    root = protobuf.loadSync([join(dir, 'kv.proto'), join(dir, 'admin.proto'), join(dir, 'raft.proto')]);
  }
  return root.lookupType(`tessera.v1.${name}`);
}

export function encode(type: string, fields: Record<string, unknown>): Buffer {
  return Buffer.from(
    protoType(type)
      .encode(fields as unknown as protobuf.Message)
      .finish(),
  );
}

export function decode<T = Record<string, unknown>>(type: string, buf: Buffer): T {
  const t = protoType(type);
  return t.toObject(t.decode(buf), { longs: Number, defaults: true }) as T;
}

/** Handshake headers of the peer protocol (src/transport/handshake.ts), forged: the cluster id is a guess. */
export interface ForgedHandshake {
  nodeId: number;
  clientAddress: string;
  /** The node the call goes to (the proof is bound to it); absent: node 1. */
  to?: number;
  /** A cluster id the attacker learned somehow (an insider); absent: the proof is a random guess. */
  clusterId?: string;
}

/** A v2 handshake: with a known cluster id a genuine HMAC proof (as a member would make it), else a random one. */
export function peerMetadata(h: ForgedHandshake | null): grpc.Metadata {
  if (h === null) return new grpc.Metadata();
  const to = h.to ?? 1;
  if (h.clusterId !== undefined)
    return handshakeMetadata({
      clusterId: h.clusterId,
      nodeId: h.nodeId,
      to,
      clientAddress: h.clientAddress,
      revealClusterId: false,
    });
  const md = new grpc.Metadata();
  md.set(HANDSHAKE_HEADERS.protocol, String(PEER_PROTOCOL_VERSION));
  md.set(HANDSHAKE_HEADERS.node, String(h.nodeId));
  md.set(HANDSHAKE_HEADERS.to, String(to));
  md.set(HANDSHAKE_HEADERS.nonce, randomBytes(16).toString('hex'));
  md.set(HANDSHAKE_HEADERS.proof, randomBytes(32).toString('hex'));
  md.set(HANDSHAKE_HEADERS.clientAddress, h.clientAddress);
  return md;
}

const identity = (b: Buffer): Buffer => b;
const clients = new Map<string, grpc.Client>();

/** One raw channel per address (closed by closeWire()). */
export function rawClient(address: string): grpc.Client {
  let c = clients.get(address);
  if (!c) {
    c = new grpc.Client(address, grpc.credentials.createInsecure(), {
      'grpc.max_send_message_length': 64 * 1024 * 1024,
      'grpc.max_receive_message_length': 64 * 1024 * 1024,
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 500,
    });
    clients.set(address, c);
  }
  return c;
}

export function closeWire(): void {
  for (const c of clients.values()) c.close();
  clients.clear();
}

function errorAnswer(e: grpc.ServiceError): Answer {
  const reason = e.metadata?.get('tessera-reason')?.[0];
  return {
    code: statusName(e.code),
    detail: `${reason ? `${String(reason)}: ` : ''}${e.details ?? e.message}`.slice(0, 300),
  };
}

/** A unary call with raw request bytes; resolves to the answer and the raw response (when OK). */
export function unary(
  address: string,
  path: string,
  request: Buffer,
  timeoutMs: number,
  md = new grpc.Metadata(),
): Promise<{ answer: Answer; response: Buffer | null }> {
  return new Promise((resolve) => {
    rawClient(address).makeUnaryRequest(
      path,
      identity,
      identity,
      request,
      md,
      { deadline: Date.now() + timeoutMs },
      (err, res) => {
        if (err)
          resolve({
            answer:
              err.code === grpc.status.DEADLINE_EXCEEDED && !err.metadata?.get('tessera-reason')?.length
                ? { code: 'NO_ANSWER', detail: err.details }
                : errorAnswer(err),
            response: null,
          });
        else resolve({ answer: { code: 'OK', detail: '' }, response: res ?? Buffer.alloc(0) });
      },
    );
  });
}

/** A client-streaming call: writes every message, ends, and waits for the answer. */
export function clientStream(
  address: string,
  path: string,
  messages: Buffer[],
  timeoutMs: number,
  md = new grpc.Metadata(),
): Promise<{ answer: Answer; response: Buffer | null }> {
  return new Promise((resolve) => {
    const call = rawClient(address).makeClientStreamRequest(
      path,
      identity,
      identity,
      md,
      { deadline: Date.now() + timeoutMs },
      (err, res) => {
        if (err) resolve({ answer: errorAnswer(err), response: null });
        else resolve({ answer: { code: 'OK', detail: '' }, response: res ?? Buffer.alloc(0) });
      },
    );
    call.on('error', () => undefined);
    for (const m of messages) call.write(m);
    call.end();
  });
}

/**
 * A bidi call: writes the messages (spaced by gapMs), keeps the call open holdMs for the node to object,
 * then ends its side and waits (bounded) for the node to close: OK means the node took the stream.
 * Responses are counted (a Raft stream sends none back).
 */
export function bidiStream(
  address: string,
  path: string,
  messages: Buffer[],
  opts: { holdMs: number; gapMs?: number; timeoutMs: number; md?: grpc.Metadata },
): Promise<{ answer: Answer; responses: number }> {
  return new Promise((resolve) => {
    let responses = 0;
    let settled = false;
    const call = rawClient(address).makeBidiStreamRequest(path, identity, identity, opts.md ?? new grpc.Metadata(), {
      deadline: Date.now() + opts.timeoutMs,
    });
    const finish = (a: Answer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(hardStop);
      resolve({ answer: a, responses });
    };
    const hardStop = setTimeout(() => {
      call.cancel();
      finish({ code: 'NO_ANSWER', detail: `stream still open after ${opts.timeoutMs} ms` });
    }, opts.timeoutMs + 500);
    call.on('data', () => responses++);
    call.on('error', (e: grpc.ServiceError) => finish(errorAnswer(e)));
    call.on('status', (s: grpc.StatusObject) =>
      finish(
        s.code === grpc.status.OK
          ? { code: 'OK', detail: 'stream accepted' }
          : { code: statusName(s.code), detail: s.details },
      ),
    );
    void (async () => {
      for (const m of messages) {
        if (settled) return;
        call.write(m);
        if (opts.gapMs) await new Promise((r) => setTimeout(r, opts.gapMs));
      }
      await new Promise((r) => setTimeout(r, opts.holdMs));
      if (!settled) call.end();
    })();
  });
}
