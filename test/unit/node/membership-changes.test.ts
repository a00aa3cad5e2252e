/**
 * NodeHost membership changes under the guard (membership-guard.ts), with 3 in-process nodes: a new voter
 * joins as a learner and is promoted only once caught up; a change that would leave fewer live voters
 * than a quorum is refused. The reported brick: three unreachable voters added to a 3-node cluster.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TesseraError } from '../../../src/base';
import { TestCluster, sleep, putCommand as put } from './harness';

let cluster: TestCluster | null = null;
afterEach(async () => {
  await cluster?.close();
  cluster = null;
});

async function failure(p: Promise<unknown>): Promise<TesseraError> {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(TesseraError);
  return e as TesseraError;
}

describe('NodeHost membership safeguards', () => {
  it('adding three unreachable voters leaves them learners: the cluster keeps its quorum, its leader and its writes', async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    await c.onLeader((l) => l.host.propose(1, put('before-adds', '1'))); // the new leader's term entry is applied
    for (const id of [4, 5, 6]) {
      // Not through onLeader: it retries UNAVAILABLE.
      const e = await failure((await c.waitForLeader()).host.addNode(id, `127.0.0.1:${1 + id}`, false, 1000));
      expect(e.code).toBe('UNAVAILABLE');
      expect(e.message).toContain(`node ${id} did not catch up`);
    }
    const leader = await c.waitForLeader();
    const members = leader.host.groupStatus(1).members;
    expect(members.filter((m) => m.voter).map((m) => m.id)).toEqual([1, 2, 3]);
    expect(members.filter((m) => !m.voter).map((m) => m.id)).toEqual([4, 5, 6]);
    // Still a working cluster, also after the leader goes away (3 voters, 2 live: a quorum).
    await c.onLeader((l) => l.host.propose(1, put('after-adds', '1')));
    await c.stop(leader.id);
    const next = await c.waitForLeader(10_000);
    expect(next.id).not.toBe(leader.id);
    await c.onLeader((l) => l.host.propose(1, put('after-failover', '1')));
    // Calling AddNode again for a learner that still does not answer fails the same way.
    const again = await failure(next.host.addNode(4, '127.0.0.1:5', false, 600));
    expect(again.code).toBe('UNAVAILABLE');
  }, 30_000);

  it('refuses a removal that would leave fewer live voters than a quorum, and allows removing the dead voter', async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    const leader = await c.waitForLeader();
    const [dead, live] = c.running().filter((n) => n.id !== leader.id);
    await c.stop(dead!.id);
    await sleep(c.running()[0]!.config.timing.electionMs * 1.5); // the leader stops hearing from it
    const e = await failure(c.onLeader((l) => l.host.removeNode(live!.id)));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toMatch(/below the quorum/);
    expect(e.details.limit).toBe('strictReconfigCheck');
    const self = await failure(c.onLeader((l) => l.host.removeNode(l.id)));
    expect(self.code).toBe('INVALID_ARGUMENT');
    const members = await c.onLeader((l) => l.host.removeNode(dead!.id));
    expect(members.map((m) => m.id)).toEqual([leader.id, live!.id].sort((a, b) => a - b));
    await c.onLeader((l) => l.host.propose(1, put('after-remove', '1')));
  }, 30_000);

  it('adds an explicit learner without waiting, then promotes it on a second AddNode once it caught up', async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    const leader = await c.waitForLeader();
    // Node 3 leaves and comes back as a learner, then is promoted (its process keeps running with its data).
    const target = c.running().find((n) => n.id !== leader.id)!;
    const address = `127.0.0.1:${target.port}`;
    await c.onLeader((l) => l.host.removeNode(target.id));
    const asLearner = await c.onLeader((l) => l.host.addNode(target.id, address, true, 2000));
    expect(asLearner.find((m) => m.id === target.id)).toMatchObject({ voter: false });
    await c.onLeader((l) => l.host.propose(1, put('k', 'v')));
    const promoted = await c.onLeader((l) => l.host.addNode(target.id, address, false, 5000));
    expect(promoted.find((m) => m.id === target.id)).toMatchObject({ voter: true });
  }, 30_000);

  it('a retried AddNode joins the call still running (a client attempt timed out): both resolve, one promotion', async () => {
    cluster = await TestCluster.start(3);
    const c = cluster;
    const leader = await c.waitForLeader();
    const target = c.running().find((n) => n.id !== leader.id)!;
    const address = `127.0.0.1:${target.port}`;
    await c.onLeader((l) => l.host.removeNode(target.id));
    await c.onLeader((l) => l.host.addNode(target.id, address, true, 2000));
    await c.onLeader((l) => l.host.propose(1, put('k', 'v')));
    // Before the fix both calls waited for the learner to catch up and both proposed its promotion: the
    // second was refused (configChangePending, or invalidChange once the first applied).
    const l = await c.waitForLeader();
    const [first, retry] = await Promise.all([
      l.host.addNode(target.id, address, false, 5000),
      l.host.addNode(target.id, address, false, 5000),
    ]);
    expect(first.find((m) => m.id === target.id)).toMatchObject({ voter: true });
    expect(retry).toEqual(first);
    // Another change of the same node while one runs is refused as retryable, not raced.
    const adding = l.host.addNode(target.id, address, false, 5000); // a voter already: returns at once
    await adding;
    await c.onLeader((x) => x.host.removeNode(target.id));
    const slow = l.host.addNode(target.id, address, false, 1500);
    const other = await failure(l.host.removeNode(target.id));
    expect(other.code).toBe('UNAVAILABLE');
    expect(other.message).toContain('another membership change');
    await slow.catch(() => undefined);
  }, 30_000);
});
