/**
 * A node's refusal of a peer call, on the wire: a gRPC status whose trailers follow the client API's
 * convention (src/server/errors.ts, DESIGN.md section 7): `tessera-reason: <ErrorCode>`, and, when known,
 * tessera-leader-id, tessera-leader-address, tessera-group, tessera-epoch, tessera-limit. The caller
 * rebuilds the TesseraError from them (code and those details intact), so a NOT_LEADER names where to retry.
 *
 * Invariants:
 * - everything read here came from the network: the reason must be a known ErrorCode, every detail is
 *   parsed with a bounded format and dropped when malformed, and the message is cut to MESSAGE_CHARS_MAX;
 * - a status without a valid `tessera-reason` (a door refusal, a transport failure) is never mistaken for
 *   a node's answer: it becomes UNAVAILABLE (or DEADLINE_EXCEEDED when the call's deadline passed).
 */
import * as grpc from '@grpc/grpc-js';
import {
  TesseraError,
  isNodeId,
  isShardId,
  isTesseraError,
  type ErrorCode,
  type ErrorDetails,
  type NodeId,
} from '../base';
import { isValidAddress, single } from './handshake';

const TRAILERS = {
  reason: 'tessera-reason',
  leaderId: 'tessera-leader-id',
  leaderAddress: 'tessera-leader-address',
  groupId: 'tessera-group',
  epoch: 'tessera-epoch',
  limit: 'tessera-limit',
} as const;

/** Longest error message taken from a peer (characters). */
const MESSAGE_CHARS_MAX = 1024;

/**
 * Every ErrorCode, with the gRPC status a refusal carrying it is sent with: the client API's mapping too
 * (src/server/errors.ts uses this table).
 */
export const GRPC_STATUS_OF_ERROR_CODE: Readonly<Record<ErrorCode, grpc.status>> = {
  INVALID_ARGUMENT: grpc.status.INVALID_ARGUMENT,
  NOT_LEADER: grpc.status.FAILED_PRECONDITION,
  WRONG_SHARD: grpc.status.FAILED_PRECONDITION,
  SESSION_EXPIRED: grpc.status.FAILED_PRECONDITION,
  UNAVAILABLE: grpc.status.UNAVAILABLE,
  RESOURCE_EXHAUSTED: grpc.status.RESOURCE_EXHAUSTED,
  DEADLINE_EXCEEDED: grpc.status.DEADLINE_EXCEEDED,
  NOT_FOUND: grpc.status.NOT_FOUND,
  CORRUPTION: grpc.status.DATA_LOSS,
  CONFIG: grpc.status.INTERNAL,
  INTERNAL: grpc.status.INTERNAL,
  UNAUTHENTICATED: grpc.status.UNAUTHENTICATED,
  PERMISSION_DENIED: grpc.status.PERMISSION_DENIED,
};

export interface PeerErrorStatus {
  code: grpc.status;
  details: string;
  metadata: grpc.Metadata;
}

/** The status a peer call is refused with for `e` (anything but a TesseraError is INTERNAL). */
export function toPeerErrorStatus(e: unknown): PeerErrorStatus {
  const err = isTesseraError(e) ? e : new TesseraError('INTERNAL', `internal error: ${(e as Error)?.message ?? e}`);
  const md = new grpc.Metadata();
  md.set(TRAILERS.reason, err.code);
  const d = err.details;
  if (isNodeId(d.leaderId)) md.set(TRAILERS.leaderId, String(d.leaderId));
  if (isValidAddress(d.leaderAddress)) md.set(TRAILERS.leaderAddress, d.leaderAddress);
  if (isShardId(d.groupId)) md.set(TRAILERS.groupId, String(d.groupId));
  if (isSafeUint(d.epoch)) md.set(TRAILERS.epoch, String(d.epoch));
  if (typeof d.limit === 'string' && isLimitName(d.limit)) md.set(TRAILERS.limit, d.limit);
  return { code: GRPC_STATUS_OF_ERROR_CODE[err.code] ?? grpc.status.INTERNAL, details: err.message, metadata: md };
}

/**
 * The caller's view of a failed peer call to `peer`: the node's own error when the status carries a valid
 * reason and `answered` (the peer proved the cluster id on this call), else UNAVAILABLE / DEADLINE_EXCEEDED.
 */
export function fromPeerErrorStatus(status: Partial<grpc.StatusObject>, peer: NodeId, answered: boolean): TesseraError {
  const message = `peer ${peer}: ${String(status.details ?? 'call failed').slice(0, MESSAGE_CHARS_MAX)}`;
  const md = status.metadata ?? new grpc.Metadata();
  const reason = single(md, TRAILERS.reason);
  if (answered && reason !== null && Object.hasOwn(GRPC_STATUS_OF_ERROR_CODE, reason))
    return new TesseraError(reason as ErrorCode, message, detailsOf(md));
  if (status.code === grpc.status.DEADLINE_EXCEEDED) return new TesseraError('DEADLINE_EXCEEDED', message);
  return new TesseraError('UNAVAILABLE', message);
}

function detailsOf(md: grpc.Metadata): ErrorDetails {
  const details: ErrorDetails = {};
  const leaderId = uintOf(single(md, TRAILERS.leaderId));
  if (isNodeId(leaderId)) details.leaderId = leaderId;
  const leaderAddress = single(md, TRAILERS.leaderAddress);
  if (isValidAddress(leaderAddress)) details.leaderAddress = leaderAddress;
  const groupId = uintOf(single(md, TRAILERS.groupId));
  if (isShardId(groupId)) details.groupId = groupId;
  const epoch = uintOf(single(md, TRAILERS.epoch));
  if (isSafeUint(epoch)) details.epoch = epoch;
  const limit = single(md, TRAILERS.limit);
  if (limit !== null && isLimitName(limit)) details.limit = limit;
  return details;
}

function uintOf(text: string | null): number | null {
  return text !== null && /^\d{1,15}$/.test(text) ? Number(text) : null;
}

function isSafeUint(n: unknown): n is number {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;
}

function isLimitName(s: string): boolean {
  return /^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(s);
}
