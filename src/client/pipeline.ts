/**
 * The SDK side of KV.Pipeline (proto/kv.proto): one long-lived bidirectional stream to a node, opened on
 * the first request and ended once nothing is in flight and nothing was sent for IDLE_MS (so a process
 * that forgot Client.close() still exits, and an idle client holds no stream); one timer per stream
 * checks that, not one per request. Each batch of requests is written as
 * one PipelineRequest; results are routed back to their batch by request id.
 *
 * Invariants:
 * - every request written is either answered (sink.result) or failed (sink.fail) exactly once, unless its
 *   batch abandoned it first (the cancel function send() returns);
 * - ids are unique among the requests in flight on the stream (a wrapping counter; a stream never holds
 *   anywhere near 2^32 requests);
 * - when the stream breaks (connection lost, node stopped, or it ended with requests unanswered), every
 *   request in flight on it fails with that error, and the next batch opens a new stream.
 */
import * as grpc from '@grpc/grpc-js';

/** How long a stream with nothing in flight stays open. */
export const PIPELINE_IDLE_MS = 1000;
const ID_LIMIT = 0x1_0000_0000;

export interface PipelineResultWire extends Record<string, unknown> {
  index: number;
}

/** The receiver of one batch's results. */
export interface PipelineSink {
  result(slot: number, r: PipelineResultWire): void;
  /** The stream failed: every request of the batch still unanswered failed with `err`. */
  fail(err: grpc.ServiceError): void;
}

export type PipelineStub = () => grpc.ClientDuplexStream<
  { ops: Record<string, unknown>[] },
  { results: PipelineResultWire[] }
>;

interface InFlight {
  sink: PipelineSink;
  slot: number;
}

export class Pipeline {
  private call: ReturnType<PipelineStub> | null = null;
  private readonly inFlight = new Map<number, InFlight>();
  private nextId = 1;
  /** One timer per open stream (not one per request): it ends the stream once it has been idle long enough. */
  private idleTimer: NodeJS.Timeout | null = null;
  private lastSendMs = 0;
  private closed = false;

  /** `onReply` runs for every message from the node (a sign of life). */
  constructor(
    private readonly open: PipelineStub,
    private readonly onReply: () => void,
  ) {}

  /**
   * Writes the requests (`ops[i]` is a PipelineOp without its id) on the stream; results go to `sink` by
   * their position. Returns a function that abandons the requests still unanswered (their results, if
   * they come, are ignored).
   */
  send(ops: Record<string, unknown>[], sink: PipelineSink): () => void {
    const call = this.stream();
    const ids: number[] = new Array(ops.length);
    for (let i = 0; i < ops.length; i++) {
      const id = this.nextId;
      this.nextId = id + 1 >= ID_LIMIT ? 1 : id + 1;
      ids[i] = id;
      (ops[i] as { id: number }).id = id;
      this.inFlight.set(id, { sink, slot: i });
    }
    this.lastSendMs = Date.now();
    call.write({ ops });
    return () => {
      for (const id of ids) {
        const f = this.inFlight.get(id);
        if (f !== undefined && f.sink === sink) this.inFlight.delete(id);
      }
    };
  }

  /** Number of requests in flight (tests). */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  /**
   * Takes no new requests and half-closes the stream: the node answers what is in flight, then ends it
   * (a new auth token needs a new stream; coalescer.ts opens it).
   */
  retire(): void {
    this.closed = true;
    this.clearIdle();
    this.call?.end();
  }

  /** Cancels the stream; the requests in flight on it fail with CANCELLED (their outcome is unknown). */
  close(): void {
    this.closed = true;
    this.clearIdle();
    const call = this.call;
    if (call === null) return;
    this.broken(call, failure(grpc.status.CANCELLED, 'the client was closed'));
    call.cancel();
  }

  private stream(): ReturnType<PipelineStub> {
    if (this.call !== null) return this.call;
    const call = this.open();
    this.call = call;
    call.on('data', (msg: { results: PipelineResultWire[] }) => {
      if (this.call !== call) return;
      this.onReply();
      for (const r of msg.results) {
        const f = this.inFlight.get(r.index);
        if (f === undefined) continue;
        this.inFlight.delete(r.index);
        f.sink.result(f.slot, r);
      }
    });
    call.on('error', (err: grpc.ServiceError) => this.broken(call, err));
    call.on('status', (st: grpc.StatusObject) => {
      if (st.code !== grpc.status.OK) return; // 'error' reports it
      // The node ended the stream (it is stopping): whatever it did not answer has an unknown outcome.
      setImmediate(() =>
        this.broken(call, failure(grpc.status.UNAVAILABLE, 'the node ended the request stream (it is stopping)')),
      );
    });
    this.armIdle(PIPELINE_IDLE_MS);
    return call;
  }

  private broken(call: ReturnType<PipelineStub>, err: grpc.ServiceError): void {
    if (this.call !== call) return;
    this.call = null;
    this.clearIdle();
    const failed = [...this.inFlight.values()];
    this.inFlight.clear();
    const sinks = new Set<PipelineSink>();
    for (const f of failed) sinks.add(f.sink);
    for (const sink of sinks) sink.fail(err);
  }

  private armIdle(afterMs: number): void {
    this.clearIdle();
    this.idleTimer = setTimeout(this.endIfIdle, afterMs);
    this.idleTimer.unref?.();
  }

  private clearIdle(): void {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  private readonly endIfIdle = (): void => {
    this.idleTimer = null;
    const call = this.call;
    if (call === null || this.closed) return;
    const idleMs = Date.now() - this.lastSendMs;
    if (this.inFlight.size > 0 || idleMs < PIPELINE_IDLE_MS) {
      this.armIdle(this.inFlight.size > 0 ? PIPELINE_IDLE_MS : PIPELINE_IDLE_MS - idleMs);
      return;
    }
    this.call = null;
    call.cancel(); // nothing in flight: no answer is lost; the status is ignored (this.call !== call)
  };
}

function failure(code: grpc.status, message: string): grpc.ServiceError {
  const err = new Error(`${code} ${grpc.status[code]}: ${message}`) as grpc.ServiceError;
  err.code = code;
  err.details = message;
  err.metadata = new grpc.Metadata();
  return err;
}
