/**
 * KV.Pipeline (proto/kv.proto): one long-lived bidirectional stream per SDK client and node carrying the
 * single-key requests of Multi, each with an id and a time budget, answered as they complete. It spares
 * every batch of requests the cost of a new gRPC call (HTTP/2 stream, headers, trailers) on both sides.
 *
 * Invariants:
 * - every accepted request is answered exactly once (a result or its error), unless the client went away;
 * - at most OPS_IN_FLIGHT_MAX requests per stream run at once, and every request is admitted by the node's
 *   InflightBudget (its bytes and one op, memory-budget.ts): the ones beyond get RESOURCE_EXHAUSTED at
 *   once, with a shared prebuilt error (refusing costs no allocation beyond the result);
 * - flow control (response-queue.ts): while the stream's responses are not drained (grpc-js write()
 *   returns false, or more than callQueuedBytesMax bytes unflushed) the stream is not read (call.pause());
 *   HTTP/2 flow control then stops the client. A client that never reads its responses holds at most
 *   callQueuedBytesMax plus its in-flight ops' results;
 *   a stream left undrained for stallMs (the request timeout), or open past its deadline (grpc-timeout)
 *   plus DEADLINE_GRACE_MS, is reset (HTTP/2 RST_STREAM ENHANCE_YOUR_CALM, stream-reset.ts: a status would
 *   wait behind the unread data), which releases everything it held;
 * - results completing in one event-loop turn share one message;
 * - the node ends every open stream when it stops (OpenPipelines.endAll), after writing the results it
 *   has; the client treats requests still unanswered then as failed with an unknown outcome.
 */
import * as grpc from '@grpc/grpc-js';
import { TesseraError } from '../base';
import type { NodeMetrics } from '../obs';
import { toRequestError } from './errors';
import { InflightBudget, overloadError, peerOf } from './memory-budget';
import { CALL_HELD_FACTOR, ResponseQueue, type ResultWire } from './response-queue';
import { resetPastDeadline, resetStream } from './stream-reset';

/** Requests of one stream running at once. */
export const PIPELINE_OPS_IN_FLIGHT_MAX = 1024;

export interface PipelineOpWire {
  id: number;
  timeoutMs: number;
  op?: string;
  [field: string]: unknown;
}

type PipelineCall = grpc.ServerDuplexStream<{ ops: PipelineOpWire[] }, { results: ResultWire[] }>;
/** Runs one request; resolves (never rejects) to its result or its error, as in Multi. */
export type RunOne = (op: PipelineOpWire, timeoutMs: number) => Promise<ResultWire>;

/** The node's open pipelines, so that stopping the node can end them. */
export class OpenPipelines {
  private readonly ends = new Set<() => void>();
  private closed = false;

  add(end: () => void): boolean {
    if (this.closed) return false;
    this.ends.add(end);
    return true;
  }

  remove(end: () => void): void {
    this.ends.delete(end);
  }

  /** Ends every open stream (after writing the results ready now) and refuses new ones. */
  endAll(): void {
    this.closed = true;
    for (const end of [...this.ends]) end();
    this.ends.clear();
  }
}

export interface PipelineBounds {
  /** The node's budget (default: a budget of this stream's own that never refuses). */
  budget?: InflightBudget;
  /** Unflushed response bytes past which the stream is not read (default 8 MiB). */
  callQueuedBytesMax?: number;
  opsInFlightMax?: number;
  /** A stream left undrained this long ends with RESOURCE_EXHAUSTED (default: the request timeout). */
  stallMs?: number;
}

/** The status of a stream ended because its client did not read its responses. */
export const STALLED_STATUS = (stallMs: number) => ({
  code: grpc.status.RESOURCE_EXHAUSTED,
  details: `the client did not read this stream's responses for ${stallMs} ms; the stream is closed`,
});

const CALL_QUEUED_BYTES_MAX_DEFAULT = 8 * 1024 * 1024;

/** Prebuilt refusals (built once: a refused request costs one small object). */
const STREAM_FULL = (max: number) =>
  toRequestError(
    new TesseraError('RESOURCE_EXHAUSTED', `too many requests in flight on this stream (${max}); retry later`),
  );
const NODE_FULL = toRequestError(overloadError('bytes or requests in flight'));
const RESULT_REFUSED = toRequestError(overloadError('response bytes in flight'));

/** A get (the only read a pipeline carries). */
export function isRead(op: { op?: unknown; get?: unknown }): boolean {
  return op.op === 'get' || (op.op === undefined && op.get != null);
}

export function servePipeline(
  call: PipelineCall,
  one: RunOne,
  open: OpenPipelines,
  metrics: NodeMetrics,
  requestTimeoutMs: number,
  boundsOrOpsMax: PipelineBounds | number = {},
): void {
  const bounds = typeof boundsOrOpsMax === 'number' ? { opsInFlightMax: boundsOrOpsMax } : boundsOrOpsMax;
  new PipelineStream(call, one, open, metrics, requestTimeoutMs, bounds).start();
}

/**
 * One KV.Pipeline stream: admits each op (per-stream and node budgets), runs it, queues its result in the
 * stream's ResponseQueue, and ends the stream once the client ended and every result was flushed.
 */
class PipelineStream {
  private readonly okLatency: ReturnType<NodeMetrics['grpcLatencySeconds']['labels']>;
  private readonly messagesIn: ReturnType<NodeMetrics['pipelineMessages']['labels']>;
  private readonly messagesOut: ReturnType<NodeMetrics['pipelineMessages']['labels']>;
  private readonly opsInFlightMax: number;
  private readonly budget: InflightBudget;
  private readonly streamFull: ReturnType<typeof toRequestError>;
  private readonly stallMs: number;
  /** Admission bytes of this stream's running ops; with its queued results at most callHeldBytesMax. */
  private inFlightBytes = 0;
  private readonly callHeldBytesMax: number;
  private inFlight = 0;
  private clientDone = false;
  private ended = false;
  private readonly queue: ResponseQueue;
  /** The client connection (grpc-js peer), for the node budget's per-connection fairness. */
  private readonly connection: string | null;

  constructor(
    private readonly call: PipelineCall,
    private readonly one: RunOne,
    private readonly open: OpenPipelines,
    private readonly metrics: NodeMetrics,
    private readonly requestTimeoutMs: number,
    bounds: PipelineBounds,
  ) {
    this.okLatency = metrics.grpcLatencySeconds.labels({ method: 'KV.Pipeline', code: 'OK' });
    this.messagesIn = metrics.pipelineMessages.labels({ direction: 'in' });
    this.messagesOut = metrics.pipelineMessages.labels({ direction: 'out' });
    this.connection = peerOf(call);
    this.opsInFlightMax = bounds.opsInFlightMax ?? PIPELINE_OPS_IN_FLIGHT_MAX;
    this.budget = bounds.budget ?? new InflightBudget(Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    this.streamFull = STREAM_FULL(this.opsInFlightMax);
    this.stallMs = bounds.stallMs ?? requestTimeoutMs;
    const callQueuedBytesMax = bounds.callQueuedBytesMax ?? CALL_QUEUED_BYTES_MAX_DEFAULT;
    this.callHeldBytesMax = CALL_HELD_FACTOR * callQueuedBytesMax;
    this.queue = new ResponseQueue(
      call,
      this.budget,
      callQueuedBytesMax,
      {
        pause: () => {
          metrics.streamPauses.inc();
          call.pause();
        },
        resume: () => {
          if (!this.ended) call.resume();
        },
        flushed: () => {
          if (this.clientDone && this.inFlight === 0 && !this.ended) this.end();
        },
        stalled: () => this.reset('stalled'),
        wrote: () => this.messagesOut.inc(),
      },
      (index) => ({ index, error: RESULT_REFUSED }),
      this.stallMs,
    );
  }

  start(): void {
    const call = this.call;
    if (!this.open.add(this.end)) {
      call.emit('error', {
        code: grpc.status.UNAVAILABLE,
        details: 'the node is shutting down; retry on another node',
      });
      return;
    }
    call.on('data', (req: { ops?: PipelineOpWire[] }) => {
      if (this.ended) return;
      const ops = req.ops ?? [];
      this.messagesIn.inc();
      this.metrics.pipelineOps.inc(ops.length);
      for (const op of ops) this.admit(op);
    });
    call.on('end', () => {
      this.clientDone = true;
      if (this.inFlight === 0 && !this.queue.flushPending) this.end();
    });
    call.on('cancelled', () => {
      this.ended = true;
      this.open.remove(this.end);
      this.queue.close();
    });
    // An error (ours: a stalled stream) ends the call but its written responses stay in memory, charged,
    // until the stream closes ('cancelled' or 'close').
    call.on('error', () => {
      this.ended = true;
      this.open.remove(this.end);
    });
    const unguard = resetPastDeadline(call, () => this.reset('deadline'));
    call.on('close', () => {
      unguard();
      this.queue.close();
    });
  }

  /**
   * Ends a stream whose client does not read its responses (stalled, or past its deadline): an HTTP/2
   * reset (stream-reset.ts), since a status would wait behind the unread data. grpc-js then reports the
   * call cancelled, which releases its queue.
   */
  private reset(why: 'stalled' | 'deadline'): void {
    this.ended = true;
    this.open.remove(this.end);
    this.metrics.overloadRefused.inc({ reason: why === 'stalled' ? 'stalled-stream' : 'deadline-stream' });
    if (resetStream(this.call) === 'fallback') this.call.emit('error', STALLED_STATUS(this.stallMs));
    this.queue.close();
  }

  private readonly end = (): void => {
    if (this.ended) return;
    this.ended = true;
    this.open.remove(this.end);
    this.queue.flush();
    if (!this.call.cancelled) this.call.end();
  };

  /** Runs `op` if this stream and the node have room for it; else its refusal is queued at once. */
  private admit(op: PipelineOpWire): void {
    const id = op.id;
    if (this.inFlight >= this.opsInFlightMax) {
      this.queue.push({ index: id, error: this.streamFull });
      return;
    }
    const budget = this.budget;
    const bytes = budget.opBytes(op, isRead(op));
    if (
      this.inFlightBytes + this.queue.heldBytes + bytes > this.callHeldBytesMax ||
      !budget.tryAcquireOp(bytes, this.connection)
    ) {
      this.queue.push({ index: id, error: NODE_FULL });
      return;
    }
    this.inFlight++;
    this.inFlightBytes += bytes;
    const t0 = performance.now();
    const limitMs = this.requestTimeoutMs;
    const timeoutMs = op.timeoutMs > 0 ? Math.min(op.timeoutMs, limitMs) : limitMs;
    void this.one(op, timeoutMs).then((result) => this.finish(id, bytes, t0, result));
  }

  private finish(id: number, bytes: number, t0: number, result: ResultWire): void {
    this.inFlight--;
    this.inFlightBytes -= bytes;
    this.budget.releaseOp(bytes, this.connection);
    const got = result.get as { value?: Buffer } | undefined;
    if (got !== undefined) this.budget.noteRead(got.value?.length ?? 0);
    if (result.error === undefined) this.okLatency.observe((performance.now() - t0) / 1000);
    else {
      const code = (result.error as { code: number }).code;
      this.metrics.grpcLatencySeconds.observe(
        { method: 'KV.Pipeline', code: grpc.status[code] ?? String(code) },
        (performance.now() - t0) / 1000,
      );
    }
    result.index = id;
    if (!this.ended) this.queue.push(result);
  }
}
