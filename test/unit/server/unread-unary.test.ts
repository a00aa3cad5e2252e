/**
 * Unary reads a client does not read (response-budget.ts), with the real grpc-js server and a raw
 * node:http2 client whose streams stay paused: a connection's unflushed responses and running reads stay
 * within connectionQueuedBytesMax (further reads are refused before the handler runs, other connections
 * are served), and a response not flushed within stallMs has its stream reset, which gives its bytes back.
 */
import * as http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { InflightBudget } from '../../../src/server/memory-budget';
import { responseBudgetInterceptor } from '../../../src/server/response-budget';
import { rawMethod } from './raw-methods';

const MIB = 1024 * 1024;
const service: grpc.ServiceDefinition = { Get: rawMethod('/tessera.v1.KV/Get') };

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** Sends `n` Gets on one connection and never reads: each stream's grpc-status (null: none) or its reset code. */
function unreadGets(port: number, n: number) {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  cleanups.push(() => session.destroy());
  session.on('error', () => undefined);
  const frame = Buffer.alloc(6);
  frame.writeUInt32BE(1, 1);
  return Array.from({ length: n }, () => {
    const s = session.request({ ':method': 'POST', ':path': '/tessera.v1.KV/Get', 'content-type': 'application/grpc' });
    s.on('error', () => undefined);
    s.pause();
    s.end(frame);
    let status: string | null = null;
    s.on('response', (h) => (status ??= h['grpc-status'] === undefined ? null : String(h['grpc-status'])));
    return new Promise<string>((resolve) =>
      s.on('close', () => resolve(status !== null ? `status ${status}` : `rst ${s.rstCode}`)),
    );
  });
}

describe('unary reads a client does not read', () => {
  it('bounds what one connection holds, serves other connections, and resets stalled streams', async () => {
    const budget = new InflightBudget(64 * MIB, 1000);
    for (let i = 0; i < 200; i++) budget.noteRead(MIB); // the estimate has learned 1 MiB results
    let served = 0;
    const server = new grpc.Server({
      interceptors: [
        responseBudgetInterceptor(budget, () => undefined, { connectionQueuedBytesMax: 4 * MIB, stallMs: 500 }),
      ],
    });
    cleanups.push(() => server.forceShutdown());
    server.addService(service, {
      Get: (_c: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        served++;
        setTimeout(() => cb(null, Buffer.alloc(MIB, 1)), 20);
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );

    const ends = await Promise.all(unreadGets(port, 40));
    const refused = ends.filter((e) => e === 'status 8').length;
    const reset = ends.filter((e) => e === `rst ${http2.constants.NGHTTP2_ENHANCE_YOUR_CALM}`).length;
    expect(served).toBeLessThanOrEqual(4); // 4 MiB of 1 MiB reads on this connection, at most
    expect(served).toBeGreaterThanOrEqual(1);
    expect(refused).toBe(40 - served);
    expect(reset).toBe(served); // unread for stallMs: reset
    expect(budget.bytesInUse).toBe(0);

    const other = await Promise.all(unreadGets(port, 1)); // another connection is served (then reset: unread)
    expect(other).toEqual([`rst ${http2.constants.NGHTTP2_ENHANCE_YOUR_CALM}`]);
  }, 20_000);
});
