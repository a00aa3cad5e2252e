/**
 * KV.Multi (server streaming): runs the requests of one call and streams their results as they complete;
 * results completing in one event-loop turn share one message. Ends the stream after the last result.
 *
 * Bounds: at most MULTI_OPS_MAX requests per call (INVALID_ARGUMENT beyond); at most MULTI_WINDOW_OPS of
 * them running, and more start only after a flush wrote the results of the previous ones; each admitted by the node's InflightBudget (RESOURCE_EXHAUSTED
 * result otherwise); no new request starts while the call's responses are not drained (response-queue.ts),
 * so a client that does not read holds at most the window's results; left undrained for the request
 * timeout, or open past its deadline plus DEADLINE_GRACE_MS, its stream is reset (stream-reset.ts).
 */
import * as grpc from '@grpc/grpc-js';
import { TesseraError } from '../base';
import type { NodeMetrics } from '../obs';
import { toGrpcStatus, toRequestError } from './errors';
import { overloadError, peerOf, type InflightBudget } from './memory-budget';
import { STALLED_STATUS, isRead } from './pipeline';
import { ResponseQueue, type ResultWire } from './response-queue';
import { resetPastDeadline, resetStream } from './stream-reset';
import { remainingMs } from './unary';

/** Most requests in one Multi call (the SDK sends far fewer). */
export const MULTI_OPS_MAX = 4096;
/** Requests of one Multi call started and not yet answered. */
export const MULTI_WINDOW_OPS = 1024;

const NODE_FULL = toRequestError(overloadError('bytes or requests in flight'));
const RESULT_REFUSED = toRequestError(overloadError('response bytes in flight'));

export type MultiCall<Op> = grpc.ServerWritableStream<{ ops: Op[] }, { results: ResultWire[] }>;

export interface MultiBounds {
  budget: InflightBudget;
  callQueuedBytesMax: number;
}

export function serveMulti<Op>(
  call: MultiCall<Op>,
  one: (op: Op, timeoutMs: number) => Promise<ResultWire>,
  metrics: NodeMetrics,
  requestTimeoutMs: number,
  bounds: MultiBounds,
): void {
  const t0 = performance.now();
  const ops = call.request.ops ?? [];
  const observe = (code: string) =>
    metrics.grpcLatencySeconds.observe({ method: 'KV.Multi', code }, (performance.now() - t0) / 1000);
  const fail = (e: TesseraError): void => {
    const st = toGrpcStatus(e);
    observe(grpc.status[st.code] ?? String(st.code));
    call.emit('error', { code: st.code, details: st.details, metadata: st.metadata });
  };
  if (ops.length > MULTI_OPS_MAX) {
    const msg = `Multi has ${ops.length} requests, over the limit of ${MULTI_OPS_MAX}`;
    fail(new TesseraError('INVALID_ARGUMENT', msg, { limit: 'multiOpsMax' }));
    return;
  }
  const timeoutMs = remainingMs(call.getDeadline(), requestTimeoutMs);
  if (timeoutMs <= 0) {
    fail(new TesseraError('DEADLINE_EXCEEDED', 'the request deadline passed before it was handled'));
    return;
  }
  const budget = bounds.budget;
  const connection = peerOf(call);
  let next = 0;
  let running = 0;
  let left = ops.length;
  let ended = false;
  const startMore = (): void => {
    while (next < ops.length && running < MULTI_WINDOW_OPS && !queue.isPaused && !ended) {
      const i = next++;
      const op = ops[i] as Op;
      const bytes = budget.opBytes(op, isRead(op as { op?: unknown; get?: unknown }));
      if (!budget.tryAcquireOp(bytes, connection)) {
        left--;
        queue.push({ index: i, error: NODE_FULL });
        continue;
      }
      running++;
      void one(op, timeoutMs).then((result) => {
        running--;
        left--;
        budget.releaseOp(bytes, connection);
        const got = result.get as { value?: Buffer } | undefined;
        if (got !== undefined) budget.noteRead(got.value?.length ?? 0);
        result.index = i;
        queue.push(result); // the next requests start after this turn's flush, unless it paused
      });
    }
  };
  const queue = new ResponseQueue(
    call,
    budget,
    bounds.callQueuedBytesMax,
    {
      pause: () => metrics.streamPauses.inc(),
      resume: startMore,
      stalled: () => reset('stalled-stream'),
      flushed: () => {
        if (left === 0 && !ended && !queue.flushPending) {
          ended = true;
          observe('OK');
          if (!call.cancelled) call.end();
        } else startMore();
      },
    },
    (index) => ({ index, error: RESULT_REFUSED }),
    requestTimeoutMs,
  );
  // A client that does not read would never see a status (it waits behind the unread data): reset.
  const reset = (reason: 'stalled-stream' | 'deadline-stream'): void => {
    if (ended) return;
    ended = true;
    metrics.overloadRefused.inc({ reason });
    if (resetStream(call) === 'fallback') call.emit('error', STALLED_STATUS(requestTimeoutMs));
    queue.close();
  };
  const unguard = resetPastDeadline(call, () => reset('deadline-stream'));
  const gone = (): void => {
    ended = true;
    queue.close();
  };
  call.on('cancelled', gone);
  call.on('error', () => (ended = true)); // written responses stay charged until the stream closes
  call.on('close', () => {
    unguard();
    queue.close();
  });
  if (ops.length === 0) queue.flush();
  else startMore();
}
