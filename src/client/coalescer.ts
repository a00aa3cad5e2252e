/**
 * Coalesces the single-key calls (Get, Put, Delete, CompareAndSwap, OpenSession) that an Endpoint receives in one
 * event-loop turn into one message on the endpoint's KV.Pipeline stream (pipeline.ts; proto/kv.proto):
 * one protobuf message and no new gRPC call instead of one call each, which is most of a unary call's
 * cost on both sides. A node that does not know Pipeline gets one KV.Multi call per turn instead.
 *
 * Each coalesced request keeps the semantics of its own attempt (Endpoint.unary):
 * - its outcome is what the single call would have returned: a per-request error carries the same status
 *   and trailers, so classifyGrpcError sees the same thing; a failure of the stream or of the Multi call
 *   itself (transport, node stopping, cancel) is the failure of every request on it still unanswered;
 * - its hard deadline: a pipelined request carries its own budget to the node and fails here when it
 *   passes; a Multi call runs until the latest deadline of its requests, and a request whose own deadline
 *   passes earlier fails then, as its own call's DEADLINE_EXCEEDED would have;
 * - the soft "sign of life" timeout (Endpoint.unary) is judged once for the whole batch.
 * Invariants: every request settles exactly once; a batch holds at most ITEMS_MAX requests and about
 * BYTES_MAX bytes of keys and values (larger requests are not coalesced); the turn's queue is flushed in
 * one setImmediate. A node without Pipeline (UNIMPLEMENTED) gets Multi calls, and a node without Multi
 * gets the requests one by one.
 */
import { CoalescedBatch, type AttemptOutcome, type BatchRoute, type CoalescerHost, type Item } from './coalesced-batch';
import { Pipeline } from './pipeline';

export type { AttemptOutcome, CoalescerHost, MultiStub } from './coalesced-batch';

/**
 * SDK method name -> MultiOp / MultiResult oneof field. OpenSession rides along too: the sessions a burst of
 * concurrent writes needs are opened in one message, so the writes themselves again share one message.
 */
const FIELD_OF: Readonly<Record<string, string>> = {
  Get: 'get',
  Put: 'put',
  Delete: 'delete',
  CompareAndSwap: 'compareAndSwap',
  OpenSession: 'openSession',
};

/** Requests per Multi call; and bytes of keys and values per call (and the largest request coalesced). */
const ITEMS_MAX = 512;
const BYTES_MAX = 1024 * 1024;
const ITEM_BYTES_MAX = 64 * 1024;

function sizeOf(request: unknown): number {
  const r = request as { key?: Buffer; value?: Buffer; expected?: Buffer };
  return 16 + (r.key?.length ?? 0) + (r.value?.length ?? 0) + (r.expected?.length ?? 0);
}

export class Coalescer {
  private queue: Item[] = [];
  private flushScheduled = false;
  /** False once the node answered UNIMPLEMENTED to Multi: every request goes on its own. */
  private supported = true;
  /** The long-lived request stream; null when the host has none or the node does not know Pipeline. */
  private pipeline: Pipeline | null;

  /** What each batch sends on, and how it falls back on a node without Pipeline or Multi. */
  private readonly route: BatchRoute;

  constructor(private readonly host: CoalescerHost) {
    this.pipeline = host.pipeline ? new Pipeline(host.pipeline, () => host.noteReply(Date.now())) : null;
    const self = this;
    this.route = {
      get pipeline(): Pipeline | null {
        return self.pipeline;
      },
      unimplemented(pipelined: boolean): void {
        if (pipelined) self.pipeline = null;
        else self.supported = false;
      },
    };
  }

  /** Whether this request may be coalesced; otherwise the caller sends it on its own. */
  accepts(method: string, request: unknown): boolean {
    return this.supported && FIELD_OF[method] !== undefined && sizeOf(request) <= ITEM_BYTES_MAX;
  }

  submit<T>(method: string, request: unknown, softMs: number, hardMs: number): Promise<AttemptOutcome<T>> {
    return new Promise<AttemptOutcome<T>>((resolve) => {
      this.queue.push({
        method,
        field: FIELD_OF[method] as string,
        request,
        bytes: sizeOf(request),
        softMs,
        hardAt: Date.now() + hardMs,
        settled: false,
        resolve: resolve as (out: AttemptOutcome<unknown>) => void,
      });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        // In the check phase: callers resumed by every reply read in this turn are all queued by then.
        setImmediate(this.flush);
      }
    });
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    const queue = this.queue;
    this.queue = [];
    let start = 0;
    while (start < queue.length) {
      let end = start;
      let bytes = 0;
      while (end < queue.length && end - start < ITEMS_MAX) {
        const b = (queue[end] as Item).bytes;
        if (end > start && bytes + b > BYTES_MAX) break;
        bytes += b;
        end++;
      }
      this.send(start === 0 && end === queue.length ? queue : queue.slice(start, end));
      start = end;
    }
  };

  private send(items: Item[]): void {
    new CoalescedBatch(this.host, items, this.route).start();
  }

  /**
   * A new auth token (client-auth.ts): later requests go on a new stream, whose metadata carries it; the
   * old stream still answers what it carries, then ends.
   */
  renew(): void {
    if (this.pipeline === null || !this.host.pipeline) return;
    this.pipeline.retire();
    this.pipeline = new Pipeline(this.host.pipeline, () => this.host.noteReply(Date.now()));
  }

  /** Ends the pipeline stream (Client.close). */
  close(): void {
    this.pipeline?.close();
    this.pipeline = null;
  }
}
