/**
 * Raft.ForwardMeta (proto/raft.proto), both ends: a member asks the node it believes leads the meta shard
 * to apply one encoded meta command (a splitting data shard's leader reserving the right-hand shard id, a
 * node registering itself), and gets the encoded result back. Both are opaque bytes here; the node encodes
 * and decodes them (src/meta/command-codec.ts, src/codec).
 *
 * Invariants:
 * - server: nothing reaches the node before the door (Transport.authenticate) accepted the call and the
 *   request's from/to match the handshake; then a request that is not 1..FORWARD_META_COMMAND_BYTES_MAX
 *   bytes is refused with INVALID_ARGUMENT, and a peer with FORWARD_META_CONCURRENT_MAX calls already in
 *   the node is refused with RESOURCE_EXHAUSTED, both before the handler runs. A slot is held until the
 *   handler settles (the node bounds its work by the timeout it is given), so the work one peer can pile
 *   up in the node is bounded. A result over FORWARD_META_RESULT_BYTES_MAX is not sent (INTERNAL).
 * - the handler's error crosses as a status with trailers (peer-error-wire.ts): code and leader details intact;
 * - client: the result and the node's errors are believed only after the answer headers proved the cluster
 *   id on this very call; every call has a deadline, is cancelled at once when the transport closes (a
 *   closed channel alone ends it only seconds later), ends when the connection is lost, and grpc-js calls
 *   its callback exactly once, so the promise settles once.
 */
import * as grpc from '@grpc/grpc-js';
import { TesseraError, type NodeId } from '../base';
import { HANDSHAKE_HEADERS, PEER_PROTOCOL_VERSION } from './handshake';
import { fromPeerErrorStatus, toPeerErrorStatus } from './peer-error-wire';

/** Largest command forwarded: a split key (META_LIMITS.splitKeyBytesMax, 64 KiB) and the rest of the tuple. */
export const FORWARD_META_COMMAND_BYTES_MAX = 64 * 1024 + 4096;
/** Largest encoded result returned. */
export const FORWARD_META_RESULT_BYTES_MAX = 1024 * 1024;
/** ForwardMeta calls of one peer that may be in the node at once. */
export const FORWARD_META_CONCURRENT_MAX = 64;
/** Longest time the node is given to handle one call (less when the caller's deadline is nearer). */
export const FORWARD_META_HANDLER_MS_MAX = 60_000;

export interface ForwardMetaRequestWire {
  from: number;
  to: number;
  command: Buffer;
  /** The peer protocol the request is written in (handshake.ts); 0 or absent: not stamped (an older node). */
  protocolVersion?: number;
}

export interface ForwardMetaResponseWire {
  result: Buffer;
}

export type ForwardServeCall = grpc.ServerUnaryCall<ForwardMetaRequestWire, ForwardMetaResponseWire>;
export type ForwardReply = grpc.sendUnaryData<ForwardMetaResponseWire>;
/** What the node handles a call with (TransportHandler.onForwardMeta). */
export type ForwardHandler = (from: NodeId, command: Buffer, timeoutMs: number) => Promise<Buffer>;

type ForwardStub = (
  request: ForwardMetaRequestWire,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null, response?: ForwardMetaResponseWire) => void,
) => grpc.ClientUnaryCall;

export interface ForwardTarget {
  selfId: NodeId;
  to: NodeId;
  timeoutMs: number;
  answerProves(answer: grpc.Metadata): boolean;
  /** Registers the call's cancel with the transport (close() runs it); returns the unregister. */
  track(cancel: () => void): () => void;
}

/** INVALID_ARGUMENT when `command` is not something the server would take; null when it is. */
export function forwardCommandFault(command: unknown): TesseraError | null {
  if (!Buffer.isBuffer(command) || command.length === 0)
    return new TesseraError('INVALID_ARGUMENT', 'a forwarded meta command must not be empty');
  if (command.length > FORWARD_META_COMMAND_BYTES_MAX)
    return new TesseraError(
      'INVALID_ARGUMENT',
      `a forwarded meta command of ${command.length} bytes is more than ${FORWARD_META_COMMAND_BYTES_MAX}`,
      { limit: 'forwardMetaCommandBytesMax' },
    );
  return null;
}

/** Client side: one call; resolves with the result, rejects with the node's error or UNAVAILABLE / DEADLINE_EXCEEDED. */
export function forwardMetaCall(stub: ForwardStub, metadata: grpc.Metadata, command: Buffer, t: ForwardTarget) {
  return new Promise<Buffer>((resolve, reject) => {
    let answered = false;
    let untrack: () => void = () => undefined;
    const request = { from: t.selfId, to: t.to, command, protocolVersion: PEER_PROTOCOL_VERSION };
    const call = stub(request, metadata, { deadline: Date.now() + t.timeoutMs }, (err, response) => {
      untrack();
      if (err) reject(fromPeerErrorStatus(err, t.to, answered));
      else if (!answered)
        reject(new TesseraError('UNAVAILABLE', `peer ${t.to} did not prove the cluster id; its answer is ignored`));
      else if (!response || response.result.length > FORWARD_META_RESULT_BYTES_MAX)
        reject(new TesseraError('UNAVAILABLE', `peer ${t.to} answered a meta forward with no or an oversized result`));
      else resolve(response.result);
    });
    call.on('metadata', (answer: grpc.Metadata) => {
      // A door refusal carries no answer header at all: not a bad answer, just no proof.
      if (answer.get(HANDSHAKE_HEADERS.answer).length > 0) answered = t.answerProves(answer);
    });
    untrack = t.track(() => call.cancel());
  });
}

/** Counts the calls each peer has in the node; a peer's entry goes when its last call ends. */
export class PeerCallSlots {
  private readonly inFlight = new Map<NodeId, number>();
  constructor(private readonly max: number) {}

  /** Takes a slot for `peer`; false when it holds `max` already. */
  take(peer: NodeId): boolean {
    const n = this.inFlight.get(peer) ?? 0;
    if (n >= this.max) return false;
    this.inFlight.set(peer, n + 1);
    return true;
  }

  release(peer: NodeId): void {
    const n = (this.inFlight.get(peer) ?? 0) - 1;
    if (n > 0) this.inFlight.set(peer, n);
    else this.inFlight.delete(peer);
  }
}

/**
 * Server side, after the door admitted `peer` (and the answer headers were sent): checks the request and
 * the peer's slots, runs the handler, replies. Resolves when the reply was handed to gRPC.
 */
export async function answerForwardMeta(
  call: ForwardServeCall,
  reply: ForwardReply,
  ctx: { peer: NodeId; handler: ForwardHandler; slots: PeerCallSlots },
): Promise<void> {
  const refuse = (e: unknown): void => reply(toPeerErrorStatus(e));
  const fault = forwardCommandFault(call.request.command);
  if (fault !== null) return refuse(fault);
  if (!ctx.slots.take(ctx.peer))
    return refuse(
      new TesseraError('RESOURCE_EXHAUSTED', `peer ${ctx.peer} has ${FORWARD_META_CONCURRENT_MAX} meta forwards here`),
    );
  try {
    const result = await ctx.handler(ctx.peer, call.request.command, handlerTimeoutMs(call));
    if (result.length > FORWARD_META_RESULT_BYTES_MAX)
      throw new TesseraError('INTERNAL', `a meta result of ${result.length} bytes is too large to return`);
    reply(null, { result });
  } catch (e) {
    refuse(e);
  } finally {
    ctx.slots.release(ctx.peer);
  }
}

/** The time left before the caller's deadline, within 1..FORWARD_META_HANDLER_MS_MAX. */
function handlerTimeoutMs(call: ForwardServeCall): number {
  const deadline = call.getDeadline();
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  const leftMs = Number.isFinite(at) ? at - Date.now() : FORWARD_META_HANDLER_MS_MAX;
  return Math.max(1, Math.min(FORWARD_META_HANDLER_MS_MAX, Math.floor(leftMs)));
}
