/**
 * Resetting the HTTP/2 stream of a grpc-js server call (RST_STREAM), which grpc-js 1.14 has no public API
 * for. A call whose client stopped reading cannot be ended with a status: grpc-js queues the trailers
 * behind the unread DATA frames, which flow control holds back, so the client never sees the end and the
 * node keeps the stream and its buffered responses. A reset is a control frame, sent at once: the client's
 * call fails at once (ENHANCE_YOUR_CALM: grpc clients report RESOURCE_EXHAUSTED), grpc-js reports the call
 * cancelled (its owners release what it held) and Node drops the stream's unsent data.
 *
 * How: the server call object (ServerUnaryCallImpl, ServerDuplexStreamImpl, ... or an interceptor) holds
 * its intercepting call in `call`; interceptors chain through `nextCall` down to grpc-js's
 * BaseServerInterceptingCall, whose `stream` is the node:http2 ServerHttp2Stream. Every shape is checked at
 * run time: when grpc-js changes it, resetStream falls back to destroying the call object (test/unit/server/
 * stream-reset.test.ts fails then, so an upgrade is caught) and reports 'fallback'.
 */
import * as http2 from 'node:http2';

/** What resetStream did: reset the HTTP/2 stream, found it already closed, or fell back. */
export type ResetOutcome = 'reset' | 'closed' | 'fallback';

/** The part of node:http2's stream we use. */
interface ResettableStream {
  close(code?: number): void;
  readonly closed: boolean;
  readonly destroyed: boolean;
}

function isResettable(s: unknown): s is ResettableStream {
  return (
    typeof s === 'object' &&
    s !== null &&
    typeof (s as ResettableStream).close === 'function' &&
    typeof (s as ResettableStream).closed === 'boolean' &&
    typeof (s as ResettableStream).destroyed === 'boolean'
  );
}

/** Links followed at most from a call object to grpc-js's base call (interceptors are few). */
const CHAIN_MAX = 16;

/** The HTTP/2 stream under a grpc-js server call (a handler's call object or an interceptor), or null. */
export function http2StreamOf(call: unknown): ResettableStream | null {
  let c: unknown = call;
  for (let i = 0; i < CHAIN_MAX && typeof c === 'object' && c !== null; i++) {
    const o = c as { stream?: unknown; call?: unknown; nextCall?: unknown };
    if (isResettable(o.stream)) return o.stream;
    c = o.nextCall ?? o.call;
  }
  return null;
}

/**
 * Resets the call's HTTP/2 stream with `code` (default ENHANCE_YOUR_CALM). Without a reachable stream:
 * destroys the call object if it has destroy() (a handler's stream), else nothing can be done here.
 */
export function resetStream(call: unknown, code: number = http2.constants.NGHTTP2_ENHANCE_YOUR_CALM): ResetOutcome {
  const stream = http2StreamOf(call);
  if (stream !== null) {
    if (stream.closed || stream.destroyed) return 'closed';
    stream.close(code);
    return 'reset';
  }
  const d = call as { destroy?: unknown } | null;
  if (typeof d?.destroy === 'function') (d.destroy as () => void).call(d);
  return 'fallback';
}

/** The longest delay setTimeout takes (a longer one fires at once). */
const TIMER_MS_MAX = 2 ** 31 - 1;

/** How long after its deadline a call's stream may stay open before it is reset. */
export const DEADLINE_GRACE_MS = 1000;

/** The call's deadline in ms since the epoch (Infinity: none, or grpc-js does not say). */
function deadlineOf(call: { getDeadline?(): unknown }): number {
  try {
    const d = call.getDeadline?.();
    return d instanceof Date ? d.getTime() : typeof d === 'number' ? d : Infinity;
  } catch {
    return Infinity;
  }
}

/**
 * At the call's deadline (grpc-timeout) plus graceMs, resets its stream if it is still open: grpc-js
 * sends DEADLINE_EXCEEDED at the deadline, but as trailers behind unread data a client that does not read
 * never gets them. Calls `onReset` when it reset. Returns the cancel of the guard (call it when the call
 * is over). No deadline: nothing to guard.
 */
export function resetPastDeadline(
  call: { getDeadline?(): unknown },
  onReset: (outcome: ResetOutcome) => void,
  graceMs = DEADLINE_GRACE_MS,
): () => void {
  const deadlineMs = deadlineOf(call);
  const delayMs = Math.max(0, deadlineMs - Date.now()) + graceMs;
  if (!(delayMs <= TIMER_MS_MAX)) return () => undefined; // none, or too far ahead for a timer
  const timer = setTimeout(() => {
    const outcome = resetStream(call);
    if (outcome !== 'closed') onReset(outcome);
  }, delayMs);
  timer.unref();
  return () => clearTimeout(timer);
}
