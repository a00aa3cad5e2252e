/**
 * Maps errors to gRPC statuses with machine-readable trailers (proto/kv.proto header, DESIGN.md section 7):
 *   INVALID_ARGUMENT   -> INVALID_ARGUMENT     + tessera-limit (which limit, when one was exceeded)
 *   NOT_LEADER         -> FAILED_PRECONDITION  + tessera-leader-id, tessera-leader-address (when known),
 *                                                tessera-group (the group whose leader it names)
 *   WRONG_SHARD        -> FAILED_PRECONDITION  + tessera-epoch, tessera-shard (the owner's descriptor, when the
 *     node knows it: shard/descriptor-wire.ts), leader hints when known
 *   UNAVAILABLE        -> UNAVAILABLE          (+ leader hints when known; retryable)
 *   RESOURCE_EXHAUSTED -> RESOURCE_EXHAUSTED   DEADLINE_EXCEEDED -> DEADLINE_EXCEEDED
 *   NOT_FOUND -> NOT_FOUND   CORRUPTION -> DATA_LOSS   CONFIG, INTERNAL, anything else -> INTERNAL
 *   UNAUTHENTICATED -> UNAUTHENTICATED   PERMISSION_DENIED -> PERMISSION_DENIED (access control, auth-guard.ts)
 *   INVALID_ARGUMENT with details.failedPrecondition -> FAILED_PRECONDITION (the cluster is not in the
 *     state the request needs: `node remove` of a node that still holds replicas; final)
 *   SESSION_EXPIRED    -> FAILED_PRECONDITION  (a write from a session the state machine does not know, or
 *     retried after its session moved on: not retryable, outcome unknown); also an INTERNAL error with
 *     details.reason SESSION_EXPIRED, the form older code used
 * Every mapped error carries `tessera-reason: <ErrorCode>`; that trailer is how the SDK tells a node's
 * answer from a transport failure.
 */
import * as grpc from '@grpc/grpc-js';
import { isTesseraError } from '../base';
import { SHARD_TRAILER } from '../shard';
import { GRPC_STATUS_OF_ERROR_CODE } from '../transport';

export interface GrpcErrorStatus {
  code: grpc.status;
  details: string;
  metadata: grpc.Metadata;
}

/** The gRPC status of each ErrorCode: one table for the client API and the peer RPCs (transport/). */
const statusOf = GRPC_STATUS_OF_ERROR_CODE;

export function toGrpcStatus(e: unknown): GrpcErrorStatus {
  const metadata = new grpc.Metadata();
  if (!isTesseraError(e)) {
    metadata.set('tessera-reason', 'INTERNAL');
    return { code: grpc.status.INTERNAL, details: `internal error: ${(e as Error)?.message ?? String(e)}`, metadata };
  }
  const d = e.details;
  if (d.reason === 'SESSION_EXPIRED') {
    // A write whose session moved on or was evicted: not retryable, outcome unknown.
    metadata.set('tessera-reason', 'SESSION_EXPIRED');
    return { code: grpc.status.FAILED_PRECONDITION, details: e.message, metadata };
  }
  metadata.set('tessera-reason', e.code);
  // A refusal because the cluster is not in the state the request needs (a node to remove still holds
  // replicas): FAILED_PRECONDITION on the wire, INVALID_ARGUMENT (final, not retryable) as the reason.
  if (d.failedPrecondition === true && e.code === 'INVALID_ARGUMENT')
    return { code: grpc.status.FAILED_PRECONDITION, details: e.message, metadata };
  if (typeof d.leaderId === 'number' && d.leaderId > 0) metadata.set('tessera-leader-id', String(d.leaderId));
  if (typeof d.leaderAddress === 'string' && d.leaderAddress !== '')
    metadata.set('tessera-leader-address', d.leaderAddress);
  if (typeof d.groupId === 'number' && d.groupId > 0) metadata.set('tessera-group', String(d.groupId));
  if (typeof d.epoch === 'number') metadata.set('tessera-epoch', String(d.epoch));
  if (typeof d.limit === 'string') metadata.set('tessera-limit', d.limit);
  if (e.code === 'WRONG_SHARD' && typeof d.shard === 'string') metadata.set(SHARD_TRAILER, d.shard);
  return { code: statusOf[e.code] ?? grpc.status.INTERNAL, details: e.message, metadata };
}

/** The error of one request inside KV.Multi or KV.Pipeline: what its own call would have had as status and trailers. */
export interface RequestErrorWire {
  code: number;
  message: string;
  trailers: Record<string, string>;
}

export function toRequestError(e: unknown): RequestErrorWire {
  const st = toGrpcStatus(e);
  const trailers: Record<string, string> = {};
  for (const [k, v] of Object.entries(st.metadata.getMap()))
    trailers[k] = typeof v === 'string' ? v : v.toString('utf8');
  return { code: st.code, message: st.details, trailers };
}
