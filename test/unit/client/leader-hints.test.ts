/**
 * The SDK follows NOT_LEADER hints only to members it learned from the cluster (issue 8): the configured
 * endpoints, or voters a configured endpoint's Status reported. A hint naming any other address triggers
 * at most one Status refresh per call; if the address is still unknown the hint is ignored and the call
 * goes on with the known endpoints. The attack this closes: forged heartbeats made followers report a fake
 * leader 99 at the attacker's address, and the SDK sent a put and a get to the attacker.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { Client } from '../../../src/client';
import { FakeCluster } from './fake-cluster';

const running: FakeCluster[] = [];
let client: Client | null = null;

afterEach(async () => {
  await client?.close();
  client = null;
  for (const c of running.splice(0)) c.stop();
});

async function cluster(n: number): Promise<FakeCluster> {
  const c = await FakeCluster.start(n);
  running.push(c);
  return c;
}

/** A NOT_LEADER answer naming node 99 at `address` (what a follower fooled by forged heartbeats says). */
function forgedHint(method: string, address: string) {
  return {
    method,
    code: grpc.status.FAILED_PRECONDITION,
    reason: 'NOT_LEADER',
    trailers: { 'tessera-leader-id': '99', 'tessera-leader-address': address },
  };
}

const statusCalls = (c: FakeCluster): number => c.nodes.reduce((n, node) => n + node.callsOf('Status'), 0);

describe('SDK leader hints', () => {
  it('never sends a put or a get to a hinted address the cluster did not report (a forged leader 99)', async () => {
    const c = await cluster(3);
    const attacker = await cluster(1); // a fake node that would happily accept writes
    const evil = attacker.node(1).address;
    c.leaderId = 1;
    c.node(1).scripted.push(forgedHint('Put', evil), forgedHint('Get', evil));
    client = new Client({ endpoints: c.endpoints(), discover: false, deadlineMs: 3000 });

    await client.put('k', 'v');
    expect((await client.get('k'))?.toString()).toBe('v');

    expect(attacker.node(1).calls).toEqual([]);
    expect(client.endpoints()).not.toContain(evil);
    expect(c.get('k')).toBe('v');
    // One refresh per call that met the unknown hint (the put, then the get).
    expect(statusCalls(c)).toBe(2);
  });

  it('refreshes the members at most once per call, however many forged hints it meets', async () => {
    const c = await cluster(3);
    const evil = '127.0.0.1:1';
    c.leaderId = 3;
    for (const node of c.nodes) node.scripted.push(forgedHint('Put', evil));
    client = new Client({ endpoints: c.endpoints(), discover: false, deadlineMs: 3000 });
    await client.put('a', '1');
    expect(statusCalls(c)).toBe(1);
    expect(client.leaderEndpoint()).toBe(c.node(3).address);
    expect(client.endpoints()).toEqual(c.endpoints());
  });

  it('follows a hint to a voter the cluster reports but the client was not configured with, after one refresh', async () => {
    const c = await cluster(2);
    c.leaderId = 2;
    client = new Client({ endpoints: [c.node(1).address], discover: false });
    await client.put('a', '1');
    expect(client.leaderEndpoint()).toBe(c.node(2).address);
    expect(c.node(1).callsOf('Status')).toBe(1);
    expect(c.node(2).callsOf('Put')).toBe(1);
    // Known now: the next redirect needs no refresh.
    c.leaderId = 1;
    await client.put('b', '2');
    c.leaderId = 2;
    await client.put('c', '3');
    expect(c.node(1).callsOf('Status')).toBe(1);
  });
});
