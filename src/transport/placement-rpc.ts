/**
 * Raft.Placement (proto/raft.proto), both ends: the placement driver on the meta shard's leader asks a node
 * for its report, or a shard's leader to carry out one placement action (src/placement). The request and
 * the answer are opaque bytes here; src/placement encodes, validates and decodes them.
 *
 * Invariants (the same discipline as ForwardMeta, meta-forward.ts):
 * - server: nothing reaches the handler before the door (Transport.authenticate) accepted the call and the
 *   request's from/to match the handshake; then a body that is not 1..PLACEMENT_REQUEST_BYTES_MAX bytes is
 *   refused with INVALID_ARGUMENT, and a peer with PLACEMENT_CONCURRENT_MAX calls already in the node is
 *   refused with RESOURCE_EXHAUSTED, both before the handler runs. A slot is held until the handler settles
 *   (it is given the time left before the caller's deadline, at most PLACEMENT_HANDLER_MS_MAX), so the work
 *   one peer can pile up here is bounded. An answer over PLACEMENT_RESPONSE_BYTES_MAX is not sent (INTERNAL).
 *   A node without a placement handler refuses every call (UNAVAILABLE).
 * - the handler's error crosses as a status with trailers (peer-error-wire.ts): code and leader details intact;
 * - client: the answer and the node's errors are believed only after the answer headers proved the cluster
 *   id on this very call; every call has a deadline, is cancelled when the transport closes, and settles once.
 */
import * as grpc from '@grpc/grpc-js';
import { TesseraError, type NodeId } from '../base';
import { HANDSHAKE_HEADERS, PEER_PROTOCOL_VERSION } from './handshake';
import type { PeerCallSlots } from './meta-forward';
import { fromPeerErrorStatus, toPeerErrorStatus } from './peer-error-wire';

/** Largest request: an action with two addresses, or a report request (a few bytes). */
export const PLACEMENT_REQUEST_BYTES_MAX = 16 * 1024;
/** Largest answer: a node's report (about 100 bytes per hosted group: 40,000 groups fit). */
export const PLACEMENT_RESPONSE_BYTES_MAX = 4 * 1024 * 1024;
/** Placement calls of one peer that may be in the node at once (the driver runs one action per shard). */
export const PLACEMENT_CONCURRENT_MAX = 64;
/** Longest time the node is given to handle one call (an action waits for a learner to catch up). */
export const PLACEMENT_HANDLER_MS_MAX = 10 * 60_000;

export interface PlacementRequestWire {
  from: number;
  to: number;
  body: Buffer;
  /** The peer protocol the request is written in (handshake.ts); 0 or absent: not stamped (an older node). */
  protocolVersion?: number;
}

export interface PlacementResponseWire {
  body: Buffer;
}

export type PlacementServeCall = grpc.ServerUnaryCall<PlacementRequestWire, PlacementResponseWire>;
export type PlacementReply = grpc.sendUnaryData<PlacementResponseWire>;
/** What the node handles a call with (Transport.setPlacementHandler): `from` is the authenticated caller. */
export type PlacementHandler = (from: NodeId, body: Buffer, timeoutMs: number) => Promise<Buffer>;

type PlacementStub = (
  request: PlacementRequestWire,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null, response?: PlacementResponseWire) => void,
) => grpc.ClientUnaryCall;

export interface PlacementTarget {
  selfId: NodeId;
  to: NodeId;
  timeoutMs: number;
  answerProves(answer: grpc.Metadata): boolean;
  /** Registers the call's cancel with the transport (close() runs it); returns the unregister. */
  track(cancel: () => void): () => void;
}

/** INVALID_ARGUMENT when `body` is not something the server would take; null when it is. */
export function placementBodyFault(body: unknown): TesseraError | null {
  if (!Buffer.isBuffer(body) || body.length === 0)
    return new TesseraError('INVALID_ARGUMENT', 'a placement request must not be empty');
  if (body.length > PLACEMENT_REQUEST_BYTES_MAX)
    return new TesseraError(
      'INVALID_ARGUMENT',
      `a placement request of ${body.length} bytes is more than ${PLACEMENT_REQUEST_BYTES_MAX}`,
      { limit: 'placementRequestBytesMax' },
    );
  return null;
}

/** Client side: one call; resolves with the answer, rejects with the node's error or UNAVAILABLE / DEADLINE_EXCEEDED. */
export function placementCall(stub: PlacementStub, metadata: grpc.Metadata, body: Buffer, t: PlacementTarget) {
  return new Promise<Buffer>((resolve, reject) => {
    let answered = false;
    let untrack: () => void = () => undefined;
    const request = { from: t.selfId, to: t.to, body, protocolVersion: PEER_PROTOCOL_VERSION };
    const call = stub(request, metadata, { deadline: Date.now() + t.timeoutMs }, (err, response) => {
      untrack();
      if (err) reject(fromPeerErrorStatus(err, t.to, answered));
      else if (!answered)
        reject(new TesseraError('UNAVAILABLE', `peer ${t.to} did not prove the cluster id; its answer is ignored`));
      else if (!response || response.body.length > PLACEMENT_RESPONSE_BYTES_MAX)
        reject(new TesseraError('UNAVAILABLE', `peer ${t.to} gave a placement answer that is missing or too large`));
      else resolve(response.body);
    });
    call.on('metadata', (answer: grpc.Metadata) => {
      if (answer.get(HANDSHAKE_HEADERS.answer).length > 0) answered = t.answerProves(answer);
    });
    untrack = t.track(() => call.cancel());
  });
}

/**
 * Server side, after the door admitted `peer` (and the answer headers were sent): checks the body and the
 * peer's slots, runs the handler, replies. Resolves when the reply was handed to gRPC.
 */
export async function answerPlacement(
  call: PlacementServeCall,
  reply: PlacementReply,
  ctx: { peer: NodeId; handler: PlacementHandler; slots: PeerCallSlots },
): Promise<void> {
  const refuse = (e: unknown): void => reply(toPeerErrorStatus(e));
  const fault = placementBodyFault(call.request.body);
  if (fault !== null) return refuse(fault);
  if (!ctx.slots.take(ctx.peer))
    return refuse(
      new TesseraError('RESOURCE_EXHAUSTED', `peer ${ctx.peer} has ${PLACEMENT_CONCURRENT_MAX} placement calls here`),
    );
  try {
    const body = await ctx.handler(ctx.peer, call.request.body, handlerTimeoutMs(call));
    if (body.length > PLACEMENT_RESPONSE_BYTES_MAX)
      throw new TesseraError('INTERNAL', `a placement answer of ${body.length} bytes is too large to return`);
    reply(null, { body });
  } catch (e) {
    refuse(e);
  } finally {
    ctx.slots.release(ctx.peer);
  }
}

/** The time left before the caller's deadline, within 1..PLACEMENT_HANDLER_MS_MAX. */
function handlerTimeoutMs(call: PlacementServeCall): number {
  const deadline = call.getDeadline();
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  const leftMs = Number.isFinite(at) ? at - Date.now() : PLACEMENT_HANDLER_MS_MAX;
  return Math.max(1, Math.min(PLACEMENT_HANDLER_MS_MAX, Math.floor(leftMs)));
}
