/**
 * Unary KV responses in the node's in-flight budget (memory-budget.ts): a grpc-js server interceptor
 * charges each response's bytes from the moment the handler answers until grpc-js has handed the message
 * to the HTTP/2 stream, or the call is over (a client that does not read keeps them charged meanwhile).
 * A response of more than REFUSABLE_RESPONSE_BYTES (a read: Get, Scan) that does not fit the budget is
 * not sent: the call ends with RESOURCE_EXHAUSTED instead (a read may be retried). Small responses
 * (writes: their outcome must reach the client) are always sent and charged.
 * Streaming methods (Multi, Pipeline) account their results themselves (response-queue.ts); other
 * services (Admin, Raft) are not intercepted.
 *
 * A client that does not read its unary responses:
 * - each connection's unflushed response bytes plus the expected results of its running reads (the
 *   budget's estimate) stay within connectionQueuedBytesMax: a read past it (Get, Scan) is refused with
 *   RESOURCE_EXHAUSTED before the handler runs (no read, no buffering);
 * - a response not flushed within stallMs, or still unflushed past the call's deadline plus
 *   DEADLINE_GRACE_MS, has its stream reset (stream-reset.ts; a status would wait behind the unread data),
 *   which releases its bytes.
 *
 * Invariant: every byte charged is released exactly once, at its write callback or at the end of the
 * call (grpc-js reports the end of every call, completed or cancelled, through the listener's onCancel).
 */
import * as grpc from '@grpc/grpc-js';
import { bufferBytes, type InflightBudget } from './memory-budget';
import { resetPastDeadline, resetStream } from './stream-reset';

/** Responses up to this size are sent whatever the budget says (writes' outcomes, small reads). */
export const REFUSABLE_RESPONSE_BYTES = 4096;
const RESPONSE_OVERHEAD_BYTES = 64;
const CONNECTION_QUEUED_BYTES_MAX_DEFAULT = 8 * 1024 * 1024;
const STALL_MS_DEFAULT = 10_000;

const UNARY_KV_PATHS = new Set(
  ['Get', 'Put', 'Delete', 'CompareAndSwap', 'Scan', 'Batch', 'OpenSession'].map((m) => `/tessera.v1.KV/${m}`),
);

/** Options of the interceptor (tessera-node.ts passes the node's; tests pass their own). */
export interface ResponseBudgetOptions {
  /** Unflushed unary response bytes of one connection past which its new reads are refused (default 8 MiB). */
  connectionQueuedBytesMax?: number;
  /** A response not flushed this long (the client does not read) has its stream reset (default 10 s). */
  stallMs?: number;
  /** A stream was reset (stalled or past its deadline). */
  onReset?: (reason: 'stalled-stream' | 'deadline-stream') => void;
}

const READ_PATHS = new Set(['/tessera.v1.KV/Get', '/tessera.v1.KV/Scan']);

/** Unflushed unary response bytes per client connection ("address:port"); entries at 0 are removed. */
export class ConnectionHeld {
  private readonly bytes = new Map<string, number>();

  constructor(readonly bytesMax: number) {}

  /** Whether `bytes` more fit the connection's bound (a first charge always fits). */
  fits(connection: string, bytes: number): boolean {
    const held = this.bytes.get(connection) ?? 0;
    return held === 0 || held + bytes <= this.bytesMax;
  }

  add(connection: string, delta: number): void {
    const n = (this.bytes.get(connection) ?? 0) + delta;
    if (n <= 0) this.bytes.delete(connection);
    else this.bytes.set(connection, n);
  }

  get connections(): number {
    return this.bytes.size;
  }
}

/** The client connection of a call as "address:port" (null when grpc-js does not say). */
function connectionOf(next: grpc.ServerInterceptingCallInterface): string | null {
  try {
    const info = (next as Partial<grpc.ServerInterceptingCallInterface>).getConnectionInfo?.();
    return info?.remoteAddress === undefined ? null : `${info.remoteAddress}:${info.remotePort ?? ''}`;
  } catch {
    return null;
  }
}

class BudgetedCall extends grpc.ServerInterceptingCall {
  private held = 0;
  private over = false;
  /** Write callbacks awaited; while > 0 the stall timer runs. */
  private unflushed = 0;
  private stallTimer: NodeJS.Timeout | null = null;
  private unguard: () => void = () => undefined;
  private readonly connection: string | null;
  /** Expected bytes of this read charged to its connection while it runs (0: none). */
  private reserved = 0;

  constructor(
    next: grpc.ServerInterceptingCallInterface,
    isRead: boolean,
    private readonly budget: InflightBudget,
    private readonly connections: ConnectionHeld,
    private readonly onRefused: () => void,
    private readonly options: ResponseBudgetOptions,
  ) {
    const self: { call: BudgetedCall | null } = { call: null };
    super(next, {
      start: (go) =>
        go({
          onReceiveMetadata: (metadata, nextMd) => {
            // A connection that does not read what it was sent gets no new read: refused before any work.
            if (isRead && !self.call?.reserveRead()) self.call?.refuse('unread responses on this connection');
            else nextMd(metadata);
          },
          onCancel: () => self.call?.releaseAll(),
        }),
    });
    self.call = this;
    this.connection = connectionOf(next);
  }

  /**
   * Charges a read's expected result to its connection until its response is sent; false when the
   * connection's unflushed responses and running reads would pass its bound (the read is refused).
   */
  reserveRead(): boolean {
    if (this.connection === null) return true;
    const expected = this.budget.opBytes(null, true);
    if (!this.connections.fits(this.connection, expected)) return false;
    this.reserved = expected;
    this.connections.add(this.connection, expected);
    return true;
  }

  /** The read's reservation ends: its response is charged instead, or the call is over. */
  private unreserve(): void {
    if (this.reserved === 0 || this.connection === null) return;
    this.connections.add(this.connection, -this.reserved);
    this.reserved = 0;
  }

  refuse(what: string): void {
    this.onRefused();
    this.sendStatus({
      code: grpc.status.RESOURCE_EXHAUSTED,
      details: `the node is overloaded (${what}); retry later with backoff`,
      metadata: reasonMetadata(),
    });
  }

  override sendMessage(message: unknown, callback: () => void): void {
    if (this.over) return;
    this.unreserve();
    // Twice its values: the response object and its serialized copy, both held until it is flushed.
    const bytes = RESPONSE_OVERHEAD_BYTES + 2 * bufferBytes(message, 3);
    if (bytes > REFUSABLE_RESPONSE_BYTES) {
      if (!this.budget.tryAcquireBytes(bytes)) {
        this.refuse('response bytes in flight');
        return;
      }
    } else this.budget.forceAcquireBytes(bytes);
    this.hold(bytes);
    super.sendMessage(message, () => {
      this.release(bytes);
      callback();
    });
  }

  private hold(bytes: number): void {
    this.held += bytes;
    if (this.connection !== null) this.connections.add(this.connection, bytes);
    if (this.unflushed++ === 0) {
      const stallMs = this.options.stallMs ?? STALL_MS_DEFAULT;
      this.stallTimer = setTimeout(() => this.reset('stalled-stream'), stallMs);
      this.unguard = resetPastDeadline(this, () => this.reset('deadline-stream'));
    }
  }

  private release(bytes: number): void {
    if (this.over) return;
    this.held -= bytes;
    if (this.connection !== null) this.connections.add(this.connection, -bytes);
    this.budget.releaseBytes(bytes);
    if (--this.unflushed === 0) this.stopTimers();
  }

  private stopTimers(): void {
    if (this.stallTimer !== null) clearTimeout(this.stallTimer);
    this.stallTimer = null;
    this.unguard();
  }

  /** The client does not read the response: reset the stream (a status would wait behind the data). */
  private reset(reason: 'stalled-stream' | 'deadline-stream'): void {
    if (this.over) return;
    this.options.onReset?.(reason);
    resetStream(this);
    this.releaseAll();
  }

  releaseAll(): void {
    if (this.over) return;
    this.over = true;
    this.unreserve();
    this.stopTimers();
    this.budget.releaseBytes(this.held);
    if (this.connection !== null) this.connections.add(this.connection, -this.held);
    this.held = 0;
  }
}

function reasonMetadata(): grpc.Metadata {
  const m = new grpc.Metadata();
  m.set('tessera-reason', 'RESOURCE_EXHAUSTED');
  return m;
}

/** The interceptor for the client listener's grpc.Server options (`interceptors`). */
export function responseBudgetInterceptor(
  budget: InflightBudget,
  onRefused: () => void,
  options: ResponseBudgetOptions = {},
): grpc.ServerInterceptor {
  const held = new ConnectionHeld(options.connectionQueuedBytesMax ?? CONNECTION_QUEUED_BYTES_MAX_DEFAULT);
  return (method, call) =>
    UNARY_KV_PATHS.has(method.path)
      ? new BudgetedCall(call, READ_PATHS.has(method.path), budget, held, onRefused, options)
      : new grpc.ServerInterceptingCall(call);
}
