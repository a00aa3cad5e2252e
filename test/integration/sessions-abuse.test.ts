/**
 * Session abuse and input validation against real processes (issue 8, section 3):
 * - a session seq reused with another request is INVALID_ARGUMENT and writes nothing (it used to answer OK
 *   and write nothing for a put, INTERNAL for a delete or CAS);
 * - a write from a session the cluster never registered is SESSION_EXPIRED, whatever its seq (it used to be
 *   applied as a new session's);
 * - unknown Consistency values (7, -1) in Get and Scan are INVALID_ARGUMENT naming the field (they used to be
 *   served as linearizable reads);
 * - a flood of OpenSession calls from one client address meets RESOURCE_EXHAUSTED, and with a small
 *   --sessions-max another client's session survives it: that client's retry of an applied write gets the
 *   remembered answer and is not applied twice (it used to be evicted and its retry applied again).
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadServices } from '../../src/client';
import { TestCluster, serverBuilt } from './cluster';

const SESSIONS_MAX = 40;
const NEW_PER_SECOND = 2; // bursts of 20

let cluster: TestCluster;
let leaderPort = 0;

beforeAll(async () => {
  if (!serverBuilt()) throw new Error('integration tests need the build: run `npm run build` first (npm test does)');
  cluster = await TestCluster.start({
    nodeArgs: ['--sessions-max', String(SESSIONS_MAX), '--sessions-new-per-client-per-second', String(NEW_PER_SECOND)],
  });
  leaderPort = cluster.basePort + (await cluster.waitForLeader()).leader;
}, 60_000);

afterAll(async () => {
  await cluster?.stopAll();
}, 30_000);

interface Raw {
  err: grpc.ServiceError | null;
  res: any;
}

type Stub = Record<
  string,
  (req: unknown, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: unknown) => void) => void
>;

/** One KV client (channel) per test; each call is one attempt, no retries. */
function kv(port = leaderPort): { call: (method: string, req: unknown) => Promise<Raw>; close: () => void } {
  const Ctor = loadServices().KV;
  const c = new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as Stub;
  return {
    call: (method, req) =>
      new Promise((resolve) =>
        c[method]!.call(c, req, { deadline: Date.now() + 5000 }, (err, res) => resolve({ err, res })),
      ),
    close: () => (c as unknown as grpc.Client).close(),
  };
}

const reason = (r: Raw) => r.err?.metadata.get('tessera-reason')[0]?.toString();
const limit = (r: Raw) => r.err?.metadata.get('tessera-limit')[0]?.toString();
const newId = (tag: number) => {
  const id = Buffer.alloc(16);
  id.writeUInt32BE(tag, 0);
  id.writeUInt32BE(Date.now() % 0xffff_ffff, 12);
  return id;
};
const b = (s: string) => Buffer.from(s);

describe('session seq reuse', () => {
  it('a seq reused with another key, value, delete or CAS is INVALID_ARGUMENT and writes nothing', async () => {
    const c = kv();
    try {
      const clientId = newId(1);
      expect((await c.call('openSession', { clientId })).err).toBeNull();
      const session = { clientId, seq: 1 };
      expect((await c.call('put', { key: b('reuse/a'), value: b('first'), session })).err).toBeNull();
      const attempts: Raw[] = [
        await c.call('put', { key: b('reuse/b'), value: b('first'), session }),
        await c.call('put', { key: b('reuse/a'), value: b('second'), session }),
        await c.call('delete', { key: b('reuse/a'), session }),
        await c.call('compareAndSwap', { key: b('reuse/a'), expected: b('first'), value: b('third'), session }),
      ];
      for (const r of attempts) {
        expect(r.err?.code).toBe(grpc.status.INVALID_ARGUMENT);
        expect(r.err?.details).toBe('session seq 1 was used for a different request');
        expect(limit(r)).toBe('sessionSeq');
      }
      // the same request again is the retry it looks like: the remembered answer
      expect((await c.call('put', { key: b('reuse/a'), value: b('first'), session })).err).toBeNull();
      const a = await c.call('get', { key: b('reuse/a') });
      expect(a.res.value.toString()).toBe('first');
      expect((await c.call('get', { key: b('reuse/b') })).res.found).toBe(false);
    } finally {
      c.close();
    }
  }, 30_000);
});

describe('unknown sessions', () => {
  it('a write from a session never registered is SESSION_EXPIRED and applies nothing, whatever its seq', async () => {
    const c = kv();
    try {
      for (const seq of [5, 1]) {
        const r = await c.call('put', { key: b(`ghost/${seq}`), value: b('x'), session: { clientId: newId(2), seq } });
        expect(r.err?.code).toBe(grpc.status.FAILED_PRECONDITION);
        expect(reason(r)).toBe('SESSION_EXPIRED');
        expect((await c.call('get', { key: b(`ghost/${seq}`) })).res.found).toBe(false);
      }
      // writes without a session work as before
      expect((await c.call('put', { key: b('ghost/none'), value: b('x') })).err).toBeNull();
    } finally {
      c.close();
    }
  }, 30_000);
});

describe('enums', () => {
  it('consistency 7 or -1 in Get and Scan is INVALID_ARGUMENT naming the field', async () => {
    const c = kv();
    try {
      for (const consistency of [7, -1]) {
        for (const [method, req] of [
          ['get', { key: b('k'), consistency }],
          ['scan', { start: b('a'), end: b('z'), consistency }],
        ] as const) {
          const r = await c.call(method, req);
          expect(r.err?.code).toBe(grpc.status.INVALID_ARGUMENT);
          expect(r.err?.details).toMatch(/^consistency is /);
        }
      }
      expect((await c.call('get', { key: b('k'), consistency: 1 })).err).toBeNull();
    } finally {
      c.close();
    }
  }, 30_000);
});

describe('a session-open flood from one client address', () => {
  it('meets RESOURCE_EXHAUSTED, and another client keeps exactly-once: its retry of an applied write is not applied twice', async () => {
    // The victim opens its session and writes; its reply is "lost", and someone else then overwrites the key.
    const victim = kv();
    const attacker = kv();
    const sdk = cluster.client({ deadlineMs: 20_000 });
    try {
      await sdk.put('flood/warm', 'w'); // the SDK client's session, opened before the flood
      const clientId = newId(3);
      expect((await victim.call('openSession', { clientId })).err).toBeNull();
      const write = { key: b('flood/k'), value: b('victim-1'), session: { clientId, seq: 1 } };
      expect((await victim.call('put', write)).err).toBeNull();
      expect((await victim.call('put', { key: b('flood/k'), value: b('someone-else') })).err).toBeNull();

      // The flood: 5 * SESSIONS_MAX new sessions, all at once, from the same address.
      const flood = await Promise.all(
        Array.from({ length: 5 * SESSIONS_MAX }, (_, i) => attacker.call('openSession', { clientId: newId(1000 + i) })),
      );
      const opened = flood.filter((r) => r.err === null).length;
      const refused = flood.filter((r) => r.err?.code === grpc.status.RESOURCE_EXHAUSTED).length;
      expect(opened + refused).toBe(flood.length);
      expect(refused).toBeGreaterThan(flood.length / 2);
      expect(opened).toBeLessThan(SESSIONS_MAX - 5);
      // Meanwhile the SDK client's CAS, whose first reply is dropped, is retried and applied once.
      let drops = 0;
      const flaky = cluster.client({
        deadlineMs: 20_000,
        faultInjection: { dropReply: ({ method }) => method === 'CompareAndSwap' && drops++ === 0 },
      });
      expect(await flaky.compareAndSwap('flood/lock', null, 'me')).toEqual({ succeeded: true, current: b('me') });
      expect(drops).toBeGreaterThanOrEqual(2);

      // The victim's retry of its applied write: the remembered answer, and the value stays someone else's.
      const retry = await victim.call('put', write);
      expect(retry.err).toBeNull();
      expect((await victim.call('get', { key: b('flood/k') })).res.value.toString()).toBe('someone-else');
      expect((await sdk.get('flood/lock'))?.toString()).toBe('me');
    } finally {
      victim.close();
      attacker.close();
    }
  }, 60_000);
});
