/**
 * SDK sessions against the fake cluster (issue 8): a session is opened (KV.OpenSession) before its first
 * write; SESSION_EXPIRED retires the session, is retried under a new one when no attempt can have applied,
 * and is thrown as a typed error (outcome unknown) otherwise; a cluster that predates OpenSession still works.
 */
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { TesseraError } from '../../../src/base';
import { Client } from '../../../src/client';
import { FakeCluster } from './fake-cluster';

let cluster: FakeCluster | null = null;
let client: Client | null = null;

afterEach(async () => {
  await client?.close();
  cluster?.stop();
  client = null;
  cluster = null;
});

async function setup(
  n: number,
  opts: Partial<ConstructorParameters<typeof Client>[0]> = {},
): Promise<{ c: FakeCluster; cl: Client }> {
  cluster = await FakeCluster.start(n);
  client = new Client({ endpoints: cluster.endpoints(), ...opts });
  return { c: cluster, cl: client };
}

async function rejection(p: Promise<unknown>): Promise<TesseraError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(TesseraError);
    return e as TesseraError;
  }
  throw new Error('expected a rejection');
}

const openCalls = (c: FakeCluster) => c.nodes.reduce((n, node) => n + node.callsOf('OpenSession'), 0);

describe('SDK sessions are opened before their first write', () => {
  it('opens each session once, with the id its writes then carry', async () => {
    const { c, cl } = await setup(3);
    for (let i = 0; i < 4; i++) await cl.put(`k${i}`, 'v');
    await Promise.all([cl.put('x', '1'), cl.put('y', '2'), cl.delete('k0')]);
    expect(c.opened).toHaveLength(cl.sessionCount());
    expect(new Set(c.opened).size).toBe(c.opened.length);
    for (const s of c.seqLog) expect(c.opened).toContain(s.clientId);
    expect(c.violations).toEqual([]);
  });

  it('a burst of concurrent writes opens its sessions together in one pipeline message', async () => {
    const { c, cl } = await setup(1);
    await Promise.all(Array.from({ length: 30 }, (_, i) => cl.put(`k${i}`, 'v')));
    expect(c.opened).toHaveLength(30);
    expect(c.node(1).pipelineOps[0]).toEqual(Array.from({ length: 30 }, () => 'openSession'));
    expect(
      c
        .node(1)
        .pipelineOps.flat()
        .filter((op) => op === 'put'),
    ).toHaveLength(30);
  });

  it('retries an OpenSession that met RESOURCE_EXHAUSTED (the per-client rate limit) until it succeeds', async () => {
    const { c, cl } = await setup(1);
    c.node(1).scripted.push({
      method: 'OpenSession',
      code: grpc.status.RESOURCE_EXHAUSTED,
      reason: 'RESOURCE_EXHAUSTED',
    });
    c.node(1).scripted.push({
      method: 'OpenSession',
      code: grpc.status.RESOURCE_EXHAUSTED,
      reason: 'RESOURCE_EXHAUSTED',
    });
    await cl.put('a', '1');
    expect(c.node(1).callsOf('OpenSession')).toBe(3);
    expect(c.get('a')).toBe('1');
  });

  it('a write whose session could not be opened was not sent: definite failure, no seq consumed', async () => {
    const { c, cl } = await setup(1, { deadlineMs: 300 });
    c.leaderId = 0; // nobody leads: OpenSession never succeeds
    const e = await rejection(cl.put('a', '1'));
    expect(e.code).toBe('DEADLINE_EXCEEDED');
    expect(e.details.indeterminate).toBe(false);
    expect(c.node(1).callsOf('Put')).toBe(0);
    c.leaderId = 1;
    await cl.put('b', '2', { deadlineMs: 3000 });
    expect(c.seqLog.map((s) => s.seq)).toEqual([1]);
  });

  it('works with a cluster that predates OpenSession (UNIMPLEMENTED, or an unknown op in a coalesced message)', async () => {
    const { c, cl } = await setup(1);
    c.requireRegistration = false;
    c.node(1).openSessionUnimplemented = true;
    await cl.put('a', '1');
    c.node(1).scripted.push({
      method: 'OpenSession',
      code: grpc.status.INVALID_ARGUMENT,
      reason: 'INVALID_ARGUMENT',
      message: 'a Multi op has no request (get, put, delete or compare_and_swap)',
    });
    c.node(1).openSessionUnimplemented = false;
    await Promise.all([cl.put('b', '2'), cl.put('c', '3')]);
    expect(['a', 'b', 'c'].map((k) => c.get(k))).toEqual(['1', '2', '3']);
  });
});

describe('SESSION_EXPIRED', () => {
  it('when no attempt can have applied, the write goes again under a new session, and applies once', async () => {
    const { c, cl } = await setup(1);
    await cl.put('a', '1');
    const first = c.seqLog[0]!.clientId;
    c.forgetSession(first); // evicted or expired on the cluster
    await cl.put('b', '2');
    expect(c.get('b')).toBe('2');
    expect(c.seqLog).toHaveLength(2);
    const second = c.seqLog[1]!.clientId;
    expect(second).not.toBe(first);
    expect(c.seqLog[1]!.seq).toBe(1);
    expect(c.opened).toEqual([first, second]);
  });

  it('when an earlier attempt may have applied, it is thrown as SESSION_EXPIRED (outcome unknown) and later writes use a new session', async () => {
    let dropped = false;
    const { c, cl } = await setup(1, {
      attemptTimeoutMs: 100,
      faultInjection: {
        dropReply: ({ method }) => {
          if (method !== 'Put' || dropped) return false;
          dropped = true;
          c.forgetSession(c.seqLog[c.seqLog.length - 1]!.clientId); // forgotten between the attempts
          return true;
        },
      },
    });
    const e = await rejection(cl.put('k', 'v1'));
    expect(e.code).toBe('SESSION_EXPIRED');
    expect(e.retryable).toBe(false);
    expect(e.details.indeterminate).toBe(true);
    expect(c.get('k')).toBe('v1'); // the first attempt did apply: the caller must not assume either way
    expect(c.seqLog).toHaveLength(1);
    await cl.put('k2', 'v2');
    expect(c.seqLog).toHaveLength(2);
    expect(c.seqLog[1]!.clientId).not.toBe(c.seqLog[0]!.clientId);
    expect(c.opened).toHaveLength(2);
  });

  it('a retired session is never opened again', async () => {
    const { c, cl } = await setup(1, { sessionsMax: 1 });
    for (let round = 0; round < 3; round++) {
      await cl.put(`k${round}`, 'v');
      c.forgetSession(c.seqLog[c.seqLog.length - 1]!.clientId);
    }
    await cl.put('last', 'v');
    expect(new Set(c.opened).size).toBe(c.opened.length);
    expect(c.opened).toHaveLength(4);
    expect(openCalls(c)).toBe(4);
    expect(cl.sessionCount()).toBe(1);
  });
});
