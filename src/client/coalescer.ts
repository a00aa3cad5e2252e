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
import * as grpc from '@grpc/grpc-js';
import { attemptTimeout, classifyGrpcError } from './errors';
import type { AttemptFailure } from './errors';
import { Pipeline, type PipelineStub } from './pipeline';

export type AttemptOutcome<T> = { ok: true; value: T } | { ok: false; failure: AttemptFailure };

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
/** Largest PipelineOp.timeout_ms (uint32). */
const TIMEOUT_MS_MAX = 0xffff_ffff;

/** The server-streaming KV.Multi method of a grpc-js client. */
export type MultiStub = (
  request: { ops: Record<string, unknown>[] },
  options: grpc.CallOptions,
) => grpc.ClientReadableStream<MultiResponseWire>;

interface MultiResponseWire {
  results: Array<Record<string, unknown> & { index: number }>;
}

interface Item {
  method: string;
  field: string;
  request: unknown;
  bytes: number;
  softMs: number;
  hardAt: number;
  settled: boolean;
  resolve: (out: AttemptOutcome<unknown>) => void;
}

export interface CoalescerHost {
  readonly address: string;
  /** When the node last answered anything (Endpoint.lastReplyMs). */
  lastReplyMs(): number;
  noteReply(nowMs: number): void;
  /** The Multi stub of the endpoint's KV client. */
  multi: MultiStub;
  /** Opens a KV.Pipeline stream; without it every batch is a Multi call. */
  pipeline?: PipelineStub;
  /** Sends one request on its own (fallback for a node without Multi). */
  single(method: string, request: unknown, softMs: number, hardMs: number): Promise<AttemptOutcome<unknown>>;
  /** Test-only: discard a successful reply as if lost (ClientOptions.faultInjection.dropReply). */
  dropReply?: (info: { method: string; endpoint: string }) => boolean;
}

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

  constructor(private readonly host: CoalescerHost) {
    this.pipeline = host.pipeline ? new Pipeline(host.pipeline, () => host.noteReply(Date.now())) : null;
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
    const host = this.host;
    const now = Date.now();
    const pipelined = this.pipeline !== null;
    // A Multi call runs until the latest deadline of its requests; on the pipeline every request has its own.
    let deadline = pipelined ? Number.POSITIVE_INFINITY : 0;
    let softMs = Number.POSITIVE_INFINITY;
    const ops: Record<string, unknown>[] = new Array(items.length);
    for (let i = 0; i < items.length; i++) {
      const it = items[i] as Item;
      if (!pipelined && it.hardAt > deadline) deadline = it.hardAt;
      // The soft timeout applies to an attempt whose budget is longer than it (Endpoint.unary).
      if (it.softMs < it.hardAt - now && it.softMs < softMs) softMs = it.softMs;
      ops[i] = pipelined
        ? { timeoutMs: Math.min(TIMEOUT_MS_MAX, Math.max(1, it.hardAt - now)), [it.field]: it.request }
        : { [it.field]: it.request };
    }
    let pending = items.length;
    let done = false;
    let timer: NodeJS.Timeout | null = null;
    let windowStartMs = now;
    const settle = (it: Item, out: AttemptOutcome<unknown>): void => {
      if (it.settled) return;
      it.settled = true;
      it.resolve(out);
      if (--pending === 0) finish();
    };
    const finish = (): void => {
      done = true;
      if (timer !== null) clearTimeout(timer);
      timer = null;
      if (pipelined) abandon(); // requests that timed out here: ignore their late answers
    };
    const onResult = (it: Item | undefined, r: Record<string, unknown>): void => {
      if (it === undefined || it.settled) return;
      const e = r.error as { code: number; message: string; trailers: Record<string, string> } | undefined | null;
      if (e) {
        settle(it, {
          ok: false,
          failure: classifyGrpcError(fakeServiceError(e.code, e.message, e.trailers ?? {}), it.method, host.address),
        });
      } else if (host.dropReply !== undefined && host.dropReply({ method: it.method, endpoint: host.address })) {
        settle(it, {
          ok: false,
          failure: attemptTimeout(it.method, host.address, it.softMs, 'reply dropped by faultInjection'),
        });
      } else {
        settle(it, { ok: true, value: r[it.field] });
      }
    };
    const onError = (err: grpc.ServiceError): void => {
      if (done) return;
      const t = Date.now();
      if (err.code === grpc.status.UNIMPLEMENTED && !hasTesseraTrailer(err.metadata)) {
        // An older node: Multi (or each request on its own) from now on; these go on their own, with what
        // is left of their budgets.
        if (pipelined) this.pipeline = null;
        else this.supported = false;
        for (const it of items) {
          if (it.settled) continue;
          void host.single(it.method, it.request, it.softMs, Math.max(1, it.hardAt - t)).then((out) => settle(it, out));
        }
        return;
      }
      for (const it of items) {
        const failure = classifyGrpcError(err, it.method, host.address);
        if (failure.kind === 'server') host.noteReply(t);
        settle(it, { ok: false, failure });
      }
    };

    let abandon: () => void;
    if (this.pipeline !== null) {
      abandon = this.pipeline.send(ops, { result: (slot, r) => onResult(items[slot], r), fail: onError });
    } else {
      const call = host.multi({ ops }, { deadline });
      abandon = () => call.cancel();
      call.on('data', (msg: MultiResponseWire) => {
        if (done) return;
        host.noteReply(Date.now());
        for (const r of msg.results) onResult(items[r.index], r);
      });
      call.on('error', onError);
      call.on('status', (st: grpc.StatusObject) => {
        if (done || st.code !== grpc.status.OK) return;
        // Every result was delivered before the status (grpc-js pushes messages first); a request still
        // unanswered after the data already read means a broken server.
        setImmediate(failMissing);
      });
    }
    const failMissing = (): void => {
      if (done) return;
      for (const it of items) {
        const missing = fakeServiceError(grpc.status.INTERNAL, 'the node ended Multi without answering this request', {
          'tessera-reason': 'INTERNAL',
        });
        settle(it, { ok: false, failure: classifyGrpcError(missing, it.method, host.address) });
      }
    };

    // One timer for the batch: wakes at the next soft check or at the earliest per-request deadline that
    // comes before the call's own deadline (grpc-js ends a Multi call at `deadline`).
    const expireEarly = (t: number): void => {
      for (const it of items) {
        if (!it.settled && it.hardAt <= t && it.hardAt < deadline) {
          const err = fakeServiceError(grpc.status.DEADLINE_EXCEEDED, 'Deadline exceeded', null);
          settle(it, { ok: false, failure: classifyGrpcError(err, it.method, host.address) });
        }
      }
    };
    const arm = (): void => {
      if (done) return;
      let wakeAt = Number.isFinite(softMs) ? windowStartMs + softMs : Number.POSITIVE_INFINITY;
      for (const it of items) if (!it.settled && it.hardAt < deadline && it.hardAt < wakeAt) wakeAt = it.hardAt;
      if (!Number.isFinite(wakeAt)) return;
      timer = setTimeout(check, Math.max(0, wakeAt - Date.now()));
    };
    // Decide in the check phase (setImmediate), after the event loop polled I/O: replies that arrived while
    // this process was busy count as signs of life before a timer can call the node dead (Endpoint.unary).
    const decide = (): void => {
      if (done) return;
      const t = Date.now();
      expireEarly(t);
      if (done) return;
      if (Number.isFinite(softMs) && t - windowStartMs >= softMs) {
        const stalled = t - windowStartMs > 2 * softMs;
        if (host.lastReplyMs() > windowStartMs || stalled) {
          windowStartMs = t;
        } else {
          finish();
          abandon();
          for (const it of items) {
            if (it.settled) continue;
            it.settled = true;
            it.resolve({
              ok: false,
              failure: attemptTimeout(it.method, host.address, it.softMs, 'no sign of life from the node'),
            });
          }
          return;
        }
      }
      arm();
    };
    const check = (): void => {
      timer = null;
      if (!done) setImmediate(decide);
    };
    arm();
  }

  /** Ends the pipeline stream (Client.close). */
  close(): void {
    this.pipeline?.close();
    this.pipeline = null;
  }
}

function hasTesseraTrailer(md: grpc.Metadata | undefined): boolean {
  if (!md) return false;
  for (const key of Object.keys(md.getMap())) if (key.startsWith('tessera-')) return true;
  return false;
}

/** A per-request error in the shape grpc-js gives a failed unary call, for classifyGrpcError. */
function fakeServiceError(code: number, message: string, trailers: Record<string, string> | null): grpc.ServiceError {
  const metadata = new grpc.Metadata();
  if (trailers) for (const [k, v] of Object.entries(trailers)) metadata.set(k, v);
  const err = new Error(`${code} ${grpc.status[code] ?? ''}: ${message}`) as grpc.ServiceError;
  err.code = code;
  err.details = message;
  err.metadata = metadata;
  return err;
}
