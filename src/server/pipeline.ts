/**
 * KV.Pipeline (proto/kv.proto): one long-lived bidirectional stream per SDK client and node carrying the
 * single-key requests of Multi, each with an id and a time budget, answered as they complete. It spares
 * every batch of requests the cost of a new gRPC call (HTTP/2 stream, headers, trailers) on both sides.
 *
 * Invariants:
 * - every accepted request is answered exactly once (a result or its error), unless the client went away;
 * - at most OPS_IN_FLIGHT_MAX requests per stream run at once: the ones beyond get RESOURCE_EXHAUSTED at
 *   once (bounded memory, like the node's own queues);
 * - results completing in one event-loop turn share one message;
 * - the node ends every open stream when it stops (OpenPipelines.endAll), after writing the results it
 *   has; the client treats requests still unanswered then as failed with an unknown outcome.
 */
import * as grpc from '@grpc/grpc-js';
import { TesseraError } from '../base';
import type { NodeMetrics } from '../obs';
import { toRequestError } from './errors';

/** Requests of one stream running at once. */
export const PIPELINE_OPS_IN_FLIGHT_MAX = 8192;

export interface PipelineOpWire {
  id: number;
  timeoutMs: number;
  op?: string;
  [field: string]: unknown;
}

type ResultWire = Record<string, unknown>;
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

export function servePipeline(
  call: PipelineCall,
  one: RunOne,
  open: OpenPipelines,
  metrics: NodeMetrics,
  requestTimeoutMs: number,
  opsInFlightMax = PIPELINE_OPS_IN_FLIGHT_MAX,
): void {
  const okLatency = metrics.grpcLatencySeconds.labels({ method: 'KV.Pipeline', code: 'OK' });
  let inFlight = 0;
  let ready: ResultWire[] = [];
  let flushScheduled = false;
  let clientDone = false;
  let ended = false;

  const end = (): void => {
    if (ended) return;
    ended = true;
    open.remove(end);
    flush();
    if (!call.cancelled) call.end();
  };
  const flush = (): void => {
    flushScheduled = false;
    const results = ready;
    ready = [];
    if (results.length > 0 && !call.cancelled && call.writable) call.write({ results });
    if (clientDone && inFlight === 0 && !ended) end();
  };
  const push = (r: ResultWire): void => {
    ready.push(r);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush); // results completing in this turn share one message
    }
  };

  if (!open.add(end)) {
    call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'the node is shutting down; retry on another node' });
    return;
  }
  call.on('data', (req: { ops?: PipelineOpWire[] }) => {
    if (ended) return;
    for (const op of req.ops ?? []) {
      const id = op.id;
      if (inFlight >= opsInFlightMax) {
        push({
          index: id,
          error: toRequestError(
            new TesseraError(
              'RESOURCE_EXHAUSTED',
              `too many requests in flight on this stream (${opsInFlightMax}); retry later`,
            ),
          ),
        });
        continue;
      }
      inFlight++;
      const t0 = performance.now();
      const timeoutMs = op.timeoutMs > 0 ? Math.min(op.timeoutMs, requestTimeoutMs) : requestTimeoutMs;
      void one(op, timeoutMs).then((result) => {
        inFlight--;
        if (result.error === undefined) okLatency.observe((performance.now() - t0) / 1000);
        else {
          const code = (result.error as { code: number }).code;
          metrics.grpcLatencySeconds.observe(
            { method: 'KV.Pipeline', code: grpc.status[code] ?? String(code) },
            (performance.now() - t0) / 1000,
          );
        }
        result.index = id;
        if (!ended) push(result);
      });
    }
  });
  call.on('end', () => {
    clientDone = true;
    if (inFlight === 0 && !flushScheduled) end();
  });
  const gone = (): void => {
    ended = true;
    open.remove(end);
  };
  call.on('cancelled', gone);
  call.on('error', gone);
}
