/**
 * Wraps a promise-returning handler as a grpc-js unary handler: computes the time budget from the
 * client's deadline (capped by requestTimeoutMs), maps thrown errors to statuses with trailers
 * (errors.ts), and records the request latency by method and status code.
 */
import * as grpc from '@grpc/grpc-js';
import { TesseraError } from '../base';
import type { NodeMetrics } from '../obs';
import { toGrpcStatus } from './errors';
import { peerOf } from './memory-budget';

/** A unary handler: the request, its time budget, and the client connection (grpc-js peer) it came on. */
export type UnaryFn<Req, Res> = (request: Req, timeoutMs: number, connection: string | null) => Promise<Res>;

const codeNames = new Map<number, string>(
  Object.entries(grpc.status)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => [v as number, k]),
);

export function remainingMs(deadline: grpc.Deadline, capMs: number): number {
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  if (!Number.isFinite(at)) return capMs;
  return Math.min(capMs, at - Date.now());
}

export function unary<Req, Res>(
  method: string,
  metrics: NodeMetrics,
  requestTimeoutMs: number,
  fn: UnaryFn<Req, Res>,
): grpc.handleUnaryCall<Req, Res> {
  const okLatency = metrics.grpcLatencySeconds.labels({ method, code: 'OK' });
  return (call, callback) => {
    const t0 = performance.now();
    const done = (code: grpc.status) => {
      const seconds = (performance.now() - t0) / 1000;
      if (code === grpc.status.OK) okLatency.observe(seconds);
      else metrics.grpcLatencySeconds.observe({ method, code: codeNames.get(code) ?? String(code) }, seconds);
    };
    let run: Promise<Res>;
    try {
      const timeoutMs = remainingMs(call.getDeadline(), requestTimeoutMs);
      if (timeoutMs <= 0)
        throw new TesseraError('DEADLINE_EXCEEDED', 'the request deadline passed before it was handled');
      run = fn(call.request, timeoutMs, peerOf(call));
    } catch (e) {
      run = Promise.reject(e);
    }
    run.then(
      (res) => {
        done(grpc.status.OK);
        callback(null, res);
      },
      (e: unknown) => {
        const s = toGrpcStatus(e);
        done(s.code);
        callback({ code: s.code, details: s.details, metadata: s.metadata });
      },
    );
  };
}
