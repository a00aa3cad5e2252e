/**
 * Maps a failed gRPC attempt to a TesseraError and says what it tells about the endpoint:
 * - 'server': the node answered (it is alive) with an error; the reason trailer `tessera-reason` and the
 *   detail trailers (`tessera-leader-id`, `tessera-leader-address`, `tessera-epoch`, `tessera-limit`,
 *   `tessera-group`: proto/kv.proto header) are decoded into TesseraError.details.
 * - 'connection': the node could not be reached or the connection dropped (grpc-js local errors).
 * - 'timeout': no answer within the attempt's timeout.
 * Invariant: a failure is 'server' only when the reply carries a tessera-* trailer; a bare gRPC status
 * (e.g. UNAVAILABLE "No connection established") is treated as a transport failure.
 */
import * as grpc from '@grpc/grpc-js';
import { TesseraError } from '../base';
import type { ErrorCode, ErrorDetails } from '../base';

export type FailureKind = 'server' | 'connection' | 'timeout';

export interface AttemptFailure {
  kind: FailureKind;
  error: TesseraError;
}

const knownCodes: ReadonlySet<string> = new Set<ErrorCode>([
  'INVALID_ARGUMENT',
  'NOT_LEADER',
  'WRONG_SHARD',
  'UNAVAILABLE',
  'RESOURCE_EXHAUSTED',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'CORRUPTION',
  'CONFIG',
  'INTERNAL',
  'SESSION_EXPIRED',
  'UNAUTHENTICATED',
  'PERMISSION_DENIED',
]);

function codeFromStatus(status: grpc.status): ErrorCode {
  switch (status) {
    case grpc.status.INVALID_ARGUMENT:
    case grpc.status.OUT_OF_RANGE:
      return 'INVALID_ARGUMENT';
    case grpc.status.UNAVAILABLE:
    case grpc.status.CANCELLED:
    case grpc.status.ABORTED:
      return 'UNAVAILABLE';
    case grpc.status.RESOURCE_EXHAUSTED:
      return 'RESOURCE_EXHAUSTED';
    case grpc.status.DEADLINE_EXCEEDED:
      return 'DEADLINE_EXCEEDED';
    case grpc.status.NOT_FOUND:
      return 'NOT_FOUND';
    case grpc.status.DATA_LOSS:
      return 'CORRUPTION';
    case grpc.status.UNAUTHENTICATED:
      return 'UNAUTHENTICATED';
    case grpc.status.PERMISSION_DENIED:
      return 'PERMISSION_DENIED';
    default:
      return 'INTERNAL';
  }
}

function firstString(md: grpc.Metadata | undefined, key: string): string | undefined {
  if (!md) return undefined;
  const values = md.get(key);
  if (values.length === 0) return undefined;
  const v = values[0];
  return typeof v === 'string' ? v : v.toString('utf8');
}

function hasTesseraTrailer(md: grpc.Metadata | undefined): boolean {
  if (!md) return false;
  for (const key of Object.keys(md.getMap())) if (key.startsWith('tessera-')) return true;
  return false;
}

/** Decodes a grpc-js ServiceError (status, details, trailers) from one attempt. */
export function classifyGrpcError(err: grpc.ServiceError, method: string, endpoint: string): AttemptFailure {
  const md = err.metadata;
  const serverSide = hasTesseraTrailer(md);
  const reason = firstString(md, 'tessera-reason');
  const details: ErrorDetails = { endpoint, grpcCode: err.code };
  if (reason !== undefined) details.reason = reason;
  const leaderId = firstString(md, 'tessera-leader-id');
  if (leaderId !== undefined && /^\d+$/.test(leaderId) && Number(leaderId) > 0) details.leaderId = Number(leaderId);
  const leaderAddress = firstString(md, 'tessera-leader-address');
  if (leaderAddress) details.leaderAddress = leaderAddress;
  const group = firstString(md, 'tessera-group');
  if (group !== undefined && /^\d{1,10}$/.test(group) && Number(group) > 0) details.groupId = Number(group);
  const epoch = firstString(md, 'tessera-epoch');
  if (epoch !== undefined && /^\d+$/.test(epoch)) details.epoch = Number(epoch);
  const limit = firstString(md, 'tessera-limit');
  if (limit) details.limit = limit;

  const code: ErrorCode =
    reason !== undefined && knownCodes.has(reason) ? (reason as ErrorCode) : codeFromStatus(err.code);
  const text = err.details || err.message;
  const error = new TesseraError(code, `${method} via ${endpoint}: ${text}`, details, { cause: err });
  if (serverSide) return { kind: 'server', error };
  if (err.code === grpc.status.DEADLINE_EXCEEDED) return { kind: 'timeout', error };
  if (err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.CANCELLED) return { kind: 'connection', error };
  if (err.code === grpc.status.INTERNAL && /RST_STREAM|connection|socket|ECONN/i.test(text)) {
    return { kind: 'connection', error: retag(error, 'UNAVAILABLE') };
  }
  // A bare status from the server without our trailers (e.g. INVALID_ARGUMENT from a gRPC decode failure).
  return { kind: 'server', error };
}

/**
 * A failure that says the node does not know the method at all (a node of an older version): UNIMPLEMENTED
 * without our trailers, or, for a request coalesced into Multi / Pipeline, the older node's answer to an op
 * whose oneof field it does not know ("a Multi op has no request").
 */
export function isUnimplemented(e: unknown): boolean {
  if (!(e instanceof TesseraError)) return false;
  if (e.details.grpcCode === grpc.status.UNIMPLEMENTED && e.details.reason === undefined) return true;
  return (
    e.code === 'INVALID_ARGUMENT' &&
    /a Multi op has no request \(get, put, delete or compare_and_swap\)/.test(e.message)
  );
}

function retag(e: TesseraError, code: ErrorCode): TesseraError {
  return new TesseraError(code, e.message, e.details, { cause: e.cause });
}

/** A timeout synthesized by the SDK (attempt timer or the test-only dropped-reply hook). */
export function attemptTimeout(method: string, endpoint: string, attemptMs: number, why = 'no reply'): AttemptFailure {
  return {
    kind: 'timeout',
    error: new TesseraError('DEADLINE_EXCEEDED', `${method} via ${endpoint}: ${why} within ${attemptMs} ms`, {
      endpoint,
    }),
  };
}
