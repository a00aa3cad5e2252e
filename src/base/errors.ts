/**
 * Typed errors with a machine-readable code. Every error Tessera throws on purpose is a TesseraError;
 * the server maps codes to gRPC status codes (DESIGN.md section 7). `retryable` tells the SDK whether
 * the same request may be sent again (with its session sequence number for writes).
 */
export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'NOT_LEADER'
  | 'WRONG_SHARD'
  | 'UNAVAILABLE'
  | 'RESOURCE_EXHAUSTED'
  | 'DEADLINE_EXCEEDED'
  | 'NOT_FOUND'
  | 'CORRUPTION'
  | 'CONFIG'
  | 'INTERNAL'
  /**
   * A write whose client session the state machine does not know (never registered, evicted, expired) or
   * whose seq is older than the session's last: nothing was applied by this request, and the outcome of
   * the write is unknown (an earlier attempt may have applied). Not retryable with the same session.
   */
  | 'SESSION_EXPIRED'
  /** No credentials, or a bad or expired token, on a cluster with access control (--auth-file). */
  | 'UNAUTHENTICATED'
  /** The user's role or key-prefix grants do not allow the call. */
  | 'PERMISSION_DENIED';

export interface ErrorDetails {
  /** NOT_LEADER: the node id and address of the leader, when known. */
  leaderId?: number;
  leaderAddress?: string;
  /** NOT_LEADER: the group (shard) whose leader this is about (trailer tessera-group). */
  groupId?: number;
  /** WRONG_SHARD: the current epoch of the shard map. */
  epoch?: number;
  /** INVALID_ARGUMENT: the limit that was exceeded, e.g. 'keyBytesMax'. */
  limit?: string;
  [extra: string]: unknown;
}

const retryableCodes: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'NOT_LEADER',
  'WRONG_SHARD',
  'UNAVAILABLE',
  'RESOURCE_EXHAUSTED',
  'DEADLINE_EXCEEDED',
]);

export class TesseraError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;
  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TesseraError';
    this.code = code;
    this.details = details;
  }
  get retryable(): boolean {
    return retryableCodes.has(this.code);
  }
}

export function isTesseraError(e: unknown): e is TesseraError {
  return e instanceof TesseraError;
}
