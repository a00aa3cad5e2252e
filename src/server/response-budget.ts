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
 * Invariant: every byte charged is released exactly once, at its write callback or at the end of the
 * call (grpc-js reports the end of every call, completed or cancelled, through the listener's onCancel).
 */
import * as grpc from '@grpc/grpc-js';
import { bufferBytes, type InflightBudget } from './memory-budget';

/** Responses up to this size are sent whatever the budget says (writes' outcomes, small reads). */
export const REFUSABLE_RESPONSE_BYTES = 4096;
const RESPONSE_OVERHEAD_BYTES = 64;

const UNARY_KV_PATHS = new Set(
  ['Get', 'Put', 'Delete', 'CompareAndSwap', 'Scan', 'Batch', 'OpenSession'].map((m) => `/tessera.v1.KV/${m}`),
);

class BudgetedCall extends grpc.ServerInterceptingCall {
  private held = 0;
  private over = false;

  constructor(
    next: grpc.ServerInterceptingCallInterface,
    private readonly budget: InflightBudget,
    private readonly onRefused: () => void,
  ) {
    const self: { call: BudgetedCall | null } = { call: null };
    super(next, { start: (go) => go({ onCancel: () => self.call?.releaseAll() }) });
    self.call = this;
  }

  override sendMessage(message: unknown, callback: () => void): void {
    if (this.over) return;
    // Twice its values: the response object and its serialized copy, both held until it is flushed.
    const bytes = RESPONSE_OVERHEAD_BYTES + 2 * bufferBytes(message, 3);
    if (bytes > REFUSABLE_RESPONSE_BYTES) {
      if (!this.budget.tryAcquireBytes(bytes)) {
        this.onRefused();
        this.sendStatus({
          code: grpc.status.RESOURCE_EXHAUSTED,
          details: 'the node is overloaded (response bytes in flight); retry later with backoff',
          metadata: reasonMetadata(),
        });
        return;
      }
    } else this.budget.forceAcquireBytes(bytes);
    this.held += bytes;
    super.sendMessage(message, () => {
      this.release(bytes);
      callback();
    });
  }

  private release(bytes: number): void {
    if (this.over) return;
    this.held -= bytes;
    this.budget.releaseBytes(bytes);
  }

  releaseAll(): void {
    if (this.over) return;
    this.over = true;
    this.budget.releaseBytes(this.held);
    this.held = 0;
  }
}

function reasonMetadata(): grpc.Metadata {
  const m = new grpc.Metadata();
  m.set('tessera-reason', 'RESOURCE_EXHAUSTED');
  return m;
}

/** The interceptor for the client listener's grpc.Server options (`interceptors`). */
export function responseBudgetInterceptor(budget: InflightBudget, onRefused: () => void): grpc.ServerInterceptor {
  return (method, call) =>
    UNARY_KV_PATHS.has(method.path) ? new BudgetedCall(call, budget, onRefused) : new grpc.ServerInterceptingCall(call);
}
