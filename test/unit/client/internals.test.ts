import { describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { backoffDelayMs } from '../../../src/client/backoff';
import { toBuffer, toBufferOrNull } from '../../../src/client/bytes';
import { classifyGrpcError } from '../../../src/client/errors';
import { findProtoDir } from '../../../src/client/proto';
import { Router, type HintResolution } from '../../../src/client/router';
import { SessionPool } from '../../../src/client/sessions';
import type { Endpoint } from '../../../src/client/endpoint';

function serviceError(code: grpc.status, details: string, trailers: Record<string, string> = {}): grpc.ServiceError {
  const metadata = new grpc.Metadata();
  for (const [k, v] of Object.entries(trailers)) metadata.set(k, v);
  return Object.assign(new Error(details), { code, details, metadata }) as grpc.ServiceError;
}

describe('classifyGrpcError', () => {
  it('decodes NOT_LEADER with its leader hint as a server answer', () => {
    const f = classifyGrpcError(
      serviceError(grpc.status.FAILED_PRECONDITION, 'not leader', {
        'tessera-reason': 'NOT_LEADER',
        'tessera-leader-id': '3',
        'tessera-leader-address': '127.0.0.1:7003',
      }),
      'Put',
      'h:1',
    );
    expect(f.kind).toBe('server');
    expect(f.error.code).toBe('NOT_LEADER');
    expect(f.error.details).toMatchObject({ leaderId: 3, leaderAddress: '127.0.0.1:7003', endpoint: 'h:1' });
    expect(f.error.retryable).toBe(true);
  });

  it('tells transport failures and timeouts from server answers', () => {
    expect(
      classifyGrpcError(serviceError(grpc.status.UNAVAILABLE, 'No connection established'), 'Get', 'h:1').kind,
    ).toBe('connection');
    expect(
      classifyGrpcError(
        serviceError(grpc.status.UNAVAILABLE, 'no quorum', { 'tessera-reason': 'UNAVAILABLE' }),
        'Get',
        'h:1',
      ).kind,
    ).toBe('server');
    const t = classifyGrpcError(serviceError(grpc.status.DEADLINE_EXCEEDED, 'Deadline exceeded'), 'Get', 'h:1');
    expect(t).toMatchObject({ kind: 'timeout', error: { code: 'DEADLINE_EXCEEDED' } });
    const rst = classifyGrpcError(serviceError(grpc.status.INTERNAL, 'Received RST_STREAM with code 2'), 'Get', 'h:1');
    expect(rst).toMatchObject({ kind: 'connection', error: { code: 'UNAVAILABLE' } });
  });

  it('maps limits and unknown reasons', () => {
    const inv = classifyGrpcError(
      serviceError(grpc.status.INVALID_ARGUMENT, 'key too big', {
        'tessera-reason': 'INVALID_ARGUMENT',
        'tessera-limit': 'keyBytesMax',
      }),
      'Put',
      'h',
    );
    expect(inv.error).toMatchObject({ code: 'INVALID_ARGUMENT', details: { limit: 'keyBytesMax' } });
    expect(inv.error.retryable).toBe(false);
    const odd = classifyGrpcError(
      serviceError(grpc.status.FAILED_PRECONDITION, 'session expired', { 'tessera-reason': 'SESSION_EXPIRED' }),
      'Put',
      'h',
    );
    expect(odd.error).toMatchObject({ code: 'SESSION_EXPIRED', details: { reason: 'SESSION_EXPIRED' } });
    expect(odd.error.retryable).toBe(false);
  });
});

describe('backoff', () => {
  it('grows exponentially up to the cap, with jitter in [cap/2, cap]', () => {
    const p = { baseMs: 10, maxMs: 50 };
    expect(backoffDelayMs(p, 0, () => 0)).toBe(5);
    expect(backoffDelayMs(p, 0, () => 0.999)).toBeCloseTo(10, 1);
    expect(backoffDelayMs(p, 2, () => 0)).toBe(20);
    expect(backoffDelayMs(p, 10, () => 0)).toBe(25);
    expect(backoffDelayMs(p, 1000, () => 1)).toBe(50);
  });
});

describe('Router', () => {
  const fakeEndpoint = (address: string): Endpoint => {
    const ep = {
      address,
      nodeId: null,
      unhealthyUntilMs: 0,
      isHealthy: (now: number): boolean => now >= ep.unhealthyUntilMs,
    };
    return ep as unknown as Endpoint;
  };

  it('rotates over healthy endpoints, skipping the one just tried, and falls back to the soonest-healthy one', () => {
    const r = new Router(['a:1', 'b:2', 'c:3'], fakeEndpoint, 8);
    const [a, b, c] = r.endpoints() as Endpoint[];
    expect([r.rotate(0, null), r.rotate(0, null), r.rotate(0, null), r.rotate(0, null)].map((e) => e.address)).toEqual([
      'a:1',
      'b:2',
      'c:3',
      'a:1',
    ]);
    a!.unhealthyUntilMs = 100;
    for (let i = 0; i < 6; i++) expect(r.rotate(50, b!).address).toBe('c:3');
    b!.unhealthyUntilMs = 300;
    c!.unhealthyUntilMs = 200;
    expect(r.rotate(50, null).address).toBe('a:1');
  });

  /** Status of node `nodeId` at `address` listing these members (all voters unless in `learners`). */
  const status = (nodeId: number, address: string, members: [number, string][], learners: number[] = []) => ({
    nodeId,
    address,
    groups: [{ members: members.map(([id, a]) => ({ id, address: a, voter: !learners.includes(id) })) }],
  });
  const endpointOf = (h: HintResolution): Endpoint => {
    if (h.kind !== 'endpoint') throw new Error(`hint resolved to ${h.kind}`);
    return h.endpoint;
  };

  it('prefers a healthy cached leader; resolves hints by address or learned id; bounds learned endpoints', () => {
    const r = new Router(['a:1'], fakeEndpoint, 2);
    r.learnStatus(
      r.find('a:1')!,
      status(1, 'a:1', [
        [1, 'a:1'],
        [2, 'b:2'],
        [3, 'c:3'],
      ]),
    );
    const hinted = endpointOf(r.resolveHint({ leaderId: 2, leaderAddress: 'b:2' }));
    expect(hinted.address).toBe('b:2');
    expect(endpointOf(r.resolveHint({ leaderId: 2 }))).toBe(hinted);
    r.setLeader(hinted);
    expect(r.pickForLeader(0, null)).toBe(hinted);
    hinted.unhealthyUntilMs = 10;
    expect(r.pickForLeader(0, null).address).toBe('a:1');
    expect(r.resolveHint({ leaderAddress: 'c:3' })).toEqual({ kind: 'none' }); // endpointsMax reached
    expect(r.resolveHint({ leaderAddress: 'not an address' })).toEqual({ kind: 'none' });
  });

  it('follows hints only to configured endpoints and voters a configured endpoint reported', () => {
    const r = new Router(['a:1', 'b:2'], fakeEndpoint, 8);
    // A forged hint: an id and an address nobody in the cluster reported.
    expect(r.resolveHint({ leaderId: 99, leaderAddress: 'evil:6666' })).toEqual({
      kind: 'unknown',
      address: 'evil:6666',
    });
    expect(r.endpoints().map((e) => e.address)).toEqual(['a:1', 'b:2']);
    // The hint did not teach the router anything: an id-only hint for 99 still resolves nowhere.
    expect(r.resolveHint({ leaderId: 99 })).toEqual({ kind: 'none' });
    // Members reported by an endpoint that is not configured teach nothing (it only identifies itself).
    const learnedElsewhere = fakeEndpoint('x:9');
    r.learnStatus(learnedElsewhere, status(5, 'x:9', [[99, 'evil:6666']]));
    expect(r.resolveHint({ leaderId: 99, leaderAddress: 'evil:6666' }).kind).toBe('unknown');
    // Learners reported by a configured endpoint are not leaders: not trusted as hint targets either.
    r.learnStatus(
      r.find('a:1')!,
      status(
        1,
        'a:1',
        [
          [1, 'a:1'],
          [2, 'b:2'],
          [3, 'c:3'],
          [99, 'evil:6666'],
        ],
        [99],
      ),
    );
    expect(r.resolveHint({ leaderId: 99, leaderAddress: 'evil:6666' }).kind).toBe('unknown');
    // A voter a configured endpoint reported is followed (and added as an endpoint).
    expect(endpointOf(r.resolveHint({ leaderId: 3, leaderAddress: 'c:3' })).address).toBe('c:3');
    // A forged address for a known id goes to the address the cluster reported for that id.
    expect(endpointOf(r.resolveHint({ leaderId: 3, leaderAddress: 'evil:6666' })).address).toBe('c:3');
    expect(r.endpoints().map((e) => e.address)).toEqual(['a:1', 'b:2', 'c:3']);
  });
});

describe('SessionPool', () => {
  it('leases distinct sessions, repeats no seq, reuses a seq after a definitive rejection, and bounds the pool', async () => {
    let n = 0;
    const pool = new SessionPool(2, () => Buffer.alloc(16, ++n));
    const a = pool.acquire() as { session: { clientId: Buffer }; tag: { seq: number; clientId: Buffer } };
    const b = pool.acquire() as typeof a;
    expect(a.session).not.toBe(b.session);
    const waiting = pool.acquire();
    expect(waiting).toBeInstanceOf(Promise);
    pool.release(a as never, true);
    const c = (await waiting) as typeof a;
    expect(c.session).toBe(a.session);
    expect(c.tag.seq).toBe(2);
    pool.release(c as never, false); // rejected definitively: seq 2 is not consumed
    const d = pool.acquire() as typeof a;
    expect(d.tag.seq).toBe(2);
    expect(pool.size()).toBe(2);
    pool.release(d as never, true);
    pool.release(b as never, true);
    const w2 = pool.acquire();
    expect(w2).not.toBeInstanceOf(Promise);
    pool.close();
    expect(() => pool.acquire()).toThrow(/closed/);
  });

  it('rejects waiters when closed', async () => {
    const pool = new SessionPool(1);
    pool.acquire();
    const waiting = pool.acquire() as Promise<unknown>;
    pool.close();
    await expect(waiting).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });
});

describe('bytes and proto location', () => {
  it('accepts strings, Buffers and Uint8Arrays; rejects anything else', () => {
    expect(toBuffer('hé', 'key')).toEqual(Buffer.from('hé', 'utf8'));
    const u = new Uint8Array([1, 2, 3]).subarray(1);
    expect(toBuffer(u, 'key')).toEqual(Buffer.from([2, 3]));
    expect(toBufferOrNull(null, 'x')).toBeNull();
    expect(() => toBuffer(5 as never, 'key')).toThrow(/key must be a string/);
  });

  it('finds the proto folder from the source tree', () => {
    expect(findProtoDir()).toMatch(/proto$/);
    expect(() => findProtoDir('/')).toThrow(/cannot find proto/);
  });
});
