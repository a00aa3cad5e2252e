/**
 * stream-reset.ts against the real grpc-js (a server on 127.0.0.1, port 0) and a raw node:http2 client
 * that never reads: the HTTP/2 stream is found under a handler's call object and under an interceptor's
 * call (fails when a grpc-js upgrade changes the internals it walks), a reset reaches the non-reading
 * client at once (RST_STREAM ENHANCE_YOUR_CALM) and grpc-js reports the call cancelled, whereas a status
 * (what the node did before) stays queued behind the unread data.
 */
import * as http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { http2StreamOf, resetPastDeadline, resetStream } from '../../../src/server/stream-reset';
import { rawMethod } from './raw-methods';

const MIB = 1024 * 1024;
const service: grpc.ServiceDefinition = {
  Chat: rawMethod('/test.T/Chat', 'bidi'),
  One: rawMethod('/test.T/One'),
};

type Chat = grpc.ServerDuplexStream<Buffer, Buffer>;
const servers: grpc.Server[] = [];
const sessions: http2.ClientHttp2Session[] = [];

afterEach(() => {
  for (const s of servers.splice(0)) s.forceShutdown();
  for (const s of sessions.splice(0)) s.destroy();
});

async function serve(chat: (call: Chat) => void, interceptors: grpc.ServerInterceptor[] = []): Promise<number> {
  const server = new grpc.Server({ interceptors });
  servers.push(server);
  server.addService(service, {
    Chat: chat,
    One: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.alloc(8)),
  });
  return new Promise((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, port) =>
      e ? reject(e) : resolve(port),
    ),
  );
}

/** A raw HTTP/2 call that sends one message and never reads: resolves how its stream ended. */
function neverReading(port: number, path: string, headers: Record<string, string> = {}) {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  sessions.push(session);
  session.on('error', () => undefined);
  const stream = session.request({
    ':method': 'POST',
    ':path': path,
    'content-type': 'application/grpc',
    te: 'trailers',
    ...headers,
  });
  stream.on('error', () => undefined);
  stream.pause();
  const frame = Buffer.alloc(6);
  frame.writeUInt32BE(1, 1);
  stream.write(frame);
  return new Promise<{ status: string | null; rstCode: number | undefined }>((resolve) => {
    let status: string | null = null;
    stream.on('trailers', (h) => (status = String(h['grpc-status'])));
    stream.on('close', () => resolve({ status, rstCode: stream.rstCode }));
  });
}

/** Writes 1 MiB messages until grpc-js says its buffer is full, then calls `then`. */
function fill(call: Chat, then: () => void): void {
  call.once('data', () => {
    while (call.write(Buffer.alloc(MIB, 1)));
    setTimeout(then, 50);
  });
}

const within = <T>(p: Promise<T>, ms: number): Promise<T | 'timeout'> =>
  Promise.race([p, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), ms))]);

describe('stream-reset', () => {
  it('finds the HTTP/2 stream under a handler call and under an interceptor (grpc-js internals)', async () => {
    const found: string[] = [];
    const interceptor: grpc.ServerInterceptor = (_method, call) => {
      found.push(`interceptor ${http2StreamOf(call)?.constructor.name}`);
      return new grpc.ServerInterceptingCall(call);
    };
    const port = await serve(
      (call) => {
        found.push(`handler ${http2StreamOf(call)?.constructor.name}`);
        call.end();
      },
      [interceptor],
    );
    void neverReading(port, '/test.T/Chat');
    for (let i = 0; i < 100 && found.length < 2; i++) await new Promise((r) => setTimeout(r, 20));
    expect(found).toEqual(['interceptor ServerHttp2Stream', 'handler ServerHttp2Stream']);
  }, 10_000);

  it('a reset reaches a client that does not read at once; a status does not', async () => {
    let cancelled = false;
    const port = await serve((call) => {
      call.on('cancelled', () => (cancelled = true));
      fill(call, () => expect(resetStream(call)).toBe('reset'));
    });
    const end = await within(neverReading(port, '/test.T/Chat'), 3000);
    expect(end).toEqual({ status: null, rstCode: http2.constants.NGHTTP2_ENHANCE_YOUR_CALM });
    await new Promise((r) => setTimeout(r, 20));
    expect(cancelled).toBe(true);

    // What the node did before: a status, which waits behind the unread data for good.
    const port2 = await serve((call) =>
      fill(call, () => call.emit('error', { code: grpc.status.RESOURCE_EXHAUSTED, details: 'stalled' })),
    );
    expect(await within(neverReading(port2, '/test.T/Chat'), 1000)).toBe('timeout');
  }, 10_000);

  it('resets a stream still open past its deadline plus the grace, and says closed after', async () => {
    let outcome: string | null = null;
    let call: Chat | null = null;
    const port = await serve((c) => {
      call = c;
      fill(c, () => undefined);
      resetPastDeadline(c, (o) => (outcome = o), 100);
    });
    const t0 = Date.now();
    const end = await within(neverReading(port, '/test.T/Chat', { 'grpc-timeout': '300m' }), 3000);
    expect(end).toEqual({ status: null, rstCode: http2.constants.NGHTTP2_ENHANCE_YOUR_CALM });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(350);
    expect(outcome).toBe('reset');
    expect(resetStream(call)).toBe('closed');
  }, 10_000);

  it('falls back to destroy() when there is no stream to find', () => {
    let destroyed = false;
    expect(resetStream({ call: { nextCall: {} }, destroy: () => (destroyed = true) })).toBe('fallback');
    expect(destroyed).toBe(true);
    expect(resetStream(null)).toBe('fallback');
    // No deadline (or none grpc-js reports): no guard.
    expect(typeof resetPastDeadline({ getDeadline: () => Infinity }, () => undefined)).toBe('function');
  });
});
